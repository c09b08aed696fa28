#pragma once

// A small blocking HTTP/1.1 client (Boost.Beast) for integration tests, plus raw-socket
// helpers for the cases a well-behaved client cannot express.

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace earshot::testing {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  bool keep_alive = false;

  std::string header(const std::string& name) const;
};

// One kept-alive connection to 127.0.0.1:port.
class HttpConnection {
 public:
  explicit HttpConnection(unsigned short port);
  HttpResult request(const std::string& method, const std::string& target,
                     const std::vector<std::pair<std::string, std::string>>& headers = {},
                     const std::string& body = "");
  // True when the server has closed the connection (a read returns EOF/reset in `wait`).
  bool closed_by_peer(std::chrono::milliseconds wait);
  // The local port of this connection (to tell connections apart).
  unsigned short local_port() const;

 private:
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

// Convenience: one request on a fresh connection.
HttpResult http_request(unsigned short port, const std::string& method, const std::string& target,
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        const std::string& body = "");

// Sends raw bytes, then reads until the server closes or `timeout` passes; returns what came.
std::string raw_exchange(unsigned short port, const std::string& bytes,
                         std::chrono::milliseconds timeout);

// Reads from `stream` (connected, request written) until the peer closes or the stream's
// deadline passes, running `ioc`; everything received. For plain and TLS streams alike.
template <typename Stream>
std::string read_until_closed(boost::asio::io_context& ioc, Stream& stream) {
  std::string out;
  std::array<char, 4096> buf{};
  std::function<void(boost::beast::error_code, std::size_t)> on_read =
      [&](boost::beast::error_code e, std::size_t n) {
        out.append(buf.data(), n);
        if (!e) stream.async_read_some(boost::asio::buffer(buf), on_read);
      };
  stream.async_read_some(boost::asio::buffer(buf), on_read);
  ioc.run();
  return out;
}

}  // namespace earshot::testing
