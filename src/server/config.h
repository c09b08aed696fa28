#pragma once

// The server's configuration: the original server's config.json, unchanged, plus documented
// extensions (docs/configuration.md). Parsing validates everything and names the file, the
// key and what was expected on any error.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "earshot/whisper.h"

namespace earshot::server {

// One accepted token. Exactly one of `plaintext` / `sha256_hex` is set by the parser;
// TokenAuth hashes plaintext at load and keeps only digests.
struct TokenEntry {
  std::string label;       // shown in logs instead of the token; default "token-<n>"
  std::string plaintext;   // the token itself ("token1")
  std::string sha256_hex;  // lower-case hex digest of the token ("sha256:<hex>" in the file)
};

enum class LogFormat { kText, kJson };

struct HttpConfig {
  std::string host = "0.0.0.0";               // address to bind; "::" for IPv6 (and v4)
  std::uint16_t port = 8080;                  // 0 = any free port (printed at start)
  std::uint64_t request_max_size = 10485760;  // bytes of request body, as aiohttp's client_max_size
  std::vector<TokenEntry> allowed_tokens;     // at least one is required
  std::vector<std::string> auth_schemes = {"Token", "Bearer"};  // compared case-insensitively
  std::size_t websocket_max_message = 16 << 20;     // bytes of one WebSocket message; more: 1009
  std::chrono::milliseconds header_timeout{10000};  // to receive a whole request header
  std::chrono::milliseconds body_timeout{60000};    // to receive a whole request body
  std::chrono::milliseconds idle_timeout{30000};    // keep-alive wait for the next request
  std::chrono::milliseconds shutdown_grace{30000};  // in-flight requests' deadline on SIGTERM
  std::size_t max_connections = 1024;               // open connections; more get 503 and close
  std::size_t max_header_size = 16384;              // bytes of request line + headers
  int io_threads = 1;                               // network threads (inference runs elsewhere)
  std::filesystem::path tls_certificate;            // PEM certificate chain; empty = plain HTTP
  std::filesystem::path tls_private_key;            // PEM private key for it
  std::size_t auth_failure_limit = 30;  // failed authentications per address and window; 0 = off
  std::chrono::milliseconds auth_failure_window{60000};  // then 429 until the window ends
};

// A model the server offers: its name in requests and /v1/models, and its ggml file.
struct ModelSpec {
  std::string name;
  std::filesystem::path path;
  std::optional<Precision> precision =
      std::nullopt;  // the model's own "precision"; nullopt = engine's
};

struct EngineConfig {
  std::vector<ModelSpec> models;           // "models": {"base.en": "/path/ggml-base.en.bin"}
  Precision precision = Precision::kFp32;  // products of models without their own "precision"
  std::string default_model;               // "" = the only model; required when there are several
  std::size_t workers = 1;                 // transcriptions at once
  int threads_per_worker = 0;              // engine threads per job; 0 = cores / workers
  bool batch_decoding = true;        // concurrent jobs' decoder steps of one model run as one step
  std::size_t max_queued_jobs = 16;  // waiting jobs; more get 503 with Retry-After
  std::size_t max_jobs_per_token = 4;   // queued + running per token; 0 = no limit
  double max_audio_seconds = 3 * 3600;  // longer audio is refused
  std::chrono::milliseconds request_timeout{30 * 60 * 1000};  // a job running longer is stopped
  std::chrono::milliseconds model_idle_ttl{0};  // unload a model unused this long; 0 = never
  bool preload_default = true;                  // load the default model at start-up
  std::filesystem::path
      model_dir;          // where `earshot models download` puts files; "" = cache default
  std::string vad_model;  // Silero VAD file or downloaded name; "" = "silero-vad" if downloaded
};

// GET /metrics in Prometheus text format: on the main port with a token (port 0), or on a
// separate listener without one.
struct MetricsConfig {
  bool enabled = true;
  std::string host = "127.0.0.1";  // for the separate listener
  std::uint16_t port = 0;          // 0 = serve /metrics on the main port, authenticated
};

// Realtime transcription sessions (GET /v1/realtime, docs/realtime.md).
struct RealtimeConfig {
  std::size_t max_sessions = 8;         // open sessions; more are refused before the upgrade
  double max_utterance_seconds = 30.0;  // longer speech is cut at its last pause
  double max_buffer_seconds = 60.0;     // uncommitted audio held without turn detection
  int partial_interval_ms = 750;        // a partial decode per this much new speech
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  LogFormat format = LogFormat::kText;
};

struct Config {
  HttpConfig http;
  MetricsConfig metrics;
  EngineConfig engine;
  RealtimeConfig realtime;
  LogConfig log;
  std::filesystem::path source;  // the file it was read from, for messages and SIGHUP reload
};

// A configuration that cannot be used; what() names the file, the key and the expectation.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the text of a config file. `source` only names it in errors.
Config parse_config(const std::string& text, const std::filesystem::path& source);

// Reads and parses a config file; ConfigError when it is unreadable or invalid.
Config load_config(const std::filesystem::path& path);

// The file to read: `flag` when given, else $EARSHOT_CONFIG, else ./config.json.
std::filesystem::path resolve_config_path(const std::optional<std::filesystem::path>& flag);

}  // namespace earshot::server
