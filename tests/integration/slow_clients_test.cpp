// Slow clients: 500 connections trickling their header or body one byte at a time hold no
// more than their own connection. A normal client is served in its usual time meanwhile,
// and the server closes every trickler at its header deadline, or answers it 408 at its body
// deadline and closes, logging each breach once.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void raise_fd_limit(rlim_t wanted) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= wanted) return;
  r.rlim_cur = std::min(wanted, r.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &r);
}

// A connection that sends `prefix` at once, then one byte of `trickle` per tick, and keeps
// what the server answers until the server closes it.
struct Trickler {
  int fd = -1;
  std::string trickle;
  std::size_t sent = 0;
  std::string received;
  bool closed = false;
  Clock::time_point closed_at;
};

int connect_loopback(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One round: a byte to each open trickler, and whatever the server sent back.
void tick(std::vector<Trickler>& tricklers) {
  char buf[4096];
  for (auto& t : tricklers) {
    if (t.closed) continue;
    for (;;) {
      const auto n = ::recv(t.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        t.received.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        t.closed = true;
        t.closed_at = Clock::now();
      }
      break;
    }
    if (t.closed || t.sent >= t.trickle.size()) continue;
    if (::send(t.fd, t.trickle.data() + t.sent, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) ++t.sent;
  }
}

TEST(SlowClients, TricklersDoNotDelayANormalClientAndAreClosedAtTheirDeadline) {
  raise_fd_limit(4096);
  const auto dir = binary_dir() / "test-tmp";
  std::filesystem::create_directories(dir);
  const auto model = write_scripted_model(dir / "ggml-scripted-slow.bin");
  const std::string config =
      R"({"server": {"http": {"host": "127.0.0.1", "port": 0, "allowed_tokens": ["token1"],
          "header_timeout": 2, "body_timeout": 3}},
          "models": {"scripted": ")" +
      model.path.string() + R"("},
          "engine": {"workers": 1, "threads_per_worker": 1}})";
  ServerProcess server(config);
  const std::vector<std::pair<std::string, std::string>> token = {
      {"Authorization", "Token token1"}};
  const auto audio = tone_wav(1.0);

  // The normal client's usual time: the slowest of a few pings and transcriptions.
  auto timed = [&](const std::string& method, const std::string& target, const std::string& body) {
    const auto start = Clock::now();
    const auto res = http_request(server.port(), method, target, token, body);
    EXPECT_EQ(res.status, 200) << res.body;
    return Clock::now() - start;
  };
  Clock::duration usual_ping{}, usual_stt{};
  for (int i = 0; i < 3; ++i) {
    usual_ping = std::max(usual_ping, timed("GET", "/ping", ""));
    usual_stt = std::max(usual_stt, timed("POST", "/stt", audio));
  }

  // 250 tricklers of a header that never ends, 250 of a body that never completes.
  std::vector<Trickler> tricklers(500);
  const auto opened = Clock::now();
  for (std::size_t i = 0; i < tricklers.size(); ++i) {
    auto& t = tricklers[i];
    t.fd = connect_loopback(server.port());
    ASSERT_GE(t.fd, 0) << "connection " << i << ": " << std::strerror(errno);
    std::string prefix;
    if (i % 2 == 0) {
      t.trickle =
          "GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token token1\r\nX-Slow: " +
          std::string(4000, 'a');
    } else {
      prefix =
          "POST /stt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token token1\r\nContent-Length: "
          "100000\r\n\r\n";
      t.trickle = std::string(100000, 'x');
    }
    if (!prefix.empty()) {
      ASSERT_EQ(::send(t.fd, prefix.data(), prefix.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(prefix.size()));
    }
  }

  std::atomic<bool> stop{false};
  std::thread trickling([&] {
    while (!stop) {
      tick(tricklers);
      const bool all_closed = std::all_of(tricklers.begin(), tricklers.end(),
                                          [](const Trickler& t) { return t.closed; });
      if (all_closed || Clock::now() - opened > 30s) break;
      std::this_thread::sleep_for(50ms);
    }
  });

  // While they trickle, the normal client is served as usual (with slack for a busy machine).
  std::this_thread::sleep_for(500ms);
  const auto ping = timed("GET", "/ping", "");
  const auto stt = timed("POST", "/stt", audio);
  EXPECT_LT(ping, usual_ping * 3 + 1s);
  EXPECT_LT(stt, usual_stt * 3 + 2s);

  trickling.join();
  stop = true;
  std::size_t header_closed = 0;
  std::size_t body_closed_408 = 0;
  for (std::size_t i = 0; i < tricklers.size(); ++i) {
    const auto& t = tricklers[i];
    ::close(t.fd);
    ASSERT_TRUE(t.closed) << "trickler " << i << " still open after 30 s";
    const auto after = t.closed_at - opened;
    if (i % 2 == 0) {
      // The header deadline (2 s) closes it without an answer.
      EXPECT_LT(after, 2s + 5s) << "trickler " << i;
      EXPECT_LT(t.sent, t.trickle.size());
      ++header_closed;
    } else {
      // The body deadline (3 s) answers 408 with its JSON error, then closes.
      EXPECT_GE(after, 3s - 100ms) << "trickler " << i;
      EXPECT_LT(after, 3s + 5s) << "trickler " << i;
      EXPECT_TRUE(t.received.starts_with("HTTP/1.1 408"))
          << "trickler " << i << ": " << t.received.substr(0, 100);
      EXPECT_TRUE(t.received.ends_with(
          "\r\n\r\n{\"Error\":\"Request body not received in time\",\"status\":\"failed\"}"))
          << "trickler " << i << ": " << t.received;
      if (t.received.starts_with("HTTP/1.1 408")) ++body_closed_408;
    }
  }
  EXPECT_EQ(header_closed, 250u);
  EXPECT_EQ(body_closed_408, 250u);
  // Each breach logged once (the lines precede the closes, but may still be in the pipe).
  auto breaches = [&](const std::string& limit, const std::string& configured) {
    const auto marker = limit_breach_marker(limit, configured);
    for (int i = 0; i < 50 && server.log_lines(marker).size() < 250; ++i)
      std::this_thread::sleep_for(20ms);
    return server.log_lines(marker).size();
  };
  EXPECT_EQ(breaches("header_timeout", "2 s"), 250u);
  EXPECT_EQ(breaches("body_timeout", "3 s"), 250u);
  std::printf("slow clients: %zu header tricklers closed, %zu body tricklers answered 408\n",
              header_closed, body_closed_408);
  // And the server still serves.
  timed("GET", "/ping", "");
}

}  // namespace
}  // namespace earshot::testing
