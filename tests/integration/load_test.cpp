// A bounded mixed load on loopback against `earshot serve` with the scripted model
// (tools/load_client.h): valid transcriptions, unauthorised requests, malformed audio and
// oversize bodies from many connections at once, plus idle connections held open. Every
// request gets exactly one answer, the server survives, and its memory returns near where it
// started.

#include <signal.h>

#include <iostream>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "load_client.h"
#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using tools::LoadKind;

void raise_fd_limit(rlim_t wanted) {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= wanted) return;
  r.rlim_cur = std::min(wanted, r.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &r);
}

// Sum of earshot_http_requests_total over every route and status.
std::size_t answered_by_server(unsigned short port) {
  const auto metrics = http_request(port, "GET", "/metrics", {{"Authorization", "Token token1"}});
  std::size_t total = 0;
  const std::regex line(R"(earshot_http_requests_total\{[^}]*\} (\d+))");
  for (std::sregex_iterator it(metrics.body.begin(), metrics.body.end(), line), end; it != end;
       ++it) {
    total += std::stoul((*it)[1].str());
  }
  return total;
}

TEST(Load, MixedLoadAnswersEveryRequestOnceAndMemoryReturns) {
  raise_fd_limit(4096);
  const auto dir = binary_dir() / "test-tmp";
  std::filesystem::create_directories(dir);
  const auto model = write_scripted_model(dir / "ggml-scripted-load.bin");
  const nlohmann::json models = {{"scripted", model.path.string()}};
  // A small body limit for the oversize requests; a header timeout longer than the run so
  // that the idle connections are held (they never send a byte).
  const std::string config =
      R"({"server": {"http": {"host": "127.0.0.1", "port": 0, "request_max_size": 1048576,
          "header_timeout": 300, "allowed_tokens": ["token1"]}},
          "models": )" +
      models.dump() + R"(, "engine": {"workers": 2, "threads_per_worker": 1,
          "max_queued_jobs": 24, "max_jobs_per_token": 0}})";
  ServerProcess server(config);

  tools::LoadPlan plan;
  plan.port = server.port();
  plan.token = "token1";
  plan.audio = tone_wav(1.0);
  plan.oversize_bytes = 8 << 20;
  // Failed authentication from its own address, so that its rate limiting leaves the
  // other requests (and /metrics below) alone.
  plan.unauthorised_source = "127.0.0.2";

  // Warm up (the model loads on first use), then take the baseline.
  plan.requests = 4;
  plan.connections = 1;
  plan.unauthorised = plan.malformed = plan.oversize = 0;
  const auto warm = tools::run_load(plan);
  ASSERT_EQ(warm.kinds.at(LoadKind::kValid).by_status.at(200), 4u) << tools::format_report(warm);
  const auto baseline = tools::process_memory(server.pid());
  ASSERT_TRUE(baseline);

  plan.requests = 160;
  plan.connections = 32;
  plan.idle_connections = 200;
  plan.unauthorised = plan.malformed = 2;
  plan.oversize = 1;
  const auto report = tools::run_load(plan);
  const auto after = tools::process_memory(server.pid());
  ASSERT_TRUE(after);
  std::cout << tools::format_report(report) << "server RSS before " << baseline->rss_kib
            << " KiB, after " << after->rss_kib << " KiB, peak " << after->peak_kib << " KiB\n";

  // Every request got an answer, and an answer of the kind it deserved: a transcription, or
  // a refusal for a busy server, never a crash or a silent close.
  EXPECT_EQ(report.sent, plan.requests);
  EXPECT_EQ(report.no_answer, 0u) << tools::format_report(report);
  const std::map<LoadKind, std::set<int>> allowed = {
      {LoadKind::kValid, {200, 429, 503}},
      {LoadKind::kUnauthorised, {401, 403, 429}},  // 429: failed-auth rate limiting
      {LoadKind::kMalformedAudio, {400, 429, 503}},
      {LoadKind::kOversize, {413}},
  };
  for (const auto& [kind, k] : report.kinds) {
    EXPECT_GT(k.sent, 0u);
    for (const auto& [status, count] : k.by_status) {
      EXPECT_TRUE(allowed.at(kind).contains(status))
          << tools::load_kind_name(kind) << " got " << status << " x" << count;
    }
  }
  EXPECT_GT(report.kinds.at(LoadKind::kValid).by_status.count(200), 0u);
  EXPECT_EQ(report.idle_held, plan.idle_connections);

  // Exactly one answer each: the server answered as many requests as the clients received
  // (the warm-up included, this /metrics request not yet).
  EXPECT_EQ(answered_by_server(server.port()), warm.answered + report.answered);

  // Alive, and its memory back near the baseline once the work is done (generous: the
  // allocator keeps some of what the peak used).
  EXPECT_EQ(::kill(server.pid(), 0), 0);
  EXPECT_EQ(http_request(server.port(), "GET", "/health").status, 200);
  std::size_t rss = after->rss_kib;
  for (int i = 0; i < 50 && rss > baseline->rss_kib + 64 * 1024; ++i) {
    std::this_thread::sleep_for(100ms);
    rss = tools::process_memory(server.pid())->rss_kib;
  }
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine on purpose, so RSS does not come back;
  // leaks are its own job (LeakSanitizer at the server's exit).
  std::cout << "RSS " << rss << " KiB, baseline " << baseline->rss_kib
            << " (not bounded under ASan)\n";
#else
  EXPECT_LE(rss, baseline->rss_kib + 128 * 1024)
      << "RSS " << rss << " KiB, baseline " << baseline->rss_kib;
#endif

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(30s), 0) << server.log();
}

}  // namespace
}  // namespace earshot::testing
