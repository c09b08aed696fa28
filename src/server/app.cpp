#include "server/app.h"

#include <csignal>
#include <thread>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it

#include <boost/asio/steady_timer.hpp>

#include "earshot/vad.h"
#include "models/catalog.h"
#include "server/basic_routes.h"
#include "server/http_server.h"
#include "server/job_queue.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/realtime_routes.h"
#include "server/signal_watcher.h"
#include "server/static_routes.h"
#include "server/token_auth.h"
#include "server/transcription_routes.h"
#include "server/watchdog.h"

namespace earshot::server {
namespace {

std::string url_for(const tcp::endpoint& ep, bool tls) {
  const auto addr = ep.address();
  const auto host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(ep.port());
}

// Re-reads the file's tokens; on any error the running list stays in force.
void reload_tokens(HttpServer& server, const std::filesystem::path& source, spdlog::logger& log) {
  try {
    const auto fresh = load_config(source);
    server.set_auth(
        std::make_shared<TokenAuth>(fresh.http.allowed_tokens, fresh.http.auth_schemes));
    log.info("SIGHUP: reloaded {} token(s) from {}", fresh.http.allowed_tokens.size(),
             source.string());
  } catch (const std::exception& e) {
    log.error("SIGHUP: kept the current tokens; the new config is rejected: {}", e.what());
  }
}

void add_metrics_route(Router& router, Metrics& metrics, JobQueue& jobs,
                       const ModelRegistry& models, bool authenticated) {
  router.add({.path = "/metrics",
              .methods = {http::verb::get},
              .authenticated = authenticated,
              .error_style = ErrorStyle::kOriginal,
              .handler = [&metrics, &jobs, &models](Request& req, const RequestContext&,
                                                    std::shared_ptr<Exchange> ex) {
                Response res{http::status::ok, req.version()};
                res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
                const auto batches = models.batch_totals();
                res.body() = metrics.render({.queue_depth = jobs.queued(),
                                             .jobs_running = jobs.running(),
                                             .batched_steps = batches.steps,
                                             .step_batches = batches.batches});
                res.keep_alive(req.keep_alive());
                res.prepare_payload();
                ex->respond(std::move(res));
              }});
}

// Unloads idle models every few seconds (when a TTL is set).
void schedule_idle_unload(net::steady_timer& timer, ModelRegistry& models) {
  timer.expires_after(std::chrono::seconds(5));
  timer.async_wait([&timer, &models](const boost::system::error_code& ec) {
    if (ec) return;
    models.unload_idle();
    schedule_idle_unload(timer, models);
  });
}

// The Silero VAD that requests with vad / chunking_strategy use: the configured one (a
// failure to load it stops the start, as a bad model path does), else the downloaded
// "silero-vad" when present; without one they fall back to the energy detector.
std::shared_ptr<const VadModel> load_vad(const EngineConfig& engine, spdlog::logger& log) {
  const bool configured = !engine.vad_model.empty();
  const std::string name = configured ? engine.vad_model : std::string(models::kDefaultVadModel);
  const auto path = models::resolve_vad_model_path(name, models::cache_dir(engine.model_dir));
  if (!path) {
    if (configured) {
      throw ConfigError("engine.vad_model: '" + name +
                        "' is neither a file nor a downloaded model; get it with `earshot models "
                        "download silero-vad`");
    }
    log.info(
        "no Silero VAD model (earshot models download silero-vad): requests that drop "
        "silence use the energy detector");
    return nullptr;
  }
  try {
    auto model = load_vad_model(*path);
    log.info("VAD: Silero from {}", path->string());
    return model;
  } catch (const Error& e) {
    throw ConfigError("engine.vad_model: " + std::string(e.what()));
  }
}

}  // namespace

int serve(const Config& config) {
  // Before any thread starts: every one inherits the mask, and the SignalWatcher takes them.
  block_stop_signals();
  auto log = make_logger(config.log);
  Metrics metrics;
  Watchdog watchdog;
  // A model without its own "precision" (from the config or --model) takes the engine's.
  std::vector<ModelSpec> model_specs = config.engine.models;
  for (auto& spec : model_specs) {
    if (!spec.precision) spec.precision = config.engine.precision;
  }
  ModelRegistry models(std::move(model_specs), config.engine.default_model,
                       config.engine.model_idle_ttl, log);
  JobQueue jobs({.workers = config.engine.workers,
                 .max_queued = config.engine.max_queued_jobs,
                 .max_jobs_per_token = config.engine.max_jobs_per_token});
  std::atomic<bool> shutting_down{false};

  auto service = std::make_shared<TranscriptionService>();
  service->engine = config.engine;
  service->models = &models;
  service->jobs = &jobs;
  service->watchdog = &watchdog;
  service->metrics = &metrics;
  service->log = log;
  service->shutting_down = &shutting_down;
  service->vad_model = load_vad(config.engine, *log);

  Router router;
  add_basic_routes(router, [&models]() -> Readiness {
    if (models.empty()) return {};
    switch (models.state(models.default_name())) {
      case ModelRegistry::State::kLoaded:
      case ModelRegistry::State::kUnloaded:  // loads on first use
        return {};
      case ModelRegistry::State::kLoading:
        return {.ready = false,
                .status = "loading",
                .detail = "model " + models.default_name() + " is loading"};
      case ModelRegistry::State::kFailed:
        return {.ready = false,
                .status = "error",
                .detail = "model " + models.default_name() + " failed to load"};
    }
    return {};
  });
  add_static_routes(router);
  add_transcription_routes(router, service);
  add_realtime_routes(router, service, config.realtime);
  const bool separate_metrics = config.metrics.enabled && config.metrics.port != 0;
  if (config.metrics.enabled && !separate_metrics)
    add_metrics_route(router, metrics, jobs, models, true);

  auto auth = std::make_shared<TokenAuth>(config.http.allowed_tokens, config.http.auth_schemes);
  for (const auto& t : config.http.allowed_tokens) {
    if (t.plaintext == "token1") {
      log->warn(
          "{} is the example token of the shipped config; replace it before exposing this server",
          t.label);
    }
  }
  HttpServer server(config.http, std::move(router), auth, log);
  server.set_request_observer(
      [&metrics](const std::string& route, unsigned status, double seconds) {
        metrics.record_request(route, status, seconds);
      });

  // /metrics on its own listener, without a token (for a scraper on a private network).
  std::unique_ptr<HttpServer> metrics_server;
  if (separate_metrics) {
    Router metrics_router;
    add_metrics_route(metrics_router, metrics, jobs, models, false);
    HttpConfig mc = config.http;
    mc.host = config.metrics.host;
    mc.port = config.metrics.port;
    mc.io_threads = 1;
    mc.tls_certificate.clear();  // the metrics listener is for a private network: plain HTTP
    mc.tls_private_key.clear();
    metrics_server = std::make_unique<HttpServer>(mc, std::move(metrics_router), auth, log);
  }

  try {
    server.listen();
    if (metrics_server) metrics_server->listen();
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    return 1;
  }

  SignalWatcher signals(server.io_context(), [&](int signo) {
    if (signo == SIGHUP) {
      reload_tokens(server, config.source, *log);
      return;
    }
    if (shutting_down.exchange(true)) {
      log->info("received {} while stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
      return;
    }
    log->info("received {}; stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
    // Jobs get most of the grace period, so that those dropped at its end can still be
    // answered before the connections close.
    const auto grace = config.http.shutdown_grace;
    jobs.shutdown(std::chrono::steady_clock::now() + grace * 9 / 10);
    server.shutdown();
    if (metrics_server) metrics_server->shutdown();
  });

  net::steady_timer unload_timer(server.io_context());
  schedule_idle_unload(unload_timer, models);

  for (const auto& ep : server.endpoints())
    log->info("earshot listening on {}", url_for(ep, !config.http.tls_certificate.empty()));
  if (metrics_server) {
    for (const auto& ep : metrics_server->endpoints())
      log->info("metrics on {}/metrics", url_for(ep, false));
  }
  std::string schemes;
  for (const auto& x : config.http.auth_schemes) schemes += (schemes.empty() ? "" : ", ") + x;
  log->info("{} token(s) accepted with scheme(s) {}", config.http.allowed_tokens.size(), schemes);
  std::thread preload;
  if (models.empty()) {
    log->warn(
        "no model configured: get one with `earshot models download base.en`, then `earshot serve "
        "--model base.en`");
  } else {
    log->info(
        "models: {} (default {})",
        [&] {
          std::string s;
          for (const auto& n : models.names()) s += (s.empty() ? "" : ", ") + n;
          return s;
        }(),
        models.default_name());
    if (config.engine.preload_default) {
      preload = std::thread([&models] {
        try {
          models.acquire("");
        } catch (const std::exception&) {
          // Logged by the registry; /health reports it.
        }
      });
    }
  }

  std::thread metrics_thread;
  if (metrics_server) metrics_thread = std::thread([&] { metrics_server->run(); });
  server.run();
  jobs.join();
  if (metrics_thread.joinable()) metrics_thread.join();
  if (preload.joinable()) preload.join();
  log->info("stopped");
  return 0;
}

}  // namespace earshot::server
