#include "server/auth_failure_limiter.h"

namespace earshot::server {
namespace {

// Above this many tracked addresses, expired windows are dropped on the next failure, so a
// flood from many addresses cannot grow the table without bound.
constexpr std::size_t kPruneAbove = 4096;

}  // namespace

AuthFailureLimiter::AuthFailureLimiter(std::size_t max_failures, std::chrono::milliseconds window)
    : max_failures_(max_failures), window_(window) {}

std::optional<std::chrono::seconds> AuthFailureLimiter::blocked(const std::string& address,
                                                                Clock::time_point now) {
  if (max_failures_ == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = windows_.find(address);
  if (it == windows_.end()) return std::nullopt;
  const auto end = it->second.start + window_;
  if (now >= end) {
    windows_.erase(it);
    return std::nullopt;
  }
  if (it->second.failures < max_failures_) return std::nullopt;
  // Round up: "Retry-After: 0" would invite an immediate retry.
  return std::chrono::ceil<std::chrono::seconds>(end - now);
}

void AuthFailureLimiter::record_failure(const std::string& address, Clock::time_point now) {
  if (max_failures_ == 0) return;
  std::lock_guard lock(mutex_);
  if (windows_.size() > kPruneAbove) prune(now);
  auto& w = windows_[address];
  if (w.failures == 0 || now >= w.start + window_) {
    w.start = now;
    w.failures = 0;
  }
  ++w.failures;
}

void AuthFailureLimiter::prune(Clock::time_point now) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    it = now >= it->second.start + window_ ? windows_.erase(it) : std::next(it);
  }
}

std::size_t AuthFailureLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return windows_.size();
}

}  // namespace earshot::server
