#include "server/websocket_session.h"

#include "server/http_server.h"

namespace earshot::server {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

template <class Stream>
WebSocketSession<Stream>::WebSocketSession(Stream&& stream, HttpServer& server, std::string remote,
                                           std::string path, std::size_t max_message_bytes)
    : ws_(std::move(stream)),
      server_(server),
      remote_(std::move(remote)),
      path_(std::move(path)),
      max_message_bytes_(max_message_bytes) {}

template <class Stream>
WebSocketSession<Stream>::~WebSocketSession() {
  server_.on_session_end(this);
}

template <class Stream>
void WebSocketSession<Stream>::accept(
    Request request, std::string subprotocol,
    std::function<std::shared_ptr<WebSocketHandler>(std::shared_ptr<WebSocketChannel>)> open) {
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = std::chrono::seconds(30);
  // A ping after 30 s without traffic; a client that answers nothing for another 30 s is
  // gone (a read that returns timeout).
  timeout.idle_timeout = std::chrono::seconds(60);
  timeout.keep_alive_pings = true;
  ws_.set_option(timeout);
  ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
    res.set(http::field::server, "earshot");
    if (!subprotocol.empty()) res.set(http::field::sec_websocket_protocol, subprotocol);
  }));
  ws_.read_message_max(max_message_bytes_);
  auto req = std::make_shared<Request>(std::move(request));
  ws_.async_accept(
      *req, [self = this->shared_from_this(), req, open = std::move(open)](beast::error_code ec) {
        if (ec) {
          self->server_.log().info("{} {} WebSocket handshake failed: {}", self->remote_,
                                   self->path_, ec.message());
          self->finished_ = true;
          return;
        }
        self->server_.log().info("{} {} WebSocket open", self->remote_, self->path_);
        self->handler_ = open(self);
        if (!self->handler_) {
          self->start_close(websocket::close_code::internal_error, "no handler");
          return;
        }
        self->read_next();
      });
}

template <class Stream>
void WebSocketSession<Stream>::read_next() {
  ws_.async_read(buffer_,
                 [self = this->shared_from_this()](beast::error_code ec, std::size_t bytes) {
                   self->on_read(ec, bytes);
                 });
}

template <class Stream>
void WebSocketSession<Stream>::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      server_.log().warn("{} {} WebSocket message over {} bytes: closed (1009)", remote_, path_,
                         max_message_bytes_);
    } else if (ec == beast::error::timeout) {
      server_.log().info("{} {} WebSocket client stopped answering pings: dropped", remote_, path_);
    } else if (ec != websocket::error::closed && ec != net::error::operation_aborted) {
      server_.log().debug("{} {} WebSocket read: {}", remote_, path_, ec.message());
    }
    finish();
    return;
  }
  if (handler_) {
    const auto data = buffer_.cdata();
    handler_->on_message(std::string_view(static_cast<const char*>(data.data()), data.size()),
                         ws_.got_text());
  }
  buffer_.consume(buffer_.size());
  if (!finished_) read_next();
}

template <class Stream>
void WebSocketSession<Stream>::send_text(std::string message) {
  net::post(ws_.get_executor(),
            [self = this->shared_from_this(), m = std::move(message)]() mutable {
              if (self->closing_ || self->finished_) return;
              self->queued_bytes_ += m.size();
              if (self->queued_bytes_ > kWebSocketMaxQueuedBytes) {
                self->server_.log().warn(
                    "{} {} WebSocket client reads too slowly ({} bytes unsent): "
                    "dropped",
                    self->remote_, self->path_, self->queued_bytes_);
                self->close_now();
                return;
              }
              self->queue_.push_back(std::move(m));
              if (!self->writing_) self->write_next();
            });
}

template <class Stream>
void WebSocketSession<Stream>::write_next() {
  if (queue_.empty()) {
    writing_ = false;
    if (closing_) start_close(close_code_, close_reason_);
    return;
  }
  writing_ = true;
  ws_.text(true);
  ws_.async_write(net::buffer(queue_.front()),
                  [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                    self->queued_bytes_ -= self->queue_.front().size();
                    self->queue_.pop_front();
                    if (ec) {
                      self->writing_ = false;
                      self->finish();
                      return;
                    }
                    self->write_next();
                  });
}

template <class Stream>
void WebSocketSession<Stream>::close(std::uint16_t code, std::string reason) {
  net::post(ws_.get_executor(), [self = this->shared_from_this(), code, r = std::move(reason)] {
    if (self->closing_ || self->finished_) return;
    self->closing_ = true;
    self->close_code_ = code;
    self->close_reason_ = r;
    if (!self->writing_) self->start_close(code, r);
  });
}

template <class Stream>
void WebSocketSession<Stream>::start_close(std::uint16_t code, std::string reason) {
  closing_ = true;
  if (finished_) return;
  websocket::close_reason why(code);
  why.reason = reason.substr(0, 120);  // a close frame holds 123 bytes of reason at most
  // The client's answering close frame ends the pending read, which finishes the session.
  ws_.async_close(why, [self = this->shared_from_this()](beast::error_code ec) {
    if (ec) self->finish();
  });
}

template <class Stream>
void WebSocketSession<Stream>::finish() {
  if (finished_) return;
  finished_ = true;
  if (handler_) {
    auto h = std::move(handler_);
    h->on_closed();
  }
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  server_.log().info("{} {} WebSocket closed", remote_, path_);
}

template <class Stream>
void WebSocketSession<Stream>::close_if_idle() {
  close(websocket::close_code::going_away, "server shutting down");
}

template <class Stream>
void WebSocketSession<Stream>::end_for_shutdown() {
  net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->finish(); });
}

template <class Stream>
void WebSocketSession<Stream>::close_now() {
  net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->finish(); });
}

template class WebSocketSession<beast::tcp_stream>;
template class WebSocketSession<beast::ssl_stream<beast::tcp_stream>>;

}  // namespace earshot::server
