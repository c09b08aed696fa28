#include "server/app.h"

#include <csignal>

#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it

#include <boost/asio/signal_set.hpp>

#include "server/basic_routes.h"
#include "server/http_server.h"
#include "server/logging.h"
#include "server/token_auth.h"

namespace earshot::server {
namespace {

std::string url_for(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  const auto host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return "http://" + host + ":" + std::to_string(ep.port());
}

// Re-reads the file's tokens; on any error the running list stays in force.
void reload_tokens(HttpServer& server, const std::filesystem::path& source, spdlog::logger& log) {
  try {
    const auto fresh = load_config(source);
    server.set_auth(std::make_shared<TokenAuth>(fresh.http.allowed_tokens, fresh.http.auth_schemes));
    log.info("SIGHUP: reloaded {} token(s) from {}", fresh.http.allowed_tokens.size(), source.string());
  } catch (const std::exception& e) {
    log.error("SIGHUP: kept the current tokens; the new config is rejected: {}", e.what());
  }
}

void watch_signals(boost::asio::signal_set& signals, HttpServer& server, const Config& config, spdlog::logger& log) {
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      reload_tokens(server, config.source, log);
      watch_signals(signals, server, config, log);
      return;
    }
    log.info("received {}; stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
    server.shutdown();
  });
}

}  // namespace

int serve(const Config& config) {
  auto log = make_logger(config.log);
  Router router;
  add_basic_routes(router);

  auto auth = std::make_shared<TokenAuth>(config.http.allowed_tokens, config.http.auth_schemes);
  for (const auto& t : config.http.allowed_tokens) {
    if (t.plaintext == "token1") {
      log->warn("{} is the example token of the shipped config; replace it before exposing this server", t.label);
    }
  }
  HttpServer server(config.http, std::move(router), std::move(auth), log);
  try {
    server.listen();
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }

  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM, SIGHUP);
  watch_signals(signals, server, config, *log);

  for (const auto& ep : server.endpoints()) log->info("earshot listening on {}", url_for(ep));
  log->info("{} token(s) accepted with scheme(s) {}", config.http.allowed_tokens.size(),
            [&] {
              std::string s;
              for (const auto& x : config.http.auth_schemes) s += (s.empty() ? "" : ", ") + x;
              return s;
            }());
  server.run();
  log->info("stopped");
  return 0;
}

}  // namespace earshot::server
