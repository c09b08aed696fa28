#include "server/http_session.h"

#include <limits>

#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>

#include "server/http_server.h"

namespace earshot::server {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {

// Bytes read and thrown away after an early rejection, so that the client sees the answer
// instead of a connection reset (a "lingering close").
constexpr std::size_t kDrainLimit = 1 << 20;
constexpr std::chrono::seconds kDrainTime{2};

std::string endpoint_text(const net::ip::tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket&& socket, HttpServer& server)
    : stream_(std::move(socket)), server_(server), idle_timer_(stream_.get_executor()) {
  context_.remote = endpoint_text(stream_.socket());
}

HttpSession::~HttpSession() { server_.on_session_end(this); }

void HttpSession::start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
}

void HttpSession::close_if_idle() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    if (!self->in_flight_) {
      self->force_close();
    } else {
      self->close_after_write_ = true;
    }
  });
}

void HttpSession::force_close() {
  if (closed_) return;
  closed_ = true;
  idle_timer_.cancel();
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.close();
}

// Between requests on a kept-alive connection: wait for the first byte under the idle
// deadline, then give the client header_timeout for the whole header.
void HttpSession::wait_for_request() {
  if (closed_) return;
  if (buffer_.size() > 0) {
    read_header();
    return;
  }
  idle_timer_.expires_after(server_.config().idle_timeout);
  idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->force_close();
  });
  stream_.socket().async_wait(net::ip::tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
    self->idle_timer_.cancel();
    if (ec || self->closed_) {
      self->force_close();
      return;
    }
    self->read_header();
  });
}

void HttpSession::read_header() {
  if (closed_) return;
  if (server_.shutting_down()) {
    force_close();
    return;
  }
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(server_.config().max_header_size));
  // The size limit is applied once the route and token are known (below), so that a request
  // is judged in the same order whatever its size.
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  route_ = nullptr;
  context_.token_label.clear();
  started_ = std::chrono::steady_clock::now();
  stream_.expires_after(server_.config().header_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void HttpSession::on_header(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == net::error::connection_reset || ec == net::error::operation_aborted ||
      ec == net::error::eof) {
    force_close();
    return;
  }
  if (ec == beast::error::timeout) {
    server_.log().debug("{} header not received within the timeout; closing", context_.remote);
    force_close();
    return;
  }
  in_flight_ = true;
  close_after_write_ = true;  // until the request is known to be well-formed
  if (ec == http::error::header_limit) {
    reject(http::status::request_header_fields_too_large, "Request header too large", ErrorStyle::kOriginal);
    return;
  }
  if (ec == http::error::body_limit) {
    reject(http::status::payload_too_large, "Request body too large", ErrorStyle::kOriginal);
    return;
  }
  if (ec) {
    reject(http::status::bad_request, "Malformed HTTP request", ErrorStyle::kOriginal);
    return;
  }

  const auto& req = parser_->get();
  method_ = std::string(req.method_string());
  const std::string_view target(req.target().data(), req.target().size());
  const auto q = target.find('?');
  context_.path = std::string(target.substr(0, q));
  context_.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  close_after_write_ = !req.keep_alive();

  route_ = server_.router().find(context_.path);
  const ErrorStyle style = route_ != nullptr ? route_->error_style : error_style_for_path(context_.path);

  // Authentication comes first on every route that needs it, unknown paths included, so
  // that nothing about the server is learnt without a token.
  if (route_ == nullptr || route_->authenticated) {
    auto auth = server_.auth();
    auto it = req.find(http::field::authorization);
    std::optional<std::string_view> header;
    if (it != req.end()) header = std::string_view(it->value().data(), it->value().size());
    auto decision = auth->decide(header);
    if (!decision.accepted()) {
      reject(static_cast<http::status>(decision.http_status()), decision.reason(), style);
      return;
    }
    context_.token_label = decision.label;
  }
  if (route_ == nullptr) {
    reject(http::status::not_found, "Not found: " + context_.path, style);
    return;
  }
  if (!Router::allows(*route_, req.method())) {
    reject(http::status::method_not_allowed, "Method " + method_ + " not allowed on " + context_.path, style,
           Router::allow_header(*route_));
    return;
  }
  if (const auto length = parser_->content_length(); length && *length > server_.config().request_max_size) {
    reject(http::status::payload_too_large, "Request body too large", style);
    return;
  }

  parser_->body_limit(server_.config().request_max_size);
  if (parser_->is_done()) {
    dispatch();
    return;
  }
  stream_.expires_after(server_.config().body_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code e, std::size_t) { self->on_body(e); });
}

void HttpSession::on_body(beast::error_code ec) {
  const ErrorStyle style = route_ != nullptr ? route_->error_style : ErrorStyle::kOriginal;
  if (ec == http::error::body_limit) {
    close_after_write_ = true;
    reject(http::status::payload_too_large, "Request body too large", style);
    return;
  }
  if (ec == beast::error::timeout) {
    close_after_write_ = true;
    reject(http::status::request_timeout, "Request body not received in time", style);
    return;
  }
  if (ec) {
    force_close();
    return;
  }
  dispatch();
}

void HttpSession::dispatch() {
  stream_.expires_never();
  auto& req = parser_->get();
  // The answer can come from any thread (inference workers): hop back onto this
  // connection's strand, and answer at most once.
  auto once = std::make_shared<std::atomic<bool>>(false);
  Respond respond = [self = shared_from_this(), once](Response&& res) {
    if (once->exchange(true)) return;
    net::post(self->stream_.get_executor(),
              [self, r = std::make_shared<Response>(std::move(res))]() mutable { self->send(std::move(*r)); });
  };
  try {
    route_->handler(req, context_, respond);
  } catch (const std::exception& e) {
    server_.log().error("{} {} {}: handler failed: {}", context_.remote, method_, context_.path, e.what());
    respond(error_response(http::status::internal_server_error, "Internal server error", route_->error_style,
                           req.version(), false));
  }
}

void HttpSession::reject(http::status status, std::string_view message, ErrorStyle style,
                         std::optional<std::string> allow) {
  // An unread body makes the connection unusable for another request.
  const bool body_pending = parser_ && parser_->is_header_done() && !parser_->is_done();
  if (body_pending) close_after_write_ = true;
  const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
  auto res = error_response(status, message, style, version, !close_after_write_);
  if (allow) res.set(http::field::allow, *allow);
  if (status == http::status::unauthorized) res.set(http::field::www_authenticate, "Token, Bearer");
  send(std::move(res));
}

void HttpSession::send(Response&& res) {
  if (closed_) return;
  if (server_.shutting_down()) close_after_write_ = true;
  res.set(http::field::server, "earshot");
  if (close_after_write_) res.keep_alive(false);
  // HEAD: headers only, with the length GET would have had.
  if (parser_ && parser_->is_header_done() && parser_->get().method() == http::verb::head) {
    res.prepare_payload();
    const auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  response_ = std::make_shared<Response>(std::move(res));
  stream_.expires_after(server_.config().body_timeout);
  http::async_write(stream_, *response_, [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
    self->on_write(ec, bytes);
  });
}

void HttpSession::on_write(beast::error_code ec, std::size_t bytes) {
  log_access(response_ ? response_->result_int() : 0, bytes);
  const bool keep = !ec && response_ && response_->keep_alive() && !close_after_write_ && !server_.shutting_down();
  response_.reset();
  in_flight_ = false;
  if (ec) {
    force_close();
    return;
  }
  if (!keep) {
    close_gracefully();
    return;
  }
  parser_.reset();
  wait_for_request();
}

// Half-close, then read and discard what the client still sends for a moment, so that it
// reads the answer rather than a reset.
void HttpSession::close_gracefully() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    force_close();
    return;
  }
  stream_.expires_after(kDrainTime);
  drain(0);
}

void HttpSession::drain(std::size_t drained) {
  stream_.async_read_some(net::buffer(drain_buffer_),
                          [self = shared_from_this(), drained](beast::error_code ec, std::size_t n) {
                            if (ec || self->closed_ || drained + n > kDrainLimit) {
                              self->force_close();
                              return;
                            }
                            self->drain(drained + n);
                          });
}

void HttpSession::log_access(unsigned status, std::size_t bytes) const {
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  server_.log().info("{} \"{} {}\" {} {} {:.1f}ms token={}", context_.remote, method_.empty() ? "-" : method_,
                     context_.path.empty() ? "-" : context_.path, status, bytes, ms,
                     context_.token_label.empty() ? "-" : context_.token_label);
}

}  // namespace earshot::server
