#pragma once

// A connection after its upgrade to a WebSocket (Boost.Beast's websocket::stream over the
// connection's plain or TLS stream): completes the handshake, reads messages one after
// another and hands them to the route's handler, and writes what the handler sends, in
// order, from a bounded queue. Pings keep an idle connection checked; a client that stops
// answering them, or lets the queue pass its limit, is dropped.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "server/http_session.h"
#include "server/router.h"

namespace earshot::server {

// What a session may hold unwritten before its client counts as too slow.
inline constexpr std::size_t kWebSocketMaxQueuedBytes = 4 << 20;

template <class Stream>
class WebSocketSession final : public Session,
                               public WebSocketChannel,
                               public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  // `stream` is the upgraded connection; `remote` and `path` name it in logs.
  WebSocketSession(Stream&& stream, HttpServer& server, std::string remote, std::string path,
                   std::size_t max_message_bytes);
  ~WebSocketSession() override;

  // Answers the upgrade `request` (with `subprotocol` when not empty), then opens the
  // handler with `open` and starts reading.
  void accept(
      Request request, std::string subprotocol,
      std::function<std::shared_ptr<WebSocketHandler>(std::shared_ptr<WebSocketChannel>)> open);

  void start() override {}
  void close_if_idle() override;
  void end_for_shutdown() override;
  void close_now() override;

  void send_text(std::string message) override;
  void close(std::uint16_t code, std::string reason) override;

 private:
  void read_next();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void write_next();
  void start_close(std::uint16_t code, std::string reason);
  void finish();

  boost::beast::websocket::stream<Stream> ws_;
  HttpServer& server_;
  std::string remote_;
  std::string path_;
  std::size_t max_message_bytes_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<WebSocketHandler> handler_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;  // a close is queued or under way: nothing more is sent
  bool finished_ = false;
  std::uint16_t close_code_ = 1000;
  std::string close_reason_;
};

}  // namespace earshot::server
