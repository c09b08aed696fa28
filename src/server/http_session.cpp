#include "server/http_session.h"

#include <cerrno>
#include <limits>
#include <type_traits>

#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "server/ascii.h"
#include "server/header_admission.h"
#include "server/http_server.h"
#include "server/limit_breach.h"
#include "server/websocket_session.h"

namespace earshot::server {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {

// Bytes read and thrown away after an early rejection, so that the client sees the answer
// instead of a connection reset (a "lingering close").
constexpr std::size_t kDrainLimit = 1 << 20;
constexpr std::chrono::seconds kDrainTime{2};
// The write deadline of the 408 that ends a body deadline: the client has already had its
// time, and the answer is small enough to fit in any socket buffer.
constexpr std::chrono::seconds kTimeoutAnswerTime{2};

std::string seconds_of(std::chrono::milliseconds d) {
  return seconds_text(std::chrono::duration<double>(d).count());
}

template <class Stream>
Stream make_stream(net::ip::tcp::socket&& socket, net::ssl::context* tls) {
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    return Stream(std::move(socket));
  } else {
    return Stream(std::move(socket), *tls);
  }
}

// The bytes of a response's start line and fields, as Beast's serializer writes them (a
// streamed answer's head, written ahead of its chunks).
std::string header_bytes(Response& head) {
  http::response_serializer<http::string_body> serializer(head);
  serializer.split(true);
  std::string out;
  beast::error_code ec;
  while (!ec && !serializer.is_header_done()) {
    serializer.next(ec, [&](beast::error_code&, const auto& buffers) {
      out += beast::buffers_to_string(buffers);
      serializer.consume(beast::buffer_bytes(buffers));
    });
  }
  return out;
}

}  // namespace

std::string endpoint_text(const net::ip::tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

template <class Stream>
BasicHttpSession<Stream>::BasicHttpSession(net::ip::tcp::socket&& socket, HttpServer& server,
                                           net::ssl::context* tls)
    : stream_(make_stream<Stream>(std::move(socket), tls)),
      server_(server),
      deadline_(stream_.get_executor()) {
  context_.remote = endpoint_text(lowest().socket());
  beast::error_code ec;
  const auto ep = lowest().socket().remote_endpoint(ec);
  remote_address_ = ec ? "?" : ep.address().to_string();
}

template <class Stream>
BasicHttpSession<Stream>::~BasicHttpSession() {
  server_.on_session_end(this);
}

template <class Stream>
void BasicHttpSession<Stream>::start() {
  net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
    if constexpr (kTls) {
      // The TLS handshake counts against the first request's header deadline.
      self->arm_deadline(Phase::kHeader, self->server_.config().header_timeout);
      self->lowest().expires_never();
      self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
        if (self->closed()) return;
        if (ec) {
          self->server_.log().debug("{} TLS handshake failed: {}", self->context_.remote,
                                    ec.message());
          self->force_close();
          return;
        }
        self->state_ = State::kIdle;
        self->read_header();
      });
    } else {
      self->read_header();
    }
  });
}

template <class Stream>
void BasicHttpSession<Stream>::close_if_idle() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] {
    if (!self->in_flight()) {
      self->force_close();
    } else {
      self->close_after_write_ = true;
    }
  });
}

template <class Stream>
void BasicHttpSession<Stream>::end_for_shutdown() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] {
    if (self->closed()) return;
    if (!self->in_flight()) {
      self->force_close();
      return;
    }
    if (self->cut_ == Cut::kNone) self->cut_ = Cut::kShutdown;
    self->close_after_write_ = true;
    const ErrorStyle style =
        self->route_ != nullptr ? self->route_->error_style : ErrorStyle::kOriginal;
    if (self->deadline_phase_ == Phase::kBody) {
      // Still reading the body: the read is cancelled and on_body answers 503.
      self->disarm_deadline();
      beast::error_code ec;
      self->lowest().socket().cancel(ec);
      return;
    }
    if (auto exchange = self->exchange_.lock(); exchange && exchange->claim()) {
      // Dispatched and not answered yet: answer now; the handler's answer is dropped.
      self->server_.log().warn(
          "{} \"{} {}\" still running at the end of the shutdown grace; "
          "answered 503",
          self->context_.remote, self->method_, self->context_.path);
      if (self->client_gone_) self->client_gone_->store(true);
      self->reject(http::status::service_unavailable, "The server is shutting down", style);
      return;
    }
    // An answer is on its way or being written: bound what is left of it.
    self->lowest().expires_after(kTimeoutAnswerTime);
  });
}

template <class Stream>
void BasicHttpSession<Stream>::close_now() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->force_close(); });
}

// One timer bounds whichever reading phase the connection is in; arming it for a phase
// replaces the previous phase's deadline.
template <class Stream>
void BasicHttpSession<Stream>::arm_deadline(Phase phase, std::chrono::milliseconds after) {
  deadline_phase_ = phase;
  const auto generation = ++deadline_generation_;
  deadline_.expires_after(after);
  deadline_.async_wait([self = this->shared_from_this(), generation](beast::error_code ec) {
    if (ec || generation != self->deadline_generation_ || self->closed()) return;
    self->on_deadline();
  });
}

template <class Stream>
void BasicHttpSession<Stream>::disarm_deadline() {
  deadline_phase_ = Phase::kNone;
  ++deadline_generation_;
  deadline_.cancel();
}

template <class Stream>
void BasicHttpSession<Stream>::on_deadline() {
  const auto phase = deadline_phase_;
  deadline_phase_ = Phase::kNone;
  const auto& config = server_.config();
  switch (phase) {
    case Phase::kNone:
      return;
    case Phase::kIdle:
      // The end of a keep-alive wait, not a breach.
      server_.log().debug("{} idle for {}; closing", context_.remote,
                          seconds_of(config.idle_timeout));
      force_close();
      return;
    case Phase::kHeader:
      // A header that is late is closed without an answer: the request is not known yet, and
      // what a slowloris client sends is not worth a reply.
      log_limit_breach(server_.log(), context_.remote,
                       {.limit = "header_timeout",
                        .configured = seconds_of(config.header_timeout),
                        .detail = state_ != State::kHandshake ? "request header incomplete"
                                                              : "TLS handshake incomplete"},
                       "closed");
      force_close();
      return;
    case Phase::kBody: {
      // The read is cancelled and its handler (on_body, or the 100 Continue write's) answers
      // 408 on the still open connection.
      cut_ = Cut::kBodyTimeout;
      std::string detail = "request body incomplete after " +
                           std::to_string(parser_ ? parser_->get().body().size() : 0) + " bytes";
      if (parser_) {
        if (const auto length = parser_->content_length()) {
          detail += " of " + std::to_string(*length);
        }
      }
      log_limit_breach(server_.log(), context_.remote,
                       {.limit = "body_timeout",
                        .configured = seconds_of(config.body_timeout),
                        .detail = std::move(detail)},
                       "answered 408 and closed");
      beast::error_code ec;
      lowest().socket().cancel(ec);
      return;
    }
  }
}

// A write gets body_timeout; an answer the server gives on its own account (the 408 of a body
// deadline, the 503 at the end of the shutdown grace) is small and gets less.
template <class Stream>
std::chrono::milliseconds BasicHttpSession<Stream>::write_time() const {
  const std::chrono::milliseconds normal = server_.config().body_timeout;
  return cut_ != Cut::kNone ? std::min<std::chrono::milliseconds>(kTimeoutAnswerTime, normal)
                            : normal;
}

template <class Stream>
void BasicHttpSession<Stream>::force_close() {
  if (closed()) return;
  state_ = State::kClosed;
  disarm_deadline();
  beast::error_code ec;
  lowest().socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  lowest().close();
}

// Between requests on a kept-alive connection: wait for the first byte under the idle
// deadline, then give the client header_timeout for the whole header.
template <class Stream>
void BasicHttpSession<Stream>::wait_for_request() {
  if (closed()) return;
  if (buffer_.size() > 0) {
    read_header();
    return;
  }
  arm_deadline(Phase::kIdle, server_.config().idle_timeout);
  lowest().socket().async_wait(net::ip::tcp::socket::wait_read,
                               [self = this->shared_from_this()](beast::error_code ec) {
                                 if (ec || self->closed()) {
                                   self->force_close();
                                   return;
                                 }
                                 self->read_header();
                               });
}

template <class Stream>
void BasicHttpSession<Stream>::read_header() {
  if (closed()) return;
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
  cut_ = Cut::kNone;
  started_ = std::chrono::steady_clock::now();
  // Already armed when a TLS handshake has just used part of this header's time.
  if (deadline_phase_ != Phase::kHeader) {
    arm_deadline(Phase::kHeader, server_.config().header_timeout);
  }
  // A previous answer's write deadline must not cut this read short.
  lowest().expires_never();
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_header(ec);
                          });
}

template <class Stream>
void BasicHttpSession<Stream>::on_header(beast::error_code ec) {
  if (closed()) return;  // the header deadline closed it (and said so)
  disarm_deadline();
  if (ec == http::error::end_of_stream || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted || ec == net::error::eof) {
    force_close();
    return;
  }
  state_ = State::kRequest;
  close_after_write_ = true;  // until the request is known to be well-formed
  const auto& config = server_.config();
  if (ec == http::error::header_limit) {
    log_limit_breach(server_.log(), context_.remote,
                     {.limit = "max_header_size",
                      .configured = std::to_string(config.max_header_size) + " bytes",
                      .detail = "request line and header fields over the limit"},
                     "answered 431");
    reject(http::status::request_header_fields_too_large, "Request header too large",
           ErrorStyle::kOriginal);
    return;
  }
  if (ec == http::error::body_limit) {
    // Only a Content-Length beyond 2^64 reaches this: the header is read without a limit.
    log_limit_breach(server_.log(), context_.remote,
                     {.limit = "request_max_size",
                      .configured = std::to_string(config.request_max_size) + " bytes",
                      .detail = "Content-Length beyond any limit"},
                     "answered 413");
    reject(http::status::payload_too_large, "Request body too large", ErrorStyle::kOriginal);
    return;
  }
  if (ec) {
    reject(http::status::bad_request, "Malformed HTTP request", ErrorStyle::kOriginal);
    return;
  }

  const auto& req = parser_->get();
  method_ = std::string(req.method_string());
  close_after_write_ = !req.keep_alive();
  std::optional<std::uint64_t> content_length;
  if (const auto length = parser_->content_length()) content_length = *length;
  auto admission = admit_header(req, content_length, server_.router(), *server_.auth(), config,
                                server_.auth_failures().blocked(remote_address_));
  route_ = admission.route;
  context_.path = std::move(admission.path);
  context_.query = std::move(admission.query);
  context_.token_label = std::move(admission.token_label);
  if (admission.refusal) {
    const HeaderRefusal& refusal = *admission.refusal;
    if (refusal.auth_failed) server_.auth_failures().record_failure(remote_address_);
    if (refusal.breach) {
      log_limit_breach(server_.log(), context_.remote, *refusal.breach,
                       "answered " + std::to_string(static_cast<unsigned>(refusal.status)));
    }
    reject(refusal.status, refusal.message, admission.style, refusal.allow, refusal.retry_after);
    return;
  }

  parser_->body_limit(config.request_max_size);
  if (parser_->is_done()) {
    dispatch();
    return;
  }
  arm_deadline(Phase::kBody, config.body_timeout);
  // A client that asked to be told before sending its body (curl does for bodies over
  // 1 MiB) hears now that route, token and size are accepted.
  const auto expect = parser_->get()[http::field::expect];
  if (beast::iequals(expect, "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                       if (self->closed()) return;
                       if (self->cut_ != Cut::kNone) {
                         self->on_body(net::error::operation_aborted);
                         return;
                       }
                       if (e) {
                         self->force_close();
                         return;
                       }
                       self->read_body();
                     });
    return;
  }
  read_body();
}

template <class Stream>
void BasicHttpSession<Stream>::read_body() {
  http::async_read(
      stream_, buffer_, *parser_,
      [self = this->shared_from_this()](beast::error_code e, std::size_t) { self->on_body(e); });
}

template <class Stream>
void BasicHttpSession<Stream>::on_body(beast::error_code ec) {
  if (closed()) return;
  const ErrorStyle style = route_ != nullptr ? route_->error_style : ErrorStyle::kOriginal;
  // Once the deadline has passed (and been logged) the answer is 408, even when the last
  // byte arrived while the cancellation was on its way.
  if (cut_ == Cut::kBodyTimeout) {
    close_after_write_ = true;
    reject(http::status::request_timeout, "Request body not received in time", style);
    return;
  }
  if (cut_ == Cut::kShutdown) {
    server_.log().warn(
        "{} \"{} {}\" body still uploading at the end of the shutdown grace; "
        "answered 503",
        context_.remote, method_, context_.path);
    reject(http::status::service_unavailable, "The server is shutting down", style);
    return;
  }
  disarm_deadline();
  if (ec == http::error::body_limit) {
    close_after_write_ = true;
    log_limit_breach(server_.log(), context_.remote,
                     {.limit = "request_max_size",
                      .configured = std::to_string(server_.config().request_max_size) + " bytes",
                      .detail = "chunked body longer than the limit"},
                     "answered 413");
    reject(http::status::payload_too_large, "Request body too large", style);
    return;
  }
  if (ec) {
    force_close();
    return;
  }
  dispatch();
}

// The Exchange a handler answers through; it may outlive the connection.
template <class HttpSession>
class SessionExchange final : public Exchange {
 public:
  SessionExchange(std::shared_ptr<HttpSession> session, std::shared_ptr<std::atomic<bool>> gone)
      : session_(std::move(session)), gone_(std::move(gone)) {}

  void respond(Response&& response) override {
    if (answered_.exchange(true)) return;
    post([r = std::make_shared<Response>(std::move(response))](HttpSession& s) {
      s.send(std::move(*r));
    });
  }
  void start_stream(Response&& head) override {
    if (answered_.exchange(true)) return;
    streaming_ = true;
    post([r = std::make_shared<Response>(std::move(head))](HttpSession& s) {
      s.stream_start(std::move(*r));
    });
  }
  void write(std::string data) override {
    if (!streaming_ || finished_) return;
    post([d = std::make_shared<std::string>(std::move(data))](HttpSession& s) {
      s.stream_write(std::move(*d));
    });
  }
  void finish() override {
    if (!streaming_ || finished_.exchange(true)) return;
    post([](HttpSession& s) { s.stream_finish(); });
  }
  // Takes the right to answer from the handler (true when nobody had answered yet).
  bool claim() { return !answered_.exchange(true); }
  std::shared_ptr<std::atomic<bool>> client_gone() const override { return gone_; }

 private:
  template <class F>
  void post(F&& f) {
    net::post(session_->stream_.get_executor(),
              [s = session_, f = std::forward<F>(f)]() mutable { f(*s); });
  }
  std::shared_ptr<HttpSession> session_;
  std::shared_ptr<std::atomic<bool>> gone_;
  std::atomic<bool> answered_{false};
  std::atomic<bool> streaming_{false};
  std::atomic<bool> finished_{false};
};

template <class Stream>
void BasicHttpSession<Stream>::dispatch() {
  disarm_deadline();
  lowest().expires_never();
  if (server_.router().websocket(context_.path) != nullptr) {
    upgrade();
    return;
  }
  auto& req = parser_->get();
  client_gone_ = std::make_shared<std::atomic<bool>>(false);
  auto exchange =
      std::make_shared<SessionExchange<BasicHttpSession>>(this->shared_from_this(), client_gone_);
  exchange_ = exchange;
  watch_disconnect();
  try {
    route_->handler(req, context_, exchange);
  } catch (const std::exception& e) {
    server_.log().error("{} {} {}: handler failed: {}", context_.remote, method_, context_.path,
                        e.what());
    exchange->respond(error_response(http::status::internal_server_error, "Internal server error",
                                     route_->error_style, req.version(), false));
  }
}

namespace {

// The subprotocol to answer an upgrade offering `offered` (comma-separated) with: "realtime"
// when offered (OpenAI's browser client offers it beside its key), else the first that is not
// a credential, else none. A browser fails the connection when the answer names none of
// those it offered.
std::string choose_subprotocol(std::string_view offered) {
  const auto names = header_list_items(offered);
  for (const auto n : names) {
    if (n == "realtime") return std::string(n);
  }
  for (const auto n : names) {
    if (!n.starts_with(kSubprotocolKeyPrefix)) return std::string(n);
  }
  return names.empty() ? "" : std::string(names.front());
}

}  // namespace

// A WebSocket route: the upgrade is checked (a WebSocket request, the route's own admission
// such as a session limit), then the connection leaves this session for a WebSocketSession.
template <class Stream>
void BasicHttpSession<Stream>::upgrade() {
  auto& req = parser_->get();
  if (!beast::websocket::is_upgrade(req)) {
    close_after_write_ = true;
    auto res = error_response(http::status::upgrade_required,
                              "this route takes a WebSocket connection (Upgrade: websocket)",
                              route_->error_style, req.version(), false);
    res.set(http::field::upgrade, "websocket");
    send(std::move(res));
    return;
  }
  WebSocketAdmission admission = (*server_.router().websocket(context_.path))(req, context_);
  if (admission.status != http::status::ok || !admission.open) {
    close_after_write_ = true;
    send(error_response(admission.status, admission.message, route_->error_style, req.version(),
                        false, {}, admission.code));
    return;
  }
  const auto offered = req[http::field::sec_websocket_protocol];
  const std::string subprotocol =
      choose_subprotocol(std::string_view(offered.data(), offered.size()));
  log_access(101, 0);
  state_ = State::kClosed;
  auto ws = std::make_shared<WebSocketSession<Stream>>(std::move(stream_), server_, context_.remote,
                                                       context_.path,
                                                       server_.config().websocket_max_message);
  server_.on_session_start(ws);
  ws->accept(parser_->release(), subprotocol, std::move(admission.open));
}

// A readable socket while the request is being handled means the client either hung up
// (a read of 0 bytes) or sent the next request early (pipelining; then stop watching).
template <class Stream>
void BasicHttpSession<Stream>::watch_disconnect() {
  watching_ = true;
  const auto generation = ++watch_generation_;
  lowest().socket().async_wait(net::ip::tcp::socket::wait_read, [self = this->shared_from_this(),
                                                                 generation](beast::error_code ec) {
    if (!self->watching_ || generation != self->watch_generation_ ||
        ec == net::error::operation_aborted)
      return;
    char probe = 0;
    const auto n =
        ::recv(self->lowest().socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (ec || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      self->watching_ = false;
      if (self->client_gone_) self->client_gone_->store(true);
      self->server_.log().info("{} \"{} {}\" client disconnected before the answer",
                               self->context_.remote, self->method_, self->context_.path);
      self->force_close();
      return;
    }
    if (n < 0) {
      self->watch_disconnect();
      return;
    }
    self->watching_ = false;
  });
}

template <class Stream>
void BasicHttpSession<Stream>::stop_watching() {
  if (!watching_) return;
  watching_ = false;
  ++watch_generation_;
  beast::error_code ec;
  lowest().socket().cancel(ec);
}

template <class Stream>
void BasicHttpSession<Stream>::stream_start(Response&& head) {
  if (closed()) return;
  stop_watching();
  state_ = State::kStreaming;
  stream_bytes_ = 0;
  stream_status_ = head.result_int();
  if (server_.shutting_down()) close_after_write_ = true;
  head.set(http::field::server, "earshot");
  head.chunked(true);
  head.keep_alive(!close_after_write_);
  head.body().clear();
  stream_queue_.push_back(header_bytes(head));
  // Streams have no overall deadline; each write gets the body timeout.
  write_next_chunk();
  watch_disconnect();
}

template <class Stream>
void BasicHttpSession<Stream>::stream_write(std::string data) {
  if (state_ != State::kStreaming || data.empty()) return;
  stream_queue_.push_back(beast::buffers_to_string(http::make_chunk(net::buffer(data))));
  write_next_chunk();
}

template <class Stream>
void BasicHttpSession<Stream>::stream_finish() {
  if (state_ != State::kStreaming) return;
  state_ = State::kStreamEnd;
  stream_queue_.push_back(beast::buffers_to_string(http::make_chunk_last()));
  write_next_chunk();
}

template <class Stream>
void BasicHttpSession<Stream>::write_next_chunk() {
  if (stream_writing_ || stream_queue_.empty() || closed()) return;
  stream_writing_ = true;
  lowest().expires_after(write_time());
  net::async_write(stream_, net::buffer(stream_queue_.front()),
                   [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                     self->stream_writing_ = false;
                     self->stream_bytes_ += n;
                     if (!self->stream_queue_.empty()) self->stream_queue_.pop_front();
                     if (ec) {
                       if (self->client_gone_) self->client_gone_->store(true);
                       if (ec == beast::error::timeout) {
                         self->log_write_timeout(self->stream_bytes_);
                       }
                       self->log_access(self->stream_status_, self->stream_bytes_);
                       self->force_close();
                       return;
                     }
                     if (!self->stream_queue_.empty()) {
                       self->write_next_chunk();
                       return;
                     }
                     if (self->state_ == State::kStreamEnd) {
                       self->log_access(self->stream_status_, self->stream_bytes_);
                       self->request_done();
                     } else {
                       self->lowest().expires_never();
                     }
                   });
}

template <class Stream>
void BasicHttpSession<Stream>::reject(http::status status, std::string_view message,
                                      ErrorStyle style, std::optional<std::string> allow,
                                      std::optional<std::string> retry_after) {
  // An unread body makes the connection unusable for another request.
  const bool body_pending = parser_ && parser_->is_header_done() && !parser_->is_done();
  if (body_pending) close_after_write_ = true;
  const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
  auto res = error_response(status, message, style, version, !close_after_write_);
  if (allow) res.set(http::field::allow, *allow);
  if (retry_after) res.set(http::field::retry_after, *retry_after);
  if (status == http::status::unauthorized) res.set(http::field::www_authenticate, "Token, Bearer");
  send(std::move(res));
}

template <class Stream>
void BasicHttpSession<Stream>::send(Response&& res) {
  if (closed()) return;
  stop_watching();
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
  lowest().expires_after(write_time());
  http::async_write(stream_, *response_,
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t bytes) {
                      self->on_write(ec, bytes);
                    });
}

template <class Stream>
void BasicHttpSession<Stream>::on_write(beast::error_code ec, std::size_t bytes) {
  // A 408's own write failing is part of the breach already logged.
  if (ec == beast::error::timeout && cut_ != Cut::kBodyTimeout) log_write_timeout(bytes);
  log_access(response_ ? response_->result_int() : 0, bytes);
  if (response_ && !response_->keep_alive()) close_after_write_ = true;
  response_.reset();
  if (ec) {
    force_close();
    return;
  }
  request_done();
}

// The answer is out: next request on this connection, or close.
template <class Stream>
void BasicHttpSession<Stream>::request_done() {
  // A streamed answer watches for a disconnect until its last chunk is out; after that a
  // closing client is the end of a kept-alive connection, not of this request.
  stop_watching();
  if (!closed()) state_ = State::kIdle;
  exchange_.reset();
  client_gone_.reset();
  if (close_after_write_ || server_.shutting_down()) {
    close_gracefully();
    return;
  }
  parser_.reset();
  wait_for_request();
}

// Half-close, then read and discard what the client still sends for a moment, so that it
// reads the answer rather than a reset.
template <class Stream>
void BasicHttpSession<Stream>::close_gracefully() {
  if constexpr (kTls) {
    // TLS: send close_notify (bounded by the drain time), then close.
    lowest().expires_after(kDrainTime);
    stream_.async_shutdown(
        [self = this->shared_from_this()](beast::error_code) { self->force_close(); });
    return;
  }
  beast::error_code ec;
  lowest().socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (ec) {
    force_close();
    return;
  }
  lowest().expires_after(kDrainTime);
  drain(0);
}

template <class Stream>
void BasicHttpSession<Stream>::drain(std::size_t drained) {
  stream_.async_read_some(net::buffer(drain_buffer_), [self = this->shared_from_this(), drained](
                                                          beast::error_code ec, std::size_t n) {
    if (ec || self->closed() || drained + n > kDrainLimit) {
      self->force_close();
      return;
    }
    self->drain(drained + n);
  });
}

template <class Stream>
void BasicHttpSession<Stream>::log_access(unsigned status, std::size_t bytes) const {
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
          .count();
  if (const auto& observe = server_.request_observer())
    observe(route_ != nullptr ? route_->path : "other", status, ms / 1000);
  server_.log().info("{} \"{} {}\" {} {} {:.1f}ms token={}", context_.remote,
                     method_.empty() ? "-" : method_, context_.path.empty() ? "-" : context_.path,
                     status, bytes, ms, context_.token_label.empty() ? "-" : context_.token_label);
}

template <class Stream>
void BasicHttpSession<Stream>::log_write_timeout(std::size_t bytes) {
  log_limit_breach(server_.log(), context_.remote,
                   {.limit = "body_timeout",
                    .configured = seconds_of(server_.config().body_timeout),
                    .detail = "the client did not read the answer (" + std::to_string(bytes) +
                              " bytes written)"},
                   "closed");
}

template class BasicHttpSession<beast::tcp_stream>;
template class BasicHttpSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace earshot::server
