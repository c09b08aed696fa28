#include "server/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace earshot::server {
namespace {

using nlohmann::json;

// Walks the document keeping the dotted path of the current key for messages.
class Reader {
 public:
  explicit Reader(std::filesystem::path source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(source_.string() + ": " + (key.empty() ? "" : "key '" + key + "': ") + what);
  }

  static const char* type_name(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
    if (v.is_number()) return "a number";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "an array";
    return "an object";
  }

  void expect_object(const json& v, const std::string& key) const {
    if (!v.is_object()) fail(key, std::string("expected an object, found ") + type_name(v));
  }

  // Refuses keys the project does not know: a typo must not silently keep a default.
  void only_keys(const json& obj, const std::string& key,
                 const std::set<std::string>& known) const {
    for (const auto& [name, value] : obj.items()) {
      if (!known.contains(name)) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        fail(join(key, name), "unknown key (known keys here: " + list + ")");
      }
    }
  }

  static std::string join(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "." + name;
  }

  std::string string(const json& v, const std::string& key) const {
    if (!v.is_string()) fail(key, std::string("expected a string, found ") + type_name(v));
    return v.get<std::string>();
  }

  std::uint64_t unsigned_int(const json& v, const std::string& key, std::uint64_t min,
                             std::uint64_t max) const {
    if (!(v.is_number_integer() || v.is_number_unsigned()) ||
        (v.is_number_integer() && v.get<std::int64_t>() < 0)) {
      fail(key, std::string("expected a non-negative integer, found ") + type_name(v));
    }
    auto n = v.get<std::uint64_t>();
    if (n < min || n > max) {
      fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", found " + std::to_string(n));
    }
    return n;
  }

  // Durations are given in seconds (integer or fractional).
  std::chrono::milliseconds seconds(const json& v, const std::string& key, double max_s) const {
    if (!v.is_number())
      fail(key, std::string("expected a number of seconds, found ") + type_name(v));
    double s = v.get<double>();
    if (!(s > 0) || s > max_s) {
      fail(key, "expected seconds greater than 0 and at most " +
                    std::to_string(static_cast<int>(max_s)));
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
  }

 private:
  std::filesystem::path source_;
};

bool is_lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

TokenEntry parse_token(const Reader& r, const json& v, const std::string& key, std::size_t index) {
  TokenEntry entry;
  entry.label = "token-" + std::to_string(index + 1);
  auto set_digest = [&](std::string hex, const std::string& where) {
    std::transform(hex.begin(), hex.end(), hex.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (hex.size() != 64 || !is_lower_hex(hex)) {
      r.fail(where, "expected a SHA-256 digest of 64 hexadecimal digits");
    }
    entry.sha256_hex = std::move(hex);
  };
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s.rfind("sha256:", 0) == 0) {
      set_digest(s.substr(7), key);
    } else {
      entry.plaintext = std::move(s);
    }
  } else if (v.is_object()) {
    r.only_keys(v, key, {"label", "token", "sha256"});
    if (v.contains("label")) entry.label = r.string(v["label"], key + ".label");
    if (v.contains("token") == v.contains("sha256")) {
      r.fail(key, "expected exactly one of 'token' or 'sha256'");
    }
    if (v.contains("token")) entry.plaintext = r.string(v["token"], key + ".token");
    if (v.contains("sha256")) {
      auto hex = r.string(v["sha256"], key + ".sha256");
      if (hex.rfind("sha256:", 0) == 0) hex = hex.substr(7);
      set_digest(hex, key + ".sha256");
    }
  } else {
    r.fail(key,
           std::string(
               "expected a token string or an object {\"label\", \"token\"|\"sha256\"}, found ") +
               Reader::type_name(v));
  }
  if (entry.sha256_hex.empty()) {
    if (entry.plaintext.empty()) r.fail(key, "expected a non-empty token");
    // A token must survive the "<scheme> <token>" header format.
    for (unsigned char c : entry.plaintext) {
      if (c <= 0x20 || c == 0x7f)
        r.fail(key, "a token cannot contain spaces or control characters");
    }
  }
  if (entry.label.empty()) r.fail(key + ".label", "expected a non-empty label");
  return entry;
}

void parse_http(const Reader& r, const json& http, HttpConfig& out) {
  const std::string k = "server.http";
  r.expect_object(http, k);
  r.only_keys(
      http, k,
      {"host", "port", "request_max_size", "allowed_tokens", "auth_schemes", "header_timeout",
       "body_timeout", "idle_timeout", "shutdown_grace", "max_connections", "max_header_size",
       "io_threads", "auth_failure_limit", "auth_failure_window", "tls"});
  if (http.contains("host")) {
    out.host = r.string(http["host"], k + ".host");
    if (out.host.empty())
      r.fail(k + ".host", "expected a host address such as \"0.0.0.0\" or \"::\"");
  }
  if (http.contains("port"))
    out.port = static_cast<std::uint16_t>(r.unsigned_int(http["port"], k + ".port", 0, 65535));
  if (http.contains("request_max_size")) {
    out.request_max_size = r.unsigned_int(http["request_max_size"], k + ".request_max_size", 1,
                                          std::uint64_t{1} << 40);
  }
  if (!http.contains("allowed_tokens")) {
    r.fail(k + ".allowed_tokens",
           "missing: at least one token is required (authentication is never off)");
  }
  const auto& tokens = http["allowed_tokens"];
  if (!tokens.is_array()) {
    r.fail(k + ".allowed_tokens",
           std::string("expected an array of tokens, found ") + Reader::type_name(tokens));
  }
  if (tokens.empty()) {
    r.fail(k + ".allowed_tokens", "expected at least one token (authentication is never off)");
  }
  std::set<std::string> labels;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    auto entry = parse_token(r, tokens[i], k + ".allowed_tokens[" + std::to_string(i) + "]", i);
    if (!labels.insert(entry.label).second) {
      r.fail(k + ".allowed_tokens[" + std::to_string(i) + "].label",
             "duplicate label '" + entry.label + "'");
    }
    out.allowed_tokens.push_back(std::move(entry));
  }
  if (http.contains("auth_schemes")) {
    const auto& schemes = http["auth_schemes"];
    if (!schemes.is_array() || schemes.empty()) {
      r.fail(k + ".auth_schemes",
             "expected a non-empty array of scheme names such as [\"Token\", \"Bearer\"]");
    }
    out.auth_schemes.clear();
    for (std::size_t i = 0; i < schemes.size(); ++i) {
      auto name = r.string(schemes[i], k + ".auth_schemes[" + std::to_string(i) + "]");
      if (name.empty() || name.find(' ') != std::string::npos) {
        r.fail(k + ".auth_schemes[" + std::to_string(i) + "]",
               "expected a scheme name without spaces");
      }
      out.auth_schemes.push_back(std::move(name));
    }
  }
  if (http.contains("header_timeout"))
    out.header_timeout = r.seconds(http["header_timeout"], k + ".header_timeout", 3600);
  if (http.contains("body_timeout"))
    out.body_timeout = r.seconds(http["body_timeout"], k + ".body_timeout", 86400);
  if (http.contains("idle_timeout"))
    out.idle_timeout = r.seconds(http["idle_timeout"], k + ".idle_timeout", 86400);
  if (http.contains("shutdown_grace"))
    out.shutdown_grace = r.seconds(http["shutdown_grace"], k + ".shutdown_grace", 86400);
  if (http.contains("max_connections")) {
    out.max_connections =
        r.unsigned_int(http["max_connections"], k + ".max_connections", 1, 1000000);
  }
  if (http.contains("max_header_size")) {
    out.max_header_size =
        r.unsigned_int(http["max_header_size"], k + ".max_header_size", 1024, 1 << 20);
  }
  if (http.contains("tls")) {
    const auto& tls = http["tls"];
    r.expect_object(tls, k + ".tls");
    r.only_keys(tls, k + ".tls", {"certificate", "private_key"});
    if (!tls.contains("certificate") || !tls.contains("private_key")) {
      r.fail(k + ".tls", "expected both \"certificate\" and \"private_key\" (PEM file paths)");
    }
    out.tls_certificate = r.string(tls["certificate"], k + ".tls.certificate");
    out.tls_private_key = r.string(tls["private_key"], k + ".tls.private_key");
  }
  if (http.contains("auth_failure_limit")) {
    out.auth_failure_limit =
        r.unsigned_int(http["auth_failure_limit"], k + ".auth_failure_limit", 0, 1000000);
  }
  if (http.contains("auth_failure_window")) {
    out.auth_failure_window =
        r.seconds(http["auth_failure_window"], k + ".auth_failure_window", 86400);
  }
  if (http.contains("io_threads")) {
    out.io_threads = static_cast<int>(r.unsigned_int(http["io_threads"], k + ".io_threads", 1, 64));
  }
}

void parse_log(const Reader& r, const json& log, LogConfig& out) {
  const std::string k = "log";
  r.expect_object(log, k);
  r.only_keys(log, k, {"level", "format"});
  if (log.contains("level")) {
    out.level = r.string(log["level"], k + ".level");
    static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
    if (!levels.contains(out.level)) {
      r.fail(k + ".level", "expected one of trace, debug, info, warn, error, critical, off");
    }
  }
  if (log.contains("format")) {
    auto f = r.string(log["format"], k + ".format");
    if (f == "text") {
      out.format = LogFormat::kText;
    } else if (f == "json") {
      out.format = LogFormat::kJson;
    } else {
      r.fail(k + ".format", "expected \"text\" or \"json\"");
    }
  }
}

void parse_metrics(const Reader& r, const json& m, MetricsConfig& out) {
  const std::string k = "server.metrics";
  r.expect_object(m, k);
  r.only_keys(m, k, {"enabled", "host", "port"});
  if (m.contains("enabled")) {
    if (!m["enabled"].is_boolean()) r.fail(k + ".enabled", "expected true or false");
    out.enabled = m["enabled"].get<bool>();
  }
  if (m.contains("host")) out.host = r.string(m["host"], k + ".host");
  if (m.contains("port"))
    out.port = static_cast<std::uint16_t>(r.unsigned_int(m["port"], k + ".port", 0, 65535));
}

Precision parse_precision_key(const Reader& r, const json& v, const std::string& key) {
  const auto precision = parse_precision(r.string(v, key));
  if (!precision) r.fail(key, "expected \"fp32\" or \"int8\"");
  return *precision;
}

// A model is its file's path, or {"path": ..., "precision": ...}.
void parse_models(const Reader& r, const json& models, EngineConfig& out) {
  r.expect_object(models, "models");
  for (const auto& [name, entry] : models.items()) {
    const auto key = "models." + name;
    if (name.empty() || name.size() > 128)
      r.fail(key, "expected a model name of 1 to 128 characters");
    ModelSpec spec;
    spec.name = name;
    if (entry.is_object()) {
      r.only_keys(entry, key, {"path", "precision"});
      if (!entry.contains("path")) r.fail(key + ".path", "missing: the path of a ggml model file");
      spec.path = r.string(entry["path"], key + ".path");
      if (entry.contains("precision"))
        spec.precision = parse_precision_key(r, entry["precision"], key + ".precision");
    } else {
      spec.path = r.string(entry, key);
    }
    if (spec.path.empty()) r.fail(key, "expected the path of a ggml model file");
    out.models.push_back(std::move(spec));
  }
}

void parse_engine(const Reader& r, const json& e, EngineConfig& out) {
  const std::string k = "engine";
  r.expect_object(e, k);
  r.only_keys(e, k,
              {"default_model", "workers", "threads_per_worker", "max_queued_jobs",
               "max_jobs_per_token", "max_audio_seconds", "request_timeout", "model_idle_ttl",
               "preload_default", "model_dir", "precision", "batch_decoding", "vad_model"});
  if (e.contains("default_model"))
    out.default_model = r.string(e["default_model"], k + ".default_model");
  if (e.contains("workers")) out.workers = r.unsigned_int(e["workers"], k + ".workers", 1, 256);
  if (e.contains("threads_per_worker")) {
    out.threads_per_worker = static_cast<int>(
        r.unsigned_int(e["threads_per_worker"], k + ".threads_per_worker", 0, 1024));
  }
  if (e.contains("max_queued_jobs"))
    out.max_queued_jobs = r.unsigned_int(e["max_queued_jobs"], k + ".max_queued_jobs", 0, 1000000);
  if (e.contains("max_jobs_per_token")) {
    out.max_jobs_per_token =
        r.unsigned_int(e["max_jobs_per_token"], k + ".max_jobs_per_token", 0, 1000000);
  }
  if (e.contains("max_audio_seconds")) {
    if (!e["max_audio_seconds"].is_number() || e["max_audio_seconds"].get<double>() <= 0) {
      r.fail(k + ".max_audio_seconds", "expected a positive number of seconds");
    }
    out.max_audio_seconds = e["max_audio_seconds"].get<double>();
  }
  if (e.contains("request_timeout"))
    out.request_timeout = r.seconds(e["request_timeout"], k + ".request_timeout", 86400);
  if (e.contains("model_idle_ttl")) {
    if (e["model_idle_ttl"].is_number() && e["model_idle_ttl"].get<double>() == 0) {
      out.model_idle_ttl = std::chrono::milliseconds(0);
    } else {
      out.model_idle_ttl = r.seconds(e["model_idle_ttl"], k + ".model_idle_ttl", 30 * 86400);
    }
  }
  if (e.contains("batch_decoding")) {
    if (!e["batch_decoding"].is_boolean()) r.fail(k + ".batch_decoding", "expected true or false");
    out.batch_decoding = e["batch_decoding"].get<bool>();
  }
  if (e.contains("preload_default")) {
    if (!e["preload_default"].is_boolean())
      r.fail(k + ".preload_default", "expected true or false");
    out.preload_default = e["preload_default"].get<bool>();
  }
  if (e.contains("model_dir")) out.model_dir = r.string(e["model_dir"], k + ".model_dir");
  if (e.contains("vad_model")) out.vad_model = r.string(e["vad_model"], k + ".vad_model");
  if (e.contains("precision"))
    out.precision = parse_precision_key(r, e["precision"], k + ".precision");
}

void parse_realtime(const Reader& r, const json& e, RealtimeConfig& out) {
  const std::string k = "realtime";
  r.expect_object(e, k);
  r.only_keys(
      e, k, {"max_sessions", "max_utterance_seconds", "max_buffer_seconds", "partial_interval_ms"});
  if (e.contains("max_sessions"))
    out.max_sessions = r.unsigned_int(e["max_sessions"], k + ".max_sessions", 0, 10000);
  const auto seconds = [&](const char* key, double lo, double hi, double& v) {
    if (!e.contains(key)) return;
    if (!e[key].is_number() || e[key].get<double>() < lo || e[key].get<double>() > hi) {
      r.fail(k + "." + key, "expected seconds from " + std::to_string(static_cast<int>(lo)) +
                                " to " + std::to_string(static_cast<int>(hi)));
    }
    v = e[key].get<double>();
  };
  seconds("max_utterance_seconds", 2, 30, out.max_utterance_seconds);
  seconds("max_buffer_seconds", 1, 3600, out.max_buffer_seconds);
  if (e.contains("partial_interval_ms")) {
    out.partial_interval_ms = static_cast<int>(
        r.unsigned_int(e["partial_interval_ms"], k + ".partial_interval_ms", 100, 60000));
  }
}

// Checks that hold across keys (also after command-line overrides; see check_models).
void validate_engine(const Reader& r, const EngineConfig& e) {
  if (!e.default_model.empty()) {
    const bool known = std::any_of(e.models.begin(), e.models.end(),
                                   [&](const ModelSpec& m) { return m.name == e.default_model; });
    if (!known)
      r.fail("engine.default_model",
             "'" + e.default_model + "' is not one of the names under \"models\"");
  } else if (e.models.size() > 1) {
    r.fail("engine.default_model", "required when \"models\" names more than one model");
  }
}

}  // namespace

Config parse_config(const std::string& text, const std::filesystem::path& source) {
  Reader r(source);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double (1e400).
    r.fail("", std::string("invalid JSON: ") + e.what());
  }
  Config config;
  config.source = source;
  r.expect_object(doc, "");
  r.only_keys(doc, "", {"server", "models", "engine", "realtime", "log"});
  if (!doc.contains("server"))
    r.fail("server", "missing: expected {\"server\": {\"http\": {...}}}");
  const auto& server = doc["server"];
  r.expect_object(server, "server");
  r.only_keys(server, "server", {"http", "metrics"});
  if (!server.contains("http"))
    r.fail("server.http", "missing: expected an object with allowed_tokens");
  parse_http(r, server["http"], config.http);
  if (server.contains("metrics")) parse_metrics(r, server["metrics"], config.metrics);
  if (doc.contains("models")) parse_models(r, doc["models"], config.engine);
  if (doc.contains("engine")) parse_engine(r, doc["engine"], config.engine);
  if (doc.contains("realtime")) parse_realtime(r, doc["realtime"], config.realtime);
  if (doc.contains("log")) parse_log(r, doc["log"], config.log);
  validate_engine(r, config.engine);
  return config;
}

Config load_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string() + ": cannot read the config file (does it exist?)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path.string() + ": error while reading the config file");
  return parse_config(text.str(), path);
}

std::filesystem::path resolve_config_path(const std::optional<std::filesystem::path>& flag) {
  if (flag) return *flag;
  if (const char* env = std::getenv("EARSHOT_CONFIG"); env != nullptr && *env != '\0') return env;
  return "config.json";
}

}  // namespace earshot::server
