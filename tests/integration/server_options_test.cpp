// Server options that need a server of their own: the connection cap, JSON logs, /metrics on
// a separate listener, and curl as the client for the routes and formats.

#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(ServerOptions, ConnectionsOverTheCapGet503AndClose) {
  ServerProcess server(make_config({"token1"}, R"("max_connections": 2)"));
  HttpConnection a(server.port());
  HttpConnection b(server.port());
  EXPECT_EQ(a.request("GET", "/ping", {{"Authorization", "Token token1"}}).status, 200);
  EXPECT_EQ(b.request("GET", "/ping", {{"Authorization", "Token token1"}}).status, 200);
  const auto third = raw_exchange(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  EXPECT_NE(third.find("HTTP/1.1 503"), std::string::npos) << third;
  EXPECT_NE(third.find("Too many open connections"), std::string::npos);
  // The body is whole: as long as its Content-Length says, and JSON in the original shape.
  const auto head_end = third.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << third;
  const std::regex length_header("\r\nContent-Length: (\\d+)\r\n", std::regex::icase);
  std::smatch length;
  const std::string head = third.substr(0, head_end + 2);
  ASSERT_TRUE(std::regex_search(head, length, length_header)) << third;
  const std::string body = third.substr(head_end + 4);
  EXPECT_EQ(std::stoul(length[1].str()), body.size()) << third;
  const auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["Error"], "Too many open connections");
  EXPECT_EQ(j["status"], "failed");
  // The breach is logged once, with the client's address.
  const auto marker = limit_breach_marker("max_connections", "2");
  ASSERT_TRUE(server.wait_for_log(marker, 5s)) << server.log();
  const auto lines = server.log_lines(marker);
  ASSERT_EQ(lines.size(), 1u) << server.log();
  EXPECT_NE(lines[0].find("127.0.0.1:"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("breached: 2 connections open; answered 503 and closed"),
            std::string::npos)
      << lines[0];
}

TEST(ServerOptions, JsonLogLinesAreJsonObjects) {
  ServerProcess server(
      R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["secret-token"]}},
                           "log":{"format":"json","level":"debug"}})");
  http_request(server.port(), "GET", "/ping", {{"Authorization", "Token secret-token"}});
  ASSERT_TRUE(server.wait_for_log("\\\"GET /ping\\\" 200", 5s)) << server.log();
  std::istringstream lines(server.log());
  std::string line;
  int parsed = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const auto j = json::parse(line);  // throws on a line that is not JSON
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    ++parsed;
  }
  EXPECT_GE(parsed, 3);
  EXPECT_EQ(server.log().find("secret-token"), std::string::npos);
}

TEST(ServerOptions, MetricsOnASeparateListenerWithoutToken) {
  // A free port for the metrics listener (port 0 there means "on the main port").
  unsigned short metrics_port = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor probe(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    metrics_port = probe.local_endpoint().port();
  }
  ServerProcess server(R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["t"]},
                                     "metrics":{"host":"127.0.0.1","port":)" +
                       std::to_string(metrics_port) + "}}}");
  const auto r = http_request(metrics_port, "GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("earshot_queue_depth 0"), std::string::npos) << r.body;
  // Not on the main port any more, and nothing else on the metrics port.
  EXPECT_EQ(http_request(server.port(), "GET", "/metrics", {{"Authorization", "Token t"}}).status,
            404);
  EXPECT_EQ(http_request(metrics_port, "GET", "/ping", {{"Authorization", "Token t"}}).status, 404);
}

TEST(ServerOptions, TlsWithACertificateMadeAtTestTime) {
  const auto dir = binary_dir() / "test-tmp" / "tls";
  std::filesystem::create_directories(dir);
  const auto cert = dir / "cert.pem";
  const auto key = dir / "key.pem";
  auto [code, out] = run_command(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
      "subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      key.string() + " -out " + cert.string());
  ASSERT_EQ(code, 0) << out;
  ServerProcess server(
      R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["token1"],
                           "tls":{"certificate":")" +
      cert.string() + R"(","private_key":")" + key.string() + R"("}}}})");
  EXPECT_NE(server.log().find("listening on https://127.0.0.1:"), std::string::npos);
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port());
  std::tie(code, out) = run_command("curl -sS --cacert " + cert.string() +
                                    " -H 'Authorization: Token token1' " + url + "/ping");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, R"({"text":"pong","status":"success"})");
  // Keep-alive over TLS: two requests on one connection.
  std::tie(code, out) =
      run_command("curl -sS --cacert " + cert.string() + " -H 'Authorization: Token token1' " +
                  url + "/ping " + url + "/health");
  EXPECT_EQ(out, R"({"text":"pong","status":"success"}{"status":"ok"})");
  std::tie(code, out) = run_command("curl -sS --cacert " + cert.string() + " " + url + "/ping");
  EXPECT_NE(out.find("Missing authorization header"), std::string::npos) << out;
  // Plain HTTP to the TLS port gets no answer, and the server goes on serving.
  const auto plain = raw_exchange(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  EXPECT_EQ(plain.find("200"), std::string::npos);
  std::tie(code, out) = run_command("curl -sS --cacert " + cert.string() + " " + url + "/health");
  EXPECT_EQ(out, R"({"status":"ok"})");
}

TEST(ServerOptions, BadTlsFilesStopStartup) {
  const auto dir = binary_dir() / "test-tmp" / "tls-bad";
  std::filesystem::create_directories(dir);
  const auto cfg = dir / "config.json";
  std::ofstream(cfg) << R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["t"],
                           "tls":{"certificate":"/nonexistent/cert.pem","private_key":"/nonexistent/key.pem"}}}})";
  const auto [code, out] =
      run_command(earshot_binary().string() + " serve --config " + cfg.string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("/nonexistent/cert.pem"), std::string::npos) << out;
}

TEST(ServerOptions, CurlForEachRouteAndFormat) {
  const auto dir = binary_dir() / "test-tmp" / "curl";
  std::filesystem::create_directories(dir);
  const auto model = write_scripted_model(dir / "ggml-scripted.bin");
  const auto wav = dir / "tone.wav";
  std::ofstream(wav, std::ios::binary) << tone_wav(3.0);
  ServerProcess server(
      R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["token1"]}},"models":{"s":")" +
      model.path.string() + R"("}})");
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string text = model.text.substr(model.text.find_first_not_of(' '));
  auto curl = [&](const std::string& args) {
    return run_command("curl -sS -w '\\n%{http_code} %{content_type}' " + args);
  };

  auto [code, out] = curl("-H 'Authorization: Token token1' " + base + "/ping");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find(R"({"text":"pong","status":"success"})"), std::string::npos) << out;

  std::tie(code, out) = curl("-X GET -H 'Authorization: Token token1' --data-binary @" +
                             wav.string() + " " + base + "/stt");
  EXPECT_NE(out.find("\"text\":\"" + text + "\""), std::string::npos) << out;
  EXPECT_NE(out.find("\n200 application/json"), std::string::npos) << out;

  for (const std::string format : {"json", "text", "srt", "verbose_json", "vtt"}) {
    std::tie(code, out) = curl("-H 'Authorization: Bearer token1' -F file=@" + wav.string() +
                               " -F model=whisper-1 -F response_format=" + format + " " + base +
                               "/v1/audio/transcriptions");
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find(text), std::string::npos) << format << ": " << out;
    EXPECT_NE(out.find("\n200 "), std::string::npos) << format << ": " << out;
  }
  std::tie(code, out) = curl("-H 'Authorization: Bearer token1' -F file=@" + wav.string() +
                             " -F model=whisper-1 " + base + "/v1/audio/translations");
  EXPECT_NE(out.find("\n200 application/json"), std::string::npos) << out;
  std::tie(code, out) = curl("-H 'Authorization: Bearer token1' -F file=@" + wav.string() + " " +
                             base + "/v1/audio/detect-language");
  EXPECT_NE(out.find("\"probabilities\""), std::string::npos) << out;
  std::tie(code, out) = curl("-H 'Authorization: Bearer token1' " + base + "/v1/models");
  EXPECT_NE(out.find("\"whisper-1\""), std::string::npos) << out;
  std::tie(code, out) =
      curl("-H 'Authorization: Bearer token1' -F file=@" + wav.string() +
           " -F model=whisper-1 -F stream=true " + base + "/v1/audio/transcriptions");
  EXPECT_NE(out.find("transcript.text.done"), std::string::npos) << out;
  std::tie(code, out) = curl(base + "/health");
  EXPECT_NE(out.find("\n200 application/json"), std::string::npos) << out;
  std::tie(code, out) = curl("-H 'Authorization: Token token1' " + base + "/metrics");
  EXPECT_NE(out.find("earshot_http_requests_total"), std::string::npos) << out;
}

}  // namespace
}  // namespace earshot::testing
