#pragma once

// A WebSocket client of the realtime route for tests (Boost.Beast), with a deadline on
// every read so that a test fails rather than hangs.

#include <chrono>
#include <optional>
#include <string>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace earshot::testing {

class RealtimeClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to 127.0.0.1:port and upgrades `target`; `error` holds why when it fails
  // (for a refused upgrade, the HTTP status in the message).
  RealtimeClient(unsigned short port, const std::string& target, const Headers& headers)
      : ws_(ioc_) {
    namespace beast = boost::beast;
    boost::system::error_code ec;
    beast::get_lowest_layer(ws_).connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
    if (ec) {
      error_ = ec.message();
      return;
    }
    ws_.set_option(
        beast::websocket::stream_base::decorator([headers](beast::websocket::request_type& req) {
          for (const auto& [k, v] : headers) req.set(k, v);
        }));
    ws_.read_message_max(64u << 20);
    ws_.handshake(response_, "127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) {
      error_ = ec.message();
      return;
    }
    open_ = true;
  }

  bool open() const { return open_; }
  const std::string& error() const { return error_; }
  const boost::beast::websocket::response_type& response() const { return response_; }

  void send(const nlohmann::json& event) { send_text(event.dump()); }
  void send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(boost::asio::buffer(text));
  }
  void send_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(boost::asio::buffer(bytes));
    ws_.text(true);
  }

  // The next event, or nullopt when none comes within `timeout` or the connection closed.
  std::optional<nlohmann::json> next(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (!open_) return std::nullopt;
    boost::beast::flat_buffer buffer;
    boost::system::error_code result = boost::asio::error::would_block;
    ws_.async_read(buffer, [&](boost::system::error_code ec, std::size_t) { result = ec; });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (result == boost::asio::error::would_block) {
      boost::beast::get_lowest_layer(ws_).cancel();
      ioc_.restart();
      ioc_.run();
      return std::nullopt;
    }
    if (result) {
      open_ = false;
      close_code_ = ws_.reason().code;
      return std::nullopt;
    }
    return nlohmann::json::parse(boost::beast::buffers_to_string(buffer.data()));
  }

  // Events until one of `type` (returned; the others into `seen`), or nullopt.
  std::optional<nlohmann::json> wait_for(
      const std::string& type, std::vector<nlohmann::json>* seen = nullptr,
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto e = next(std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now()));
      if (!e) return std::nullopt;
      if ((*e)["type"] == type) return e;
      if (seen != nullptr) seen->push_back(*e);
    }
    return std::nullopt;
  }

  // The close code the server sent, once next() saw the connection end.
  int close_code() const { return close_code_; }

  void close() {
    if (!open_) return;
    boost::system::error_code ec;
    ws_.close(boost::beast::websocket::close_code::normal, ec);
    open_ = false;
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::websocket::response_type response_;
  bool open_ = false;
  int close_code_ = 0;
  std::string error_;
};

}  // namespace earshot::testing
