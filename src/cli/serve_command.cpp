#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "models/catalog.h"
#include "server/app.h"
#include "server/config.h"
#include "server/model_registry.h"

namespace earshot::cli {
namespace {

// Flags that override the config file; unset ones leave the file's values.
struct ServeFlags {
  std::optional<std::filesystem::path> config;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::uint64_t> request_max_size;
  std::optional<std::size_t> max_connections;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
  std::vector<std::string> models;  // [NAME=]PATH or a downloaded model's name
  std::optional<std::size_t> workers;
  std::optional<int> threads;
  std::optional<std::string> vad_model;
};

// `--model [NAME=]PATH`: adds or overrides a model; the first one given becomes the default.
// A bare name that is not a file is looked up among downloaded models.
void apply_models(const std::vector<std::string>& args, server::EngineConfig& engine) {
  const auto dir = models::cache_dir(engine.model_dir);
  bool first = true;
  for (const auto& arg : args) {
    std::string name;
    std::string target = arg;
    if (const auto eq = arg.find('='); eq != std::string::npos && eq > 0) {
      name = arg.substr(0, eq);
      target = arg.substr(eq + 1);
    }
    const auto path = models::resolve_model_path(target, dir);
    if (!path) {
      throw server::ConfigError(
          "--model " + arg + ": no such file, and no downloaded model of that name in " +
          dir.string() + "; get it with `earshot models download " + target + "`");
    }
    if (name.empty()) name = server::model_name_from_path(*path);
    std::erase_if(engine.models, [&](const server::ModelSpec& m) { return m.name == name; });
    engine.models.push_back({name, *path});
    if (first) engine.default_model = name;
    first = false;
  }
}

void apply(const ServeFlags& f, server::Config& c) {
  if (f.host) c.http.host = *f.host;
  if (f.port) c.http.port = static_cast<std::uint16_t>(*f.port);
  if (f.request_max_size) c.http.request_max_size = *f.request_max_size;
  if (f.max_connections) c.http.max_connections = *f.max_connections;
  if (f.log_level) c.log.level = *f.log_level;
  if (f.log_format)
    c.log.format = *f.log_format == "json" ? server::LogFormat::kJson : server::LogFormat::kText;
  if (f.workers) c.engine.workers = *f.workers;
  if (f.threads) c.engine.threads_per_worker = *f.threads;
  if (f.vad_model) c.engine.vad_model = *f.vad_model;
  apply_models(f.models, c.engine);
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve transcription over HTTP (token-authenticated)");
  auto flags = std::make_shared<ServeFlags>();
  cmd->add_option("-c,--config", flags->config,
                  "Config file (default: $EARSHOT_CONFIG, else ./config.json)");
  cmd->add_option("--host", flags->host, "Address to bind, e.g. 0.0.0.0, ::, 127.0.0.1");
  cmd->add_option("-p,--port", flags->port, "Port to listen on (0 = any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--request-max-size", flags->request_max_size, "Largest request body in bytes")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-connections", flags->max_connections, "Most open connections")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--log-level", flags->log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->add_option("--log-format", flags->log_format, "text|json")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("-m,--model", flags->models,
                  "[NAME=]PATH of a ggml model, or the name of a downloaded one (repeatable; the "
                  "first is the default)");
  cmd->add_option("--workers", flags->workers, "Transcriptions run at once")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--threads", flags->threads,
                  "Engine threads per transcription (0 = cores / workers)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--vad-model", flags->vad_model,
                  "Silero VAD ONNX file or downloaded name for requests that drop silence "
                  "(default: silero-vad when downloaded, else the energy detector)");
  cmd->callback([flags, &exit_code] {
    server::Config config;
    try {
      config = server::load_config(server::resolve_config_path(flags->config));
    } catch (const server::ConfigError& e) {
      std::cerr << "earshot: configuration error: " << e.what() << "\n";
      exit_code = 2;
      return;
    }
    try {
      apply(*flags, config);
    } catch (const server::ConfigError& e) {
      std::cerr << "earshot: " << e.what() << "\n";
      exit_code = 2;
      return;
    }
    try {
      exit_code = server::serve(config);
    } catch (const server::ConfigError& e) {
      // What serve() finds at start-up (a VAD model that does not load).
      std::cerr << "earshot: " << e.what() << "\n";
      exit_code = 2;
    }
  });
}

}  // namespace earshot::cli
