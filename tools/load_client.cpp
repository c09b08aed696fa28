#include "load_client.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <numbers>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>
#include <sys/time.h>

namespace earshot::tools {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Outcome {
  LoadKind kind = LoadKind::kValid;
  int status = 0;  // 0: no answer
  std::string error;
  double ms = 0;
};

// The bytes of one request of `kind`; `n` varies the route and the content.
std::string make_request(const LoadPlan& plan, LoadKind kind, std::size_t n) {
  const std::string host = "Host: " + plan.host + ":" + std::to_string(plan.port) + "\r\n";
  auto post = [&](const std::string& target, const std::string& auth, const std::string& type,
                  const std::string& body) {
    return "POST " + target + " HTTP/1.1\r\n" + host + "Authorization: " + auth +
           "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  };
  const std::string good = "Token " + plan.token;
  switch (kind) {
    case LoadKind::kValid:
      if (n % 2 == 0) return post("/stt?language=en", good, "audio/wav", plan.audio);
      {
        const std::string b = "earshot-load-boundary";
        const std::string body =
            "--" + b + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--" +
            b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n" +
            "Content-Type: audio/wav\r\n\r\n" + plan.audio + "\r\n--" + b + "--\r\n";
        return post("/v1/audio/transcriptions", good, "multipart/form-data; boundary=" + b, body);
      }
    case LoadKind::kUnauthorised:
      // Unknown tokens and malformed headers, with and without a body.
      if (n % 3 == 0)
        return "GET /ping HTTP/1.1\r\n" + host + "Authorization: Token not-a-token-" +
               std::to_string(n) + "\r\n\r\n";
      if (n % 3 == 1) return "GET /ping HTTP/1.1\r\n" + host + "\r\n";
      return post("/stt", "Bearer wrong", "audio/wav", plan.audio);
    case LoadKind::kMalformedAudio: {
      std::mt19937 rng(static_cast<unsigned>(n));
      std::string junk(4096 + n % 1024, '\0');
      for (auto& c : junk) c = static_cast<char>(rng());
      if (n % 2 == 0) junk.replace(0, 4, "RIFF");  // a plausible start that goes nowhere
      return post("/stt", good, "audio/wav", junk);
    }
    case LoadKind::kOversize:
      // Announced, not sent: the server refuses on Content-Length before reading the body.
      return "POST /stt HTTP/1.1\r\n" + host + "Authorization: " + good +
             "\r\nContent-Type: audio/wav\r\n" +
             "Content-Length: " + std::to_string(plan.oversize_bytes) + "\r\n\r\n";
  }
  return {};
}

void set_timeouts(tcp::socket& socket, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// One client's connection from one source address, reconnected when the server closes it.
class Connection {
 public:
  Connection(const LoadPlan& plan, std::string source)
      : plan_(plan), source_(std::move(source)), socket_(ioc_) {}

  Outcome send(LoadKind kind, std::size_t n) {
    Outcome out;
    out.kind = kind;
    const auto start = Clock::now();
    beast::error_code ec;
    if (!socket_.is_open()) {
      const auto address = net::ip::make_address(plan_.host);
      socket_.open(address.is_v6() ? tcp::v6() : tcp::v4(), ec);
      if (!ec) socket_.bind({net::ip::make_address(source_), 0}, ec);
      if (!ec) socket_.connect({address, plan_.port}, ec);
      if (ec) {
        close();
        out.error = "connect: " + ec.message();
        return out;
      }
      set_timeouts(socket_, plan_.io_timeout);
    }
    const auto request = make_request(plan_, kind, n);
    net::write(socket_, net::buffer(request), ec);
    // A server that answers before reading the whole body may reset the rest of the write;
    // the answer can still be waiting to be read.
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code read_ec;
    http::read(socket_, buffer_, parser, read_ec);
    out.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (read_ec) {
      out.error =
          (ec ? "write: " + ec.message() + ", " : std::string()) + "read: " + read_ec.message();
      close();
      return out;
    }
    out.status = static_cast<int>(parser.get().result_int());
    if (!parser.get().keep_alive() || ec) close();
    return out;
  }

  void close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    buffer_.clear();
  }

 private:
  const LoadPlan& plan_;
  std::string source_;
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

const char* load_kind_name(LoadKind kind) {
  switch (kind) {
    case LoadKind::kValid:
      return "valid";
    case LoadKind::kUnauthorised:
      return "unauthorised";
    case LoadKind::kMalformedAudio:
      return "malformed-audio";
    case LoadKind::kOversize:
      return "oversize";
  }
  return "?";
}

LoadReport run_load(const LoadPlan& plan) {
  const auto address = net::ip::make_address(plan.host);
  if (!address.is_loopback() || !net::ip::make_address(plan.unauthorised_source).is_loopback()) {
    throw std::invalid_argument("earshot-load only uses loopback addresses");
  }
  std::vector<LoadKind> pattern;
  pattern.insert(pattern.end(), plan.valid, LoadKind::kValid);
  pattern.insert(pattern.end(), plan.unauthorised, LoadKind::kUnauthorised);
  pattern.insert(pattern.end(), plan.malformed, LoadKind::kMalformedAudio);
  pattern.insert(pattern.end(), plan.oversize, LoadKind::kOversize);
  if (pattern.empty()) throw std::invalid_argument("the request mix is empty");

  // Idle connections: open before the run, checked after it.
  net::io_context idle_ioc;
  std::vector<tcp::socket> idle;
  for (std::size_t i = 0; i < plan.idle_connections; ++i) {
    tcp::socket s(idle_ioc);
    beast::error_code ec;
    s.connect({address, plan.port}, ec);
    if (!ec) idle.push_back(std::move(s));
  }

  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::vector<Outcome> outcomes;
  outcomes.reserve(plan.requests);
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  clients.reserve(plan.connections);
  for (std::size_t c = 0; c < plan.connections; ++c) {
    clients.emplace_back([&] {
      Connection normal(plan, plan.host);
      Connection hostile(plan, plan.unauthorised_source);
      std::vector<Outcome> mine;
      for (std::size_t n = next++; n < plan.requests; n = next++) {
        const auto kind = pattern[n % pattern.size()];
        auto& connection = kind == LoadKind::kUnauthorised ? hostile : normal;
        mine.push_back(connection.send(kind, n / pattern.size()));
      }
      std::lock_guard lock(mutex);
      outcomes.insert(outcomes.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : clients) t.join();

  LoadReport report;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> latencies;
  for (const auto& o : outcomes) {
    auto& k = report.kinds[o.kind];
    ++k.sent;
    ++report.sent;
    if (o.status == 0) {
      ++k.no_answer;
      ++report.no_answer;
      ++k.by_error[o.error];
      continue;
    }
    ++k.answered;
    ++report.answered;
    ++k.by_status[o.status];
    latencies.push_back(o.ms);
  }
  report.p50_ms = percentile(latencies, 0.50);
  report.p99_ms = percentile(latencies, 0.99);
  report.max_ms = latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
  for (auto& s : idle) {
    // Still open: a non-blocking peek finds no EOF.
    char probe = 0;
    const auto n = ::recv(s.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++report.idle_held;
  }
  return report;
}

std::string format_report(const LoadReport& r) {
  std::ostringstream out;
  out << "requests sent " << r.sent << ", answered " << r.answered << ", no answer " << r.no_answer
      << " in " << r.seconds << " s\n";
  for (const auto& [kind, k] : r.kinds) {
    out << "  " << load_kind_name(kind) << ": sent " << k.sent << ", answered " << k.answered;
    for (const auto& [status, count] : k.by_status) out << ", " << status << " x" << count;
    for (const auto& [error, count] : k.by_error) out << ", [" << error << "] x" << count;
    out << "\n";
  }
  out << "latency p50 " << r.p50_ms << " ms, p99 " << r.p99_ms << " ms, max " << r.max_ms
      << " ms\n";
  return out.str();
}

const char* token_probe_name(TokenProbe probe) {
  switch (probe) {
    case TokenProbe::kUnknown:
      return "unknown token";
    case TokenProbe::kLastCharWrong:
      return "known, last character wrong";
    case TokenProbe::kFirstCharWrong:
      return "known, first character wrong";
    case TokenProbe::kValid:
      return "valid token";
  }
  return "?";
}

double mann_whitney_z(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) return 0;
  std::vector<std::pair<double, bool>> all;  // value, from a
  all.reserve(a.size() + b.size());
  for (double v : a) all.emplace_back(v, true);
  for (double v : b) all.emplace_back(v, false);
  std::sort(all.begin(), all.end());
  double rank_sum_a = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double rank = (static_cast<double>(i + j) + 1) / 2;  // ties share their mean rank
    for (std::size_t k = i; k < j; ++k) {
      if (all[k].second) rank_sum_a += rank;
    }
    i = j;
  }
  const double na = static_cast<double>(a.size());
  const double nb = static_cast<double>(b.size());
  const double u = rank_sum_a - na * (na + 1) / 2;
  return (u - na * nb / 2) / std::sqrt(na * nb * (na + nb + 1) / 12);
}

AuthTimingReport probe_auth_timing(const AuthTimingPlan& plan) {
  const auto address = net::ip::make_address(plan.host);
  if (!address.is_loopback())
    throw std::invalid_argument("earshot-load only uses loopback addresses");
  if (plan.token.empty()) throw std::invalid_argument("the probe needs a valid token");
  std::mt19937 rng(plan.seed);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  auto other_char = [](char c) { return c == 'x' ? 'y' : 'x'; };
  std::string last_wrong = plan.token;
  last_wrong.back() = other_char(last_wrong.back());
  std::string first_wrong = plan.token;
  first_wrong.front() = other_char(first_wrong.front());

  net::io_context ioc;
  tcp::socket socket(ioc);
  beast::flat_buffer buffer;
  AuthTimingReport report;
  auto connect = [&] {
    beast::error_code ec;
    socket.close(ec);
    buffer.clear();
    socket.open(address.is_v6() ? tcp::v6() : tcp::v4());
    socket.connect({address, plan.port});
    set_timeouts(socket, plan.io_timeout);
  };
  connect();
  std::vector<TokenProbe> order = {TokenProbe::kUnknown, TokenProbe::kLastCharWrong,
                                   TokenProbe::kFirstCharWrong, TokenProbe::kValid};
  for (std::size_t round = 0; round < plan.rounds; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    for (const auto probe : order) {
      std::string token;
      switch (probe) {
        case TokenProbe::kUnknown:
          token.resize(plan.token.size());
          for (auto& c : token) c = alphabet[rng() % alphabet.size()];
          break;
        case TokenProbe::kLastCharWrong:
          token = last_wrong;
          break;
        case TokenProbe::kFirstCharWrong:
          token = first_wrong;
          break;
        case TokenProbe::kValid:
          token = plan.token;
          break;
      }
      const std::string request = "GET /ping HTTP/1.1\r\nHost: " + plan.host + ":" +
                                  std::to_string(plan.port) + "\r\nAuthorization: Token " + token +
                                  "\r\n\r\n";
      if (!socket.is_open()) {
        connect();
        ++report.reconnects;
      }
      beast::error_code ec;
      http::response_parser<http::string_body> parser;
      const auto start = Clock::now();
      net::write(socket, net::buffer(request), ec);
      if (!ec) http::read(socket, buffer, parser, ec);
      const auto us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
      if (ec) {
        ++report.no_answer;
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      auto& times = report.probes[probe];
      const auto& answer = parser.get();
      ++times.by_status[static_cast<int>(answer.result_int())];
      std::ostringstream head;
      head << answer.base();
      if (head.str().find(token) != std::string::npos ||
          answer.body().find(token) != std::string::npos) {
        ++times.echoed;
      }
      ++times.bodies[answer.body()];
      times.us.push_back(us);
      if (!answer.keep_alive()) socket.close(ec);
    }
  }
  const auto& unknown = report.probes[TokenProbe::kUnknown].us;
  for (auto& [probe, times] : report.probes) {
    times.p10 = percentile(times.us, 0.10);
    times.p50 = percentile(times.us, 0.50);
    times.p90 = percentile(times.us, 0.90);
    if (probe != TokenProbe::kUnknown) times.z_vs_unknown = mann_whitney_z(times.us, unknown);
  }
  return report;
}

std::string format_auth_timing(const AuthTimingReport& r) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << "GET /ping, one request at a time; microseconds from write to answer\n";
  for (const auto& [probe, t] : r.probes) {
    out << "  " << token_probe_name(probe) << ": " << t.us.size() << " answers";
    for (const auto& [status, count] : t.by_status) out << ", " << status << " x" << count;
    out << "; p10 " << t.p10 << ", p50 " << t.p50 << ", p90 " << t.p90;
    if (probe != TokenProbe::kUnknown) {
      out.precision(2);
      out << "; Mann-Whitney z vs unknown " << t.z_vs_unknown;
      out.precision(1);
    }
    if (t.echoed > 0) out << "; token echoed in " << t.echoed << " answers";
    out << "\n";
  }
  out << "no answer " << r.no_answer << ", reconnects " << r.reconnects << "\n";
  return out.str();
}

std::optional<ProcessMemory> process_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return std::nullopt;
  ProcessMemory m;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    std::size_t kib = 0;
    fields >> key >> kib;
    if (key == "VmHWM:") m.peak_kib = kib;
    if (key == "VmRSS:") m.rss_kib = kib;
  }
  return m;
}

std::string tone_wav(double seconds, double frequency) {
  const auto n = static_cast<std::uint32_t>(seconds * 16000);
  std::string out;
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  auto u16 = [&](std::uint16_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>(v >> 8);
  };
  out += "RIFF";
  u32(36 + 2 * n);
  out += "WAVEfmt ";
  u32(16);
  u16(1);
  u16(1);
  u32(16000);
  u32(32000);
  u16(2);
  u16(16);
  out += "data";
  u32(2 * n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const double v = 0.3 * std::sin(2 * std::numbers::pi * frequency * i / 16000.0);
    u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(v * 32767))));
  }
  return out;
}

}  // namespace earshot::tools
