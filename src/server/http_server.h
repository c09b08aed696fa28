#pragma once

// Asynchronous HTTP/1.1 server on Boost.Beast: one session object per connection, every I/O
// step an async handler, timeouts on the stream, no thread per connection (STYLE: Beast's
// http_server_async / advanced_server).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>  // before Boost 1.74 Asio, which uses std::exchange without it
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl/context.hpp>
#include <spdlog/logger.h>

#include "server/auth_failure_limiter.h"
#include "server/config.h"
#include "server/router.h"
#include "server/token_auth.h"

namespace earshot::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class Session;

class HttpServer {
 public:
  HttpServer(HttpConfig config, Router router, std::shared_ptr<const TokenAuth> auth,
             std::shared_ptr<spdlog::logger> log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on config.host:config.port. Throws std::runtime_error when it cannot.
  void listen();
  // The bound endpoints (after listen), e.g. to learn the port chosen for port 0.
  std::vector<tcp::endpoint> endpoints() const;

  // Runs the network threads until the server has stopped (after shutdown()).
  void run();

  // Stops accepting, closes idle connections, lets in-flight requests finish until
  // shutdown_grace, then closes everything and makes run() return. Thread-safe.
  void shutdown();

  // Replaces the token set for requests that start after the call. Thread-safe.
  void set_auth(std::shared_ptr<const TokenAuth> auth);
  std::shared_ptr<const TokenAuth> auth() const;

  // Called once per answered request (route path or "other", status, seconds), e.g. for
  // metrics. Set before run().
  using RequestObserver =
      std::function<void(const std::string& route, unsigned status, double seconds)>;
  void set_request_observer(RequestObserver observer) { observer_ = std::move(observer); }
  const RequestObserver& request_observer() const { return observer_; }

  net::io_context& io_context() { return *ioc_; }

  // The registry of open connections (for shutdown); sessions call these.
  void on_session_start(const std::shared_ptr<Session>& session);
  void on_session_end(Session* session);
  const HttpConfig& config() const { return config_; }
  spdlog::logger& log() { return *log_; }
  AuthFailureLimiter& auth_failures() { return auth_failures_; }
  const Router& router() const { return router_; }
  bool shutting_down() const { return shutting_down_.load(); }

 private:
  friend class Session;
  void accept(tcp::acceptor& acceptor);
  void finish_shutdown();
  // The connections open now (those still alive).
  std::vector<std::shared_ptr<Session>> open_sessions() const;

  HttpConfig config_;
  Router router_;
  std::shared_ptr<spdlog::logger> log_;
  RequestObserver observer_;
  AuthFailureLimiter auth_failures_;
  mutable std::mutex auth_mutex_;
  std::shared_ptr<const TokenAuth> auth_;

  // Owned through pointers so that the destructor can end the I/O objects, then the context
  // (whose pending handlers hold sessions), while the session registry is still alive.
  std::unique_ptr<net::io_context> ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::unique_ptr<net::steady_timer> shutdown_timer_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> destroying_{false};

  mutable std::mutex sessions_mutex_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // set when config has a certificate
};

}  // namespace earshot::server
