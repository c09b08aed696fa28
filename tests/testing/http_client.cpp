#include "testing/http_client.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <limits>

namespace earshot::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string HttpResult::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpConnection::HttpConnection(unsigned short port) : stream_(ioc_) {
  stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
}

HttpResult HttpConnection::request(const std::string& method, const std::string& target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::string& body) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
  stream_.expires_after(std::chrono::seconds(60));
  http::write(stream_, req);
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.skip(method == "HEAD");
  http::read(stream_, buffer_, parser);
  auto res = parser.release();
  HttpResult out;
  out.status = res.result_int();
  out.body = res.body();
  out.keep_alive = res.keep_alive();
  for (const auto& f : res) {
    std::string name(f.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    out.headers[name] = std::string(f.value());
  }
  return out;
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds wait) {
  stream_.expires_after(wait);
  char c = 0;
  bool closed = false;
  stream_.async_read_some(net::buffer(&c, 1), [&](beast::error_code e, std::size_t) {
    closed = e == net::error::eof || e == net::error::connection_reset;
  });
  ioc_.restart();
  ioc_.run();
  return closed;
}

unsigned short HttpConnection::local_port() const {
  return stream_.socket().local_endpoint().port();
}

HttpResult http_request(unsigned short port, const std::string& method, const std::string& target,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        const std::string& body) {
  HttpConnection c(port);
  return c.request(method, target, headers, body);
}

std::string raw_exchange(unsigned short port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.expires_after(timeout);
  beast::error_code ec;
  net::write(stream.socket(), net::buffer(bytes), ec);
  return read_until_closed(ioc, stream);
}

}  // namespace earshot::testing
