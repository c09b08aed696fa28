// Request limits over HTTP (docs/security.md): each breach is a clear JSON error, the
// request has its access line, and the breach one log line naming the limit, its configured
// value and the client.

#include <array>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace net = boost::asio;
namespace beast = boost::beast;

// The one log line of a breach of `limit` with its configured value; it names the client.
std::string breach_line(const ServerProcess& server, const std::string& limit,
                        const std::string& configured) {
  const auto marker = limit_breach_marker(limit, configured);
  if (!server.wait_for_log(marker, 5s)) {
    ADD_FAILURE() << "no line with '" << marker << "' in:\n" << server.log();
    return "";
  }
  const auto lines = server.log_lines(marker);
  EXPECT_EQ(lines.size(), 1u) << server.log();
  EXPECT_NE(lines.front().find("127.0.0.1:"), std::string::npos) << lines.front();
  EXPECT_EQ(lines.front().find("token1"), std::string::npos) << lines.front();
  return lines.front();
}

// A raw answer split into its head and body.
struct RawAnswer {
  std::string head;
  std::string body;
};

RawAnswer split(const std::string& raw) {
  const auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return {raw, ""};
  return {raw.substr(0, end + 2), raw.substr(end + 4)};
}

// raw_exchange over TLS (any certificate accepted): sends `bytes` after the handshake, then
// reads until the server closes or `timeout` passes.
std::string tls_exchange(unsigned short port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  net::io_context ioc;
  net::ssl::context tls(net::ssl::context::tls_client);
  tls.set_verify_mode(net::ssl::verify_none);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, tls);
  beast::get_lowest_layer(stream).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.handshake(net::ssl::stream_base::client);
  net::write(stream, net::buffer(bytes));
  beast::get_lowest_layer(stream).expires_after(timeout);
  return read_until_closed(ioc, stream);
}

// A body that stops after 10 of its 1000 bytes.
std::string stalled_body_request(const std::string& target, const std::string& extra_headers = "") {
  return "POST " + target +
         " HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\nContent-Length: 1000\r\n" +
         extra_headers + "\r\n" + std::string(10, 'x');
}

std::string form(std::size_t parts, std::size_t field_size) {
  std::string body;
  for (std::size_t i = 0; i < parts; ++i) {
    body += "--lim\r\nContent-Disposition: form-data; name=\"chunking_strategy\"\r\n\r\nauto\r\n";
  }
  body += "--lim\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n" +
          std::string(field_size, 'w') + "\r\n--lim--\r\n";
  return body;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST(Limits, MultipartPartsAndFieldSizeAre400JsonAndLoggedOnce) {
  ServerProcess server(make_config({"token1"}));
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Token token1"}, {"Content-Type", "multipart/form-data; boundary=lim"}};

  const auto parts =
      http_request(server.port(), "POST", "/v1/audio/transcriptions", headers, form(64, 10));
  EXPECT_EQ(parts.status, 400);
  EXPECT_NE(json::parse(parts.body)["error"]["message"].get<std::string>().find(
                "too many multipart parts (limit 64)"),
            std::string::npos)
      << parts.body;

  const auto field =
      http_request(server.port(), "POST", "/v1/audio/translations", headers, form(1, 65537));
  EXPECT_EQ(field.status, 400);
  EXPECT_NE(json::parse(field.body)["error"]["message"].get<std::string>().find(
                "'prompt' is larger than 65536"),
            std::string::npos)
      << field.body;

  ASSERT_TRUE(server.wait_for_log("\"POST /v1/audio/translations\" 400", 5s)) << server.log();
  EXPECT_EQ(count(server.log(), "\"POST /v1/audio/transcriptions\" 400"), 1u) << server.log();
  EXPECT_EQ(count(server.log(), "\"POST /v1/audio/translations\" 400"), 1u) << server.log();
  EXPECT_NE(breach_line(server, "multipart max_parts", "64 parts").find("answered 400"),
            std::string::npos);
  EXPECT_NE(breach_line(server, "multipart max_field_size", "65536 bytes").find("'prompt'"),
            std::string::npos);
}

TEST(Limits, ManyHeaderFieldsAre431AndLoggedOnce) {
  ServerProcess server(make_config({"token1"}));
  std::string request = "GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\n";
  for (int i = 0; i < 5000; ++i) request += "a: b\r\n";  // 30 KB of fields, over 16 KiB
  request += "\r\n";
  const auto reply = raw_exchange(server.port(), request, 5s);
  EXPECT_NE(reply.find("HTTP/1.1 431"), std::string::npos) << reply.substr(0, 200);
  EXPECT_NE(reply.find("\"status\":\"failed\""), std::string::npos) << reply.substr(0, 400);
  ASSERT_TRUE(server.wait_for_log(" 431 ", 5s)) << server.log();
  EXPECT_EQ(count(server.log(), " 431 "), 1u) << server.log();
  EXPECT_NE(breach_line(server, "max_header_size", "16384 bytes").find("answered 431"),
            std::string::npos);
}

TEST(Limits, BodyOverRequestMaxSizeIs413AndLoggedOnce) {
  ServerProcess server(make_config({"token1"}, R"("request_max_size": 1000)"));
  // Refused by its Content-Length, before the body is read.
  const auto declared = http_request(server.port(), "POST", "/stt",
                                     {{"Authorization", "Token token1"}}, std::string(5000, 'x'));
  EXPECT_EQ(declared.status, 413);
  EXPECT_EQ(json::parse(declared.body)["Error"], "Request body too large");
  const auto line = breach_line(server, "request_max_size", "1000 bytes");
  EXPECT_NE(line.find("Content-Length 5000; answered 413"), std::string::npos) << line;

  // A chunked body is cut off at the limit.
  std::string chunked =
      "POST /stt HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) chunked += "200\r\n" + std::string(512, 'x') + "\r\n";
  chunked += "0\r\n\r\n";
  const auto reply = split(raw_exchange(server.port(), chunked, 5s));
  EXPECT_NE(reply.head.find("HTTP/1.1 413"), std::string::npos) << reply.head;
  EXPECT_EQ(json::parse(reply.body)["Error"], "Request body too large");
  ASSERT_TRUE(server.wait_for_log("chunked body longer than the limit", 5s)) << server.log();
  EXPECT_EQ(server.log_lines(limit_breach_marker("request_max_size", "1000 bytes")).size(), 2u)
      << server.log();
}

TEST(Limits, StalledBodyGets408JsonAtTheBodyDeadlineThenClose) {
  ServerProcess server(make_config({"token1"}, R"("body_timeout": 1)"));
  // The original routes' error shape.
  auto start = Clock::now();
  auto reply = split(raw_exchange(server.port(), stalled_body_request("/stt"), 10s));
  auto waited = Clock::now() - start;
  EXPECT_NE(reply.head.find("HTTP/1.1 408"), std::string::npos) << reply.head;
  EXPECT_NE(reply.head.find("Connection: close"), std::string::npos) << reply.head;
  EXPECT_EQ(json::parse(reply.body),
            json::parse(R"({"Error":"Request body not received in time","status":"failed"})"));
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 4s);  // answered at the deadline, closed right after
  const auto line = breach_line(server, "body_timeout", "1 s");
  EXPECT_NE(line.find("request body incomplete after 10 bytes of 1000; answered 408"),
            std::string::npos)
      << line;
  ASSERT_TRUE(server.wait_for_log("\"POST /stt\" 408", 5s)) << server.log();

  // OpenAI's routes answer in their envelope; a client that asked for 100 Continue gets it,
  // then the 408.
  start = Clock::now();
  const auto raw = raw_exchange(
      server.port(), stalled_body_request("/v1/audio/transcriptions", "Expect: 100-continue\r\n"),
      10s);
  waited = Clock::now() - start;
  ASSERT_TRUE(raw.starts_with("HTTP/1.1 100 Continue\r\n\r\n")) << raw;
  reply = split(raw.substr(raw.find("\r\n\r\n") + 4));
  EXPECT_NE(reply.head.find("HTTP/1.1 408"), std::string::npos) << reply.head;
  EXPECT_EQ(json::parse(reply.body)["error"]["message"], "Request body not received in time");
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 4s);
  ASSERT_TRUE(server.wait_for_log("\"POST /v1/audio/transcriptions\" 408", 5s)) << server.log();
  EXPECT_EQ(server.log_lines(limit_breach_marker("body_timeout", "1 s")).size(), 2u)
      << server.log();

  // The server goes on serving.
  EXPECT_EQ(http_request(server.port(), "GET", "/ping", {{"Authorization", "Token token1"}}).status,
            200);
}

TEST(Limits, BodyStillUploadingWhenTheShutdownGraceEndsGets503) {
  ServerProcess server(make_config({"token1"}, R"("body_timeout": 60, "shutdown_grace": 1)"));
  const auto start = Clock::now();
  auto reply = std::async(std::launch::async, [&] {
    return split(raw_exchange(server.port(), stalled_body_request("/stt"), 20s));
  });
  // The header has long been read when the signal comes; the body never completes.
  std::this_thread::sleep_for(500ms);
  server.signal(SIGTERM);
  const auto answer = reply.get();
  const auto waited = Clock::now() - start;
  EXPECT_NE(answer.head.find("HTTP/1.1 503"), std::string::npos) << answer.head;
  EXPECT_NE(answer.head.find("Connection: close"), std::string::npos) << answer.head;
  EXPECT_EQ(json::parse(answer.body),
            json::parse(R"({"Error":"The server is shutting down","status":"failed"})"));
  EXPECT_LT(waited, 6s);  // at the end of the grace, not at the body deadline
  EXPECT_EQ(server.wait_exit(10s), 0);
  EXPECT_NE(
      server.log().find("body still uploading at the end of the shutdown grace; answered 503"),
      std::string::npos)
      << server.log();
}

TEST(Limits, StalledHeaderIsClosedAtTheHeaderDeadlineAndLoggedOnce) {
  ServerProcess server(make_config({"token1"}, R"("header_timeout": 1)"));
  const auto start = Clock::now();
  const auto reply = raw_exchange(server.port(), "GET /ping HTTP/1.1\r\nHost: x\r\n", 10s);
  const auto waited = Clock::now() - start;
  EXPECT_EQ(reply, "");  // closed without an answer (docs/security.md)
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 4s);
  const auto line = breach_line(server, "header_timeout", "1 s");
  EXPECT_NE(line.find("request header incomplete; closed"), std::string::npos) << line;
}

TEST(Limits, StalledBodyGets408OverTls) {
  const auto dir = binary_dir() / "test-tmp" / "tls-408";
  std::filesystem::create_directories(dir);
  const auto cert = dir / "cert.pem";
  const auto key = dir / "key.pem";
  const auto [code, out] =
      run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " +
                  key.string() + " -out " + cert.string());
  ASSERT_EQ(code, 0) << out;
  ServerProcess server(
      R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["token1"],
                           "body_timeout":1,"tls":{"certificate":")" +
      cert.string() + R"(","private_key":")" + key.string() + R"("}}}})");
  const auto start = Clock::now();
  const auto reply = split(tls_exchange(server.port(), stalled_body_request("/stt"), 10s));
  const auto waited = Clock::now() - start;
  EXPECT_NE(reply.head.find("HTTP/1.1 408"), std::string::npos) << reply.head;
  EXPECT_NE(reply.head.find("Connection: close"), std::string::npos) << reply.head;
  EXPECT_EQ(json::parse(reply.body),
            json::parse(R"({"Error":"Request body not received in time","status":"failed"})"));
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 5s);
  const auto line = breach_line(server, "body_timeout", "1 s");
  EXPECT_NE(line.find("answered 408"), std::string::npos) << line;
}

}  // namespace
}  // namespace earshot::testing
