#include "server/http_server.h"

#include <boost/beast/core.hpp>

#include "server/http_session.h"
#include "server/limit_breach.h"

namespace earshot::server {

namespace beast = boost::beast;

namespace {

// The answer to a connection over max_connections, given before its request is read: the
// original server's error shape (the route is not known yet), and close.
Response too_many_connections() {
  auto res = error_response(http::status::service_unavailable, "Too many open connections",
                            ErrorStyle::kOriginal, 11, false);
  res.set(http::field::server, "earshot");
  res.set(http::field::retry_after, "1");
  return res;
}
// After the shutdown grace: how long the 503s given to requests still in flight have to be
// written before every connection is closed.
constexpr std::chrono::seconds kLastAnswersTime{3};

}  // namespace

HttpServer::HttpServer(HttpConfig config, Router router, std::shared_ptr<const TokenAuth> auth,
                       std::shared_ptr<spdlog::logger> log)
    : config_(std::move(config)),
      router_(std::move(router)),
      log_(std::move(log)),
      auth_failures_(config_.auth_failure_limit, config_.auth_failure_window),
      auth_(std::move(auth)),
      ioc_(std::make_unique<net::io_context>(std::max(1, config_.io_threads))),
      work_(net::make_work_guard(*ioc_)),
      shutdown_timer_(std::make_unique<net::steady_timer>(*ioc_)) {}

HttpServer::~HttpServer() {
  destroying_ = true;
  ioc_->stop();
  acceptors_.clear();
  shutdown_timer_.reset();
  work_.reset();
  ioc_.reset();
}

void HttpServer::listen() {
  if (!config_.tls_certificate.empty()) {
    // TLS 1.2 and later only; OpenSSL's default cipher list.
    tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    tls_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                      net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                      net::ssl::context::no_tlsv1_1 | net::ssl::context::no_compression |
                      net::ssl::context::single_dh_use);
    beast::error_code ec;
    tls_->use_certificate_chain_file(config_.tls_certificate.string(), ec);
    if (ec) {
      throw std::runtime_error("cannot load the TLS certificate " +
                               config_.tls_certificate.string() + ": " + ec.message());
    }
    tls_->use_private_key_file(config_.tls_private_key.string(), net::ssl::context::pem, ec);
    if (ec) {
      throw std::runtime_error("cannot load the TLS private key " +
                               config_.tls_private_key.string() + ": " + ec.message());
    }
  }
  tcp::resolver resolver(*ioc_);
  beast::error_code ec;
  auto results = resolver.resolve(config_.host, std::to_string(config_.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw std::runtime_error("cannot resolve host '" + config_.host + "': " + ec.message());
  std::uint16_t port = config_.port;
  for (const auto& entry : results) {
    tcp::endpoint ep = entry.endpoint();
    if (port != 0) ep.port(port);
    auto acceptor = std::make_unique<tcp::acceptor>(*ioc_);
    acceptor->open(ep.protocol(), ec);
    if (ec)
      throw std::runtime_error("cannot open a socket for " + ep.address().to_string() + ": " +
                               ec.message());
    acceptor->set_option(net::socket_base::reuse_address(true), ec);
    // "::" serves IPv4 clients too, as a dual-stack socket.
    if (ep.address().is_v6() && ep.address().to_v6().is_unspecified())
      acceptor->set_option(net::ip::v6_only(false), ec);
    acceptor->bind(ep, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + ep.address().to_string() + " port " +
                               std::to_string(ep.port()) + ": " + ec.message());
    }
    acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error("cannot listen: " + ec.message());
    port = acceptor->local_endpoint().port();
    acceptors_.push_back(std::move(acceptor));
  }
  if (acceptors_.empty())
    throw std::runtime_error("no address to listen on for host '" + config_.host + "'");
  for (auto& a : acceptors_) accept(*a);
}

std::vector<tcp::endpoint> HttpServer::endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) {
    beast::error_code ec;
    auto ep = a->local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

void HttpServer::accept(tcp::acceptor& acceptor) {
  acceptor.async_accept(
      net::make_strand(*ioc_), [this, &acceptor](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || shutting_down_) return;
        if (ec) {
          // Out of descriptors and the like: say so and try again shortly rather than spin.
          log_->warn("accept failed: {}", ec.message());
          auto timer = std::make_shared<net::steady_timer>(*ioc_, std::chrono::milliseconds(100));
          timer->async_wait([this, &acceptor, timer](beast::error_code) { accept(acceptor); });
          return;
        }
        std::size_t open = 0;
        {
          std::lock_guard lock(sessions_mutex_);
          open = sessions_.size();
        }
        if (open >= config_.max_connections) {
          log_limit_breach(*log_, endpoint_text(socket),
                           {.limit = "max_connections",
                            .configured = std::to_string(config_.max_connections),
                            .detail = std::to_string(open) + " connections open"},
                           "answered 503 and closed");
          struct Refusal {
            tcp::socket socket;
            Response response;
          };
          auto r = std::make_shared<Refusal>(Refusal{std::move(socket), too_many_connections()});
          http::async_write(r->socket, r->response, [r](beast::error_code, std::size_t) {
            beast::error_code ignored;
            r->socket.shutdown(tcp::socket::shutdown_both, ignored);
            r->socket.close(ignored);
          });
        } else {
          std::shared_ptr<Session> session;
          if (tls_) {
            session = std::make_shared<TlsHttpSession>(std::move(socket), *this, tls_.get());
          } else {
            session = std::make_shared<PlainHttpSession>(std::move(socket), *this, nullptr);
          }
          on_session_start(session);
          session->start();
        }
        accept(acceptor);
      });
}

void HttpServer::on_session_start(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.emplace(session.get(), session);
}

void HttpServer::on_session_end(Session* session) {
  bool last = false;
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(session);
    last = sessions_.empty();
  }
  if (last && shutting_down_ && !destroying_) net::post(*ioc_, [this] { finish_shutdown(); });
}

std::vector<std::shared_ptr<Session>> HttpServer::open_sessions() const {
  std::vector<std::shared_ptr<Session>> open;
  std::lock_guard lock(sessions_mutex_);
  for (const auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) open.push_back(std::move(s));
  }
  return open;
}

void HttpServer::run() {
  std::vector<std::thread> threads;
  for (int i = 1; i < config_.io_threads; ++i) threads.emplace_back([this] { ioc_->run(); });
  ioc_->run();
  for (auto& t : threads) t.join();
}

void HttpServer::shutdown() {
  net::post(*ioc_, [this] {
    if (shutting_down_.exchange(true)) return;
    for (auto& a : acceptors_) {
      beast::error_code ec;
      a->close(ec);
    }
    const auto open = open_sessions();
    log_->info("shutting down: {} open connection(s), waiting up to {:.1f}s for requests in flight",
               open.size(), std::chrono::duration<double>(config_.shutdown_grace).count());
    for (auto& s : open) s->close_if_idle();
    if (open.empty()) {
      finish_shutdown();
      return;
    }
    shutdown_timer_->expires_after(config_.shutdown_grace);
    shutdown_timer_->async_wait([this](beast::error_code ec) {
      if (ec) return;
      const auto left = open_sessions();
      log_->warn("shutdown deadline reached; answering and closing {} connection(s)", left.size());
      // Requests still in flight are answered 503 now; their answers get a short moment to
      // be written, then whatever is left is closed.
      for (auto& s : left) s->end_for_shutdown();
      shutdown_timer_->expires_after(kLastAnswersTime);
      shutdown_timer_->async_wait([this](beast::error_code e) {
        if (e) return;
        for (auto& s : open_sessions()) s->close_now();
        finish_shutdown();
      });
    });
  });
}

void HttpServer::finish_shutdown() {
  shutdown_timer_->cancel();
  work_.reset();
  ioc_->stop();
}

void HttpServer::set_auth(std::shared_ptr<const TokenAuth> auth) {
  std::lock_guard lock(auth_mutex_);
  auth_ = std::move(auth);
}

std::shared_ptr<const TokenAuth> HttpServer::auth() const {
  std::lock_guard lock(auth_mutex_);
  return auth_;
}

}  // namespace earshot::server
