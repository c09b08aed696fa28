// earshot-load: a bounded mixed load against an earshot server on loopback.
//   earshot-load --port 8080 --token token1 --requests 500 --connections 64 --idle 200
//                --oversize-bytes 20000000 --server-pid "$(pidof earshot)"
// Prints requests handled, answers by kind and status, p50/p99 latency and, with
// --server-pid, the server's resident memory before and after and its peak.
//   earshot-load --port 8080 --token token1 --auth-timing 2000
// times refusals of unknown and nearly-known tokens instead (tools/load_client.h).

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>

#include <CLI/CLI.hpp>

#include "load_client.h"

int main(int argc, char** argv) {
  CLI::App app{"Sends a bounded mixed load to an earshot server on loopback"};
  earshot::tools::LoadPlan plan;
  std::string audio_file;
  double tone_seconds = 1.0;
  int server_pid = 0;
  app.add_option("--host", plan.host, "loopback address")->capture_default_str();
  app.add_option("--unauthorised-source", plan.unauthorised_source,
                 "loopback source address of the unauthorised requests")
      ->capture_default_str();
  app.add_option("--port", plan.port, "server port")->required();
  app.add_option("--token", plan.token, "a valid token")->required();
  app.add_option("--audio", audio_file, "audio file for the valid requests (default: a tone)");
  app.add_option("--tone-seconds", tone_seconds, "length of the generated tone")
      ->capture_default_str();
  app.add_option("--requests", plan.requests, "total requests")->capture_default_str();
  app.add_option("--connections", plan.connections, "concurrent clients")->capture_default_str();
  app.add_option("--idle", plan.idle_connections, "extra idle connections held open")
      ->capture_default_str();
  app.add_option("--oversize-bytes", plan.oversize_bytes,
                 "Content-Length of oversize requests (required for the load)");
  std::size_t auth_rounds = 0;
  app.add_option("--auth-timing", auth_rounds,
                 "instead of the load: time refusals of unknown and nearly-known tokens, this "
                 "many requests each (the server must run with auth_failure_limit 0)");
  app.add_option("--valid", plan.valid, "valid requests per round")->capture_default_str();
  app.add_option("--unauthorised", plan.unauthorised, "unauthorised requests per round")
      ->capture_default_str();
  app.add_option("--malformed", plan.malformed, "malformed-audio requests per round")
      ->capture_default_str();
  app.add_option("--oversize", plan.oversize, "oversize requests per round")->capture_default_str();
  app.add_option("--server-pid", server_pid, "the server's pid, to report its memory");
  CLI11_PARSE(app, argc, argv);

  if (auth_rounds > 0) {
    try {
      earshot::tools::AuthTimingPlan probe;
      probe.host = plan.host;
      probe.port = plan.port;
      probe.token = plan.token;
      probe.rounds = auth_rounds;
      std::printf(
          "%s",
          earshot::tools::format_auth_timing(earshot::tools::probe_auth_timing(probe)).c_str());
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "earshot-load: %s\n", e.what());
      return 2;
    }
  }
  if (plan.oversize_bytes == 0) {
    std::fprintf(stderr, "earshot-load: --oversize-bytes is required for the load\n");
    return 2;
  }

  if (audio_file.empty()) {
    plan.audio = earshot::tools::tone_wav(tone_seconds);
  } else {
    std::ifstream in(audio_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "earshot-load: cannot read %s\n", audio_file.c_str());
      return 2;
    }
    plan.audio.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto before = server_pid > 0 ? earshot::tools::process_memory(server_pid) : std::nullopt;
  try {
    const auto report = earshot::tools::run_load(plan);
    std::printf("%s", earshot::tools::format_report(report).c_str());
    if (plan.idle_connections > 0) {
      std::printf("idle connections still open at the end: %zu of %zu\n", report.idle_held,
                  plan.idle_connections);
    }
    if (const auto after =
            server_pid > 0 ? earshot::tools::process_memory(server_pid) : std::nullopt) {
      std::printf("server memory: RSS before %zu KiB, after %zu KiB, peak %zu KiB\n",
                  before ? before->rss_kib : 0, after->rss_kib, after->peak_kib);
    }
    return report.no_answer == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "earshot-load: %s\n", e.what());
    return 2;
  }
}
