#pragma once

// A load generator for earshot on loopback: many concurrent connections sending a mix of
// valid transcriptions, unauthorised requests, malformed audio and oversize bodies, counting
// every answer by kind and status. Used by `earshot-load` and tests/integration/load_test.cpp.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

// Response timing of refused tokens, over loopback: whether a token that is almost a known
// one (one character changed at its end or its start) is refused in a time that differs
// from a token unlike any known one. Requests of every class go one at a time over one
// kept-alive connection, in a shuffled order per round, so that drift in the machine's speed
// falls on every class alike. The server must not rate-limit failed authentications
// (`auth_failure_limit: 0`), or the refusals measured are the limiter's 429s.
enum class TokenProbe { kUnknown, kLastCharWrong, kFirstCharWrong, kValid };

const char* token_probe_name(TokenProbe probe);

struct AuthTimingPlan {
  std::string host = "127.0.0.1";  // loopback only
  unsigned short port = 0;
  std::string token;          // a valid token; the near misses are made from it
  std::size_t rounds = 1000;  // requests per class
  unsigned seed = 1;
  std::chrono::milliseconds io_timeout{10000};
};

struct ProbeTimes {
  std::map<int, std::size_t> by_status;
  std::size_t echoed = 0;                     // answers whose head or body contained the token sent
  std::map<std::string, std::size_t> bodies;  // answer body -> count
  std::vector<double> us;  // one per answered request, microseconds from write to answer
  double p10 = 0, p50 = 0, p90 = 0;
  // Mann-Whitney U test of this class's times against the unknown tokens' (normal
  // approximation): |z| below ~3 means no difference the samples can show.
  double z_vs_unknown = 0;
};

struct AuthTimingReport {
  std::map<TokenProbe, ProbeTimes> probes;
  std::size_t no_answer = 0;
  std::size_t reconnects = 0;  // times the server closed the connection
};

AuthTimingReport probe_auth_timing(const AuthTimingPlan& plan);

std::string format_auth_timing(const AuthTimingReport& report);

// z of a Mann-Whitney U test of a against b (positive: a tends to be larger).
double mann_whitney_z(const std::vector<double>& a, const std::vector<double>& b);

// VmHWM (peak) and VmRSS (current) of a process in KiB, from /proc/<pid>/status.
struct ProcessMemory {
  std::size_t peak_kib = 0;
  std::size_t rss_kib = 0;
};
std::optional<ProcessMemory> process_memory(pid_t pid);

// 16 kHz mono s16 WAV bytes of a sine tone of `seconds` (amplitude 0.3).
std::string tone_wav(double seconds, double frequency = 440.0);

}  // namespace earshot::tools
