#include "testing/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "testing/paths.h"

extern char** environ;

namespace earshot::testing {

std::string make_config(const std::vector<std::string>& tokens, const std::string& extra_http) {
  nlohmann::json t = tokens;
  std::string http = "\"host\": \"127.0.0.1\", \"port\": 0, \"allowed_tokens\": " + t.dump();
  if (!extra_http.empty()) http += ", " + extra_http;
  return "{\"server\": {\"http\": {" + http + "}}}";
}

std::string limit_breach_marker(const std::string& limit, const std::string& configured) {
  return " limit " + limit + " (" + configured + ") breached: ";
}

ServerProcess::ServerProcess(const std::string& config_json, std::vector<std::string> extra_args) {
  std::random_device rd;
  dir_ = binary_dir() / "test-tmp" /
         ("server-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(dir_);
  std::vector<std::string> args = {earshot_binary().string(), "serve"};
  if (!config_json.empty()) {
    config_path_ = dir_ / "config.json";
    std::ofstream(config_path_) << config_json;
    args.insert(args.end(), {"--config", config_path_.string()});
  }

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  for (auto& a : extra_args) args.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("cannot start " + args[0]);
  }
  stderr_fd_ = fds[0];
  reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      const auto n = ::read(stderr_fd_, buf, sizeof buf);
      if (n <= 0) break;
      std::lock_guard lock(mutex_);
      log_.append(buf, static_cast<std::size_t>(n));
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    exited_ = true;
    changed_.notify_all();
  });

  std::unique_lock lock(mutex_);
  // The port of the first "listening on http://<host>:<port>" line.
  auto listening_port = [this]() -> int {
    const std::string marker = "listening on http";  // http:// or https://
    const auto at = log_.find(marker);
    if (at == std::string::npos) return -1;
    // The URL ends at the line's end, or at the quote closing a JSON log message.
    const auto end = log_.find_first_of("\"\n", at);
    if (end == std::string::npos) return -1;
    const auto colon = log_.rfind(':', end);
    if (colon == std::string::npos || colon < at + marker.size() + 3) return -1;
    return std::atoi(log_.substr(colon + 1, end - colon - 1).c_str());
  };
  const bool ok = changed_.wait_for(lock, std::chrono::seconds(20),
                                    [&] { return listening_port() > 0 || exited_; });
  if (!ok || listening_port() <= 0) {
    const auto text = log_;
    lock.unlock();
    throw std::runtime_error("earshot serve did not start; its log:\n" + text);
  }
  port_ = static_cast<unsigned short>(listening_port());
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ServerProcess::signal(int signo) const {
  ::kill(pid_, signo);
}

int ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

std::string ServerProcess::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

bool ServerProcess::wait_for_log(const std::string& needle,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return log_.find(needle) != std::string::npos; });
}

std::vector<std::string> ServerProcess::log_lines(const std::string& needle) const {
  std::istringstream text(log());
  std::vector<std::string> out;
  for (std::string line; std::getline(text, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

}  // namespace earshot::testing
