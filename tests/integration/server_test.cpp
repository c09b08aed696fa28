// Integration tests: the real `earshot serve` on an ephemeral loopback port, spoken to over
// real sockets.

#include <signal.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kAuth = {{"Authorization", "Token token1"}};

// Runs `earshot args...`, returns {exit status, stdout+stderr}.
std::pair<int, std::string> run_earshot(const std::string& args) {
  const std::string cmd = earshot_binary().string() + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (auto n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

nlohmann::json json_of(const HttpResult& r) {
  return nlohmann::json::parse(r.body);
}

class Server : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(make_config({"token1", "second"}));
  }
  unsigned short port() const { return server_->port(); }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(Server, PingAnswersPongAsTheOriginal) {
  const auto r = http_request(port(), "GET", "/ping", kAuth);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(json_of(r), (nlohmann::json{{"text", "pong"}, {"status", "success"}}));
}

TEST_F(Server, HealthNeedsNoToken) {
  const auto r = http_request(port(), "GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json_of(r), (nlohmann::json{{"status", "ok"}}));
}

TEST_F(Server, EveryAuthDecision) {
  struct Case {
    std::optional<std::string> header;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {std::nullopt, 401, "Missing authorization header"},
      {"Token token1", 200, ""},
      {"Bearer second", 200, ""},
      {"token token1", 200, ""},
      {"bearer token1", 200, ""},
      {"Token  token1", 403, "Invalid authorization header"},
      {"Token token1 x", 403, "Invalid authorization header"},
      {"Token", 403, "Invalid authorization header"},
      {"Token ", 403, "Invalid authorization header"},
      {"Basic token1", 403, "Invalid token scheme"},
      {"Token token2", 403, "Token doesn't exist"},
      {"Token " + std::string(8000, 'x'), 403, "Token doesn't exist"},
  };
  for (const auto& c : cases) {
    Headers h;
    if (c.header) h.emplace_back("Authorization", *c.header);
    const auto r = http_request(port(), "GET", "/ping", h);
    EXPECT_EQ(r.status, c.status) << (c.header ? *c.header : "<none>");
    if (c.status != 200) {
      const auto j = json_of(r);
      EXPECT_EQ(j["Error"], c.reason);
      EXPECT_EQ(j["status"], "failed");
    }
  }
  // Tokens never reach the log; their labels do. (Access lines are written once the answer
  // has gone out, so wait for the last one.)
  EXPECT_TRUE(server_->wait_for_log("token=token-2", 5s));
  const auto log = server_->log();
  EXPECT_EQ(log.find("token1"), std::string::npos) << log;
  EXPECT_EQ(log.find("second"), std::string::npos);
  EXPECT_NE(log.find("token=token-1"), std::string::npos);
  EXPECT_NE(log.find("token=token-2"), std::string::npos);
}

TEST_F(Server, HeaderTooLargeIs431) {
  const auto reply = raw_exchange(port(),
                                  "GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token " +
                                      std::string(20000, 'x') + "\r\n\r\n",
                                  3s);
  EXPECT_NE(reply.find("HTTP/1.1 431"), std::string::npos) << reply.substr(0, 200);
  EXPECT_EQ(http_request(port(), "GET", "/ping", kAuth).status, 200);
}

TEST_F(Server, UnknownPathIs404AfterAuthentication) {
  EXPECT_EQ(http_request(port(), "GET", "/nope").status, 401);
  const auto r = http_request(port(), "GET", "/nope?x=1", kAuth);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json_of(r)["status"], "failed");
  // Under /v1/ errors take OpenAI's envelope.
  const auto v1 = http_request(port(), "GET", "/v1/nothing", kAuth);
  EXPECT_EQ(v1.status, 404);
  EXPECT_TRUE(json_of(v1)["error"]["message"].is_string());
}

TEST_F(Server, WrongMethodIs405WithAllow) {
  const auto r = http_request(port(), "POST", "/ping", kAuth, "x");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  EXPECT_TRUE(json_of(r)["Error"].is_string());
  EXPECT_EQ(http_request(port(), "DELETE", "/health").status, 405);
  const auto head = http_request(port(), "HEAD", "/ping", kAuth);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

TEST_F(Server, KeepAliveReusesTheConnection) {
  HttpConnection c(port());
  for (int i = 0; i < 5; ++i) {
    const auto r = c.request("GET", "/ping", kAuth);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
  }
  // An auth failure without a body keeps the connection usable too.
  EXPECT_EQ(c.request("GET", "/ping").status, 401);
  EXPECT_EQ(c.request("GET", "/ping", kAuth).status, 200);
}

TEST_F(Server, HundredConcurrentConnections) {
  std::vector<std::unique_ptr<HttpConnection>> conns;
  for (int i = 0; i < 100; ++i) conns.push_back(std::make_unique<HttpConnection>(port()));
  std::vector<std::future<int>> results;
  for (auto& c : conns) {
    results.push_back(
        std::async(std::launch::async, [&c] { return c->request("GET", "/ping", kAuth).status; }));
  }
  int ok = 0;
  for (auto& f : results) ok += f.get() == 200 ? 1 : 0;
  EXPECT_EQ(ok, 100);
}

class SmallServer : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        make_config({"token1"}, R"("request_max_size": 1000, "header_timeout": 1, "idle_timeout": 1,
                                   "shutdown_grace": 5)"));
  }
  unsigned short port() const { return server_->port(); }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(SmallServer, ContentLengthOverTheLimitIs413BeforeTheBody) {
  // Only the header is sent: the answer must come without the body ever arriving.
  const auto reply = raw_exchange(port(),
                                  "GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\n"
                                  "Content-Length: 1000000\r\n\r\n",
                                  3s);
  EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"status\":\"failed\""), std::string::npos);
}

TEST_F(SmallServer, ChunkedBodyIsCutOffAtTheLimit) {
  std::string req =
      "GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\nTransfer-Encoding: "
      "chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i)
    req += "64\r\n" + std::string(100, 'a') + "\r\n";  // 2000 bytes in all
  req += "0\r\n\r\n";
  const auto reply = raw_exchange(port(), req, 3s);
  EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply;
  // Within the limit the same request is served.
  std::string small =
      "GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\nTransfer-Encoding: "
      "chunked\r\n"
      "Connection: close\r\n\r\n64\r\n" +
      std::string(100, 'a') + "\r\n0\r\n\r\n";
  EXPECT_NE(raw_exchange(port(), small, 3s).find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(SmallServer, ExpectContinueIsAnsweredBeforeTheBody) {
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), port()});
  net::write(
      s, net::buffer(std::string("GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\n"
                                 "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")));
  std::array<char, 64> buf{};
  const auto n = s.read_some(net::buffer(buf));
  EXPECT_EQ(std::string(buf.data(), n), "HTTP/1.1 100 Continue\r\n\r\n");
  net::write(s, net::buffer(std::string("hello")));
  std::string reply;
  boost::system::error_code ec;
  while (reply.find("pong") == std::string::npos && !ec) {
    const auto m = s.read_some(net::buffer(buf), ec);
    reply.append(buf.data(), m);
  }
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
  // Refused requests get their answer instead of 100 Continue.
  const auto refused = raw_exchange(port(),
                                    "GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    "Expect: 100-continue\r\n\r\n",
                                    2s);
  EXPECT_EQ(refused.find("100 Continue"), std::string::npos);
  EXPECT_NE(refused.find("HTTP/1.1 401"), std::string::npos) << refused;
}

TEST_F(SmallServer, BodyWithinTheLimitIsRead) {
  // GET with a body, as the original clients send audio.
  const auto r = http_request(port(), "GET", "/ping", kAuth, std::string(1000, 'b'));
  EXPECT_EQ(r.status, 200);
}

TEST_F(SmallServer, HeaderTimeoutClosesASlowClient) {
  HttpConnection slow(port());
  const auto start = std::chrono::steady_clock::now();
  // Nothing is sent: the idle/header deadline (1 s) closes it.
  EXPECT_TRUE(slow.closed_by_peer(5s));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_LT(waited, 4s);
  // A client that sends part of a header is closed too, and the server still serves others.
  const auto partial = raw_exchange(port(), "GET /ping HTTP/1.1\r\nHost: x\r\n", 5s);
  EXPECT_EQ(partial.find("200"), std::string::npos);
  EXPECT_EQ(http_request(port(), "GET", "/ping", kAuth).status, 200);
}

TEST_F(SmallServer, IdleKeepAliveConnectionIsClosed) {
  HttpConnection c(port());
  EXPECT_EQ(c.request("GET", "/ping", kAuth).status, 200);
  EXPECT_TRUE(c.closed_by_peer(5s));
}

TEST_F(SmallServer, GracefulShutdownFinishesARequestInFlight) {
  // A request whose body is still arriving when SIGTERM comes is answered, then the server
  // exits 0; new connections are refused meanwhile.
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), port()});
  const std::string head =
      "GET /ping HTTP/1.1\r\nHost: x\r\nAuthorization: Token token1\r\nContent-Length: 10\r\n\r\n";
  net::write(s, net::buffer(head + "12345"));
  std::this_thread::sleep_for(200ms);
  server_->signal(SIGTERM);
  ASSERT_TRUE(server_->wait_for_log("shutting down", 3s));
  net::write(s, net::buffer(std::string("67890")));
  std::string reply;
  boost::system::error_code ec;
  std::array<char, 1024> buf{};
  for (;;) {
    const auto n = s.read_some(net::buffer(buf), ec);
    reply.append(buf.data(), n);
    if (ec) break;
  }
  EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
  EXPECT_NE(reply.find("pong"), std::string::npos);
  EXPECT_EQ(server_->wait_exit(5s), 0);
}

TEST_F(SmallServer, SigIntStopsAnIdleServerWithExitZero) {
  server_->signal(SIGINT);
  EXPECT_EQ(server_->wait_exit(5s), 0);
}

TEST(ServerAuthLimit, RepeatedFailuresFromOneAddressGet429) {
  ServerProcess server(
      make_config({"token1"}, R"("auth_failure_limit": 3, "auth_failure_window": 30)"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        http_request(server.port(), "GET", "/ping", {{"Authorization", "Token wrong"}}).status,
        403);
  }
  const auto blocked =
      http_request(server.port(), "GET", "/ping", {{"Authorization", "Token wrong"}});
  EXPECT_EQ(blocked.status, 429);
  const int retry = std::stoi(blocked.header("retry-after"));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 30);
  EXPECT_NE(json_of(blocked)["Error"].get<std::string>().find("Too many failed authentication"),
            std::string::npos);
  // While blocked, even a valid token waits (a guesser cannot tell a hit from a miss)...
  EXPECT_EQ(http_request(server.port(), "GET", "/ping", kAuth).status, 429);
  // ...but routes without authentication are served.
  EXPECT_EQ(http_request(server.port(), "GET", "/health").status, 200);
  // Each refused request logs the breach once, with the client and never a token.
  const auto marker = limit_breach_marker("auth_failure_limit", "3 failures per 30 s");
  ASSERT_TRUE(server.wait_for_log(marker, 5s)) << server.log();
  const auto lines = server.log_lines(marker);
  EXPECT_EQ(lines.size(), 2u) << server.log();
  for (const auto& line : lines) {
    EXPECT_NE(line.find("127.0.0.1:"), std::string::npos) << line;
    EXPECT_NE(line.find("; answered 429"), std::string::npos) << line;
  }
  EXPECT_EQ(server.log().find("wrong"), std::string::npos);
  EXPECT_EQ(server.log().find("token1"), std::string::npos);
}

TEST(ServerReload, SighupReloadsTokensAndKeepsConnections) {
  ServerProcess server(make_config({"old"}));
  const Headers old_token = {{"Authorization", "Token old"}};
  const Headers new_token = {{"Authorization", "Token new"}};
  HttpConnection kept(server.port());
  EXPECT_EQ(kept.request("GET", "/ping", old_token).status, 200);

  std::ofstream(server.config_path()) << make_config({"new"});
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("reloaded 1 token", 5s)) << server.log();
  EXPECT_EQ(http_request(server.port(), "GET", "/ping", old_token).status, 403);
  EXPECT_EQ(http_request(server.port(), "GET", "/ping", new_token).status, 200);
  // The connection opened before the reload is still served, under the new list.
  EXPECT_EQ(kept.request("GET", "/ping", new_token).status, 200);

  // A bad new list is rejected and the current one stays in force.
  std::ofstream(server.config_path()) << R"({"server":{"http":{"allowed_tokens":[]}}})";
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("kept the current tokens", 5s)) << server.log();
  EXPECT_EQ(http_request(server.port(), "GET", "/ping", new_token).status, 200);
  EXPECT_EQ(server.log().find("Token new"), std::string::npos);
}

TEST(ServerAddresses, ListensOnIpv6AndIpv4) {
  ServerProcess server(R"({"server":{"http":{"host":"::","port":0,"allowed_tokens":["token1"]}}})");
  namespace net = boost::asio;
  for (const char* addr : {"::1", "127.0.0.1"}) {
    net::io_context ioc;
    net::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect({net::ip::make_address(addr), server.port()}, ec);
    ASSERT_FALSE(ec) << addr << ": " << ec.message();
    net::write(s, net::buffer(
                      std::string("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
    std::string reply;
    std::array<char, 512> buf{};
    for (;;) {
      const auto n = s.read_some(net::buffer(buf), ec);
      reply.append(buf.data(), n);
      if (ec) break;
    }
    EXPECT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << addr;
  }
}

TEST(ServerCommandLine, BadConfigStopsStartup) {
  const auto dir = binary_dir() / "test-tmp";
  std::filesystem::create_directories(dir);
  const auto bad = dir / "bad-config.json";
  std::ofstream(bad) << R"({"server":{"http":{"allowed_tokens":["a"],"port":"x"}}})";
  auto [code, out] = run_earshot("serve --config " + bad.string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find(bad.string()), std::string::npos) << out;
  EXPECT_NE(out.find("server.http.port"), std::string::npos) << out;

  std::tie(code, out) = run_earshot("serve --config " + (dir / "missing.json").string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("missing.json"), std::string::npos);

  const auto no_tokens = dir / "no-tokens.json";
  std::ofstream(no_tokens) << R"({"server":{"http":{"port":1}}})";
  std::tie(code, out) = run_earshot("serve --config " + no_tokens.string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("allowed_tokens"), std::string::npos) << out;
}

TEST(ServerCommandLine, EnvironmentNamesTheConfigAndFlagsOverrideIt) {
  const auto dir = binary_dir() / "test-tmp";
  std::filesystem::create_directories(dir);
  const auto cfg = dir / "env-config.json";
  std::ofstream(cfg)
      << R"({"server":{"http":{"host":"127.0.0.1","port":1,"allowed_tokens":["t"]}}})";
  ::setenv("EARSHOT_CONFIG", cfg.c_str(), 1);
  // The file says port 1 (privileged or taken); the flag moves it to a free port.
  ServerProcess server("", {"--port", "0"});
  ::unsetenv("EARSHOT_CONFIG");
  EXPECT_EQ(http_request(server.port(), "GET", "/ping", {{"Authorization", "Token t"}}).status,
            200);
}

TEST(ServerCommandLine, VersionAndHelp) {
  auto [code, out] = run_earshot("--version");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("earshot "), std::string::npos);
  std::tie(code, out) = run_earshot("--help");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("serve"), std::string::npos);
  std::tie(code, out) = run_earshot("serve --help");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("--config"), std::string::npos);
}

}  // namespace
}  // namespace earshot::testing
