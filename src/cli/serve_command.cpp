#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "server/app.h"
#include "server/config.h"

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
};

void apply(const ServeFlags& f, server::Config& c) {
  if (f.host) c.http.host = *f.host;
  if (f.port) c.http.port = static_cast<std::uint16_t>(*f.port);
  if (f.request_max_size) c.http.request_max_size = *f.request_max_size;
  if (f.max_connections) c.http.max_connections = *f.max_connections;
  if (f.log_level) c.log.level = *f.log_level;
  if (f.log_format) c.log.format = *f.log_format == "json" ? server::LogFormat::kJson : server::LogFormat::kText;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve transcription over HTTP (token-authenticated)");
  auto flags = std::make_shared<ServeFlags>();
  cmd->add_option("-c,--config", flags->config, "Config file (default: $EARSHOT_CONFIG, else ./config.json)");
  cmd->add_option("--host", flags->host, "Address to bind, e.g. 0.0.0.0, ::, 127.0.0.1");
  cmd->add_option("-p,--port", flags->port, "Port to listen on (0 = any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--request-max-size", flags->request_max_size, "Largest request body in bytes")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-connections", flags->max_connections, "Most open connections")->check(CLI::PositiveNumber);
  cmd->add_option("--log-level", flags->log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cmd->add_option("--log-format", flags->log_format, "text|json")->check(CLI::IsMember({"text", "json"}));
  cmd->callback([flags, &exit_code] {
    server::Config config;
    try {
      config = server::load_config(server::resolve_config_path(flags->config));
    } catch (const server::ConfigError& e) {
      std::cerr << "earshot: configuration error: " << e.what() << "\n";
      exit_code = 2;
      return;
    }
    apply(*flags, config);
    exit_code = server::serve(config);
  });
}

}  // namespace earshot::cli
