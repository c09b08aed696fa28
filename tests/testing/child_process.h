#pragma once

// A helper program started by a test (a fixture server, a client script), killed when the
// object goes away. Its stdout is readable line by line; stderr is inherited.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace earshot::testing {

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line of stdout, without its newline; nullopt at EOF or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Everything until EOF (or timeout).
  std::string read_all(std::chrono::milliseconds timeout);
  // Waits for exit; the exit status, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string pending_;
};

// Runs a command to completion: {exit status, stdout+stderr}.
std::pair<int, std::string> run_command(const std::string& command);

}  // namespace earshot::testing
