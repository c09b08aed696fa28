#pragma once

// Limits failed authentication per client address: after `max_failures` failures within a
// window, every request from that address that needs a token is answered 429 until the
// window ends. Slows token guessing to max_failures per window per address.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace earshot::server {

class AuthFailureLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // max_failures 0 disables the limiter.
  AuthFailureLimiter(std::size_t max_failures, std::chrono::milliseconds window);

  // How long the address must wait, or nullopt when it may try.
  std::optional<std::chrono::seconds> blocked(const std::string& address,
                                              Clock::time_point now = Clock::now());
  void record_failure(const std::string& address, Clock::time_point now = Clock::now());

  std::size_t tracked() const;

 private:
  struct Window {
    Clock::time_point start;
    std::size_t failures = 0;
  };
  void prune(Clock::time_point now);

  std::size_t max_failures_;
  std::chrono::milliseconds window_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace earshot::server
