#pragma once

// A real `earshot serve` started on an ephemeral loopback port for integration tests.

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace earshot::testing {

class ServerProcess {
 public:
  // Writes `config_json` to a fresh temp dir and starts `earshot serve --config it
  // extra_args...` (no --config when config_json is empty); waits until it logs its
  // listening address.
  explicit ServerProcess(const std::string& config_json, std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  unsigned short port() const { return port_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  pid_t pid() const { return pid_; }

  void signal(int signo) const;
  // Waits for the process to exit; returns its exit status, or -1 on timeout (then kills it).
  int wait_exit(std::chrono::milliseconds timeout);
  // Everything it wrote to stderr so far.
  std::string log() const;
  // Waits until the log contains `needle`; false on timeout.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const;
  // The lines of the log so far that contain `needle` (without their newlines).
  std::vector<std::string> log_lines(const std::string& needle) const;

 private:
  std::filesystem::path dir_;
  std::filesystem::path config_path_;
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  unsigned short port_ = 0;
  bool exited_ = false;
  std::thread reader_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string log_;
};

// What the server's one log line for a breach of a resource limit holds (docs/security.md),
// e.g. " limit max_connections (2) breached: ", between the client's address and the detail.
std::string limit_breach_marker(const std::string& limit, const std::string& configured);

// A config document with the given tokens and optional extra "http" keys (a JSON fragment
// such as "\"header_timeout\": 1").
std::string make_config(const std::vector<std::string>& tokens, const std::string& extra_http = "");

}  // namespace earshot::testing
