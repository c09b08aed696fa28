#pragma once

// A load generator for earshot on loopback: many concurrent connections sending a mix of
// valid transcriptions, unauthorised requests, malformed audio and oversize bodies, counting
// every answer by kind and status. Used by `earshot-load` and tests/integration/load_test.cpp.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include <sys/types.h>

namespace earshot::tools {

enum class LoadKind { kValid, kUnauthorised, kMalformedAudio, kOversize };

const char* load_kind_name(LoadKind kind);

struct LoadPlan {
  std::string host = "127.0.0.1";  // loopback only; the client refuses anything else
  unsigned short port = 0;
  std::string token;                 // a valid token
  std::string audio;                 // bytes of a valid audio file (WAV)
  std::size_t connections = 32;      // clients sending at once, each on its own connection
  std::size_t idle_connections = 0;  // extra connections opened and held open, sending nothing
  std::size_t requests = 200;        // total requests across all clients
  std::uint64_t oversize_bytes = 0;  // Content-Length of the oversize requests (> request_max_size)
  // Mix: out of every (valid + unauthorised + malformed + oversize) requests, how many of each.
  std::size_t valid = 4;
  std::size_t unauthorised = 2;
  std::size_t malformed = 2;
  std::size_t oversize = 1;
  // Source address of the unauthorised requests, so that failed-auth rate limiting (per
  // client address) can be kept apart from the other requests: any 127.x.y.z works.
  std::string unauthorised_source = "127.0.0.1";
  std::chrono::milliseconds io_timeout{
      60000};  // per read or write; a request past it is "no answer"
};

struct KindReport {
  std::size_t sent = 0;
  std::size_t answered = 0;
  std::size_t no_answer = 0;             // connection closed, reset or timed out before the answer
  std::map<int, std::size_t> by_status;  // HTTP status -> count
  std::map<std::string, std::size_t> by_error;  // transport error text -> count (no answer)
};

struct LoadReport {
  std::map<LoadKind, KindReport> kinds;
  std::size_t sent = 0;
  std::size_t answered = 0;
  std::size_t no_answer = 0;
  double p50_ms = 0;  // latency of answered requests
  double p99_ms = 0;
  double max_ms = 0;
  double seconds = 0;         // wall time of the run
  std::size_t idle_held = 0;  // idle connections that were open at the end of the run
};

// Runs the plan to completion; throws std::invalid_argument for a non-loopback host.
LoadReport run_load(const LoadPlan& plan);

// The report as text (one line per kind and status, then latencies).
std::string format_report(const LoadReport& report);

// VmHWM (peak) and VmRSS (current) of a process in KiB, from /proc/<pid>/status.
struct ProcessMemory {
  std::size_t peak_kib = 0;
  std::size_t rss_kib = 0;
};
std::optional<ProcessMemory> process_memory(pid_t pid);

// 16 kHz mono s16 WAV bytes of a sine tone of `seconds` (amplitude 0.3).
std::string tone_wav(double seconds, double frequency = 440.0);

}  // namespace earshot::tools
