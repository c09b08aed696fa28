#include "server/watchdog.h"

#include <algorithm>

namespace earshot::server {

Watchdog::Watchdog() : thread_([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

Watchdog::Handle Watchdog::arm(std::chrono::steady_clock::time_point deadline,
                               std::shared_ptr<std::atomic<bool>> cancel) {
  auto h = std::make_shared<Entry>();
  h->deadline = deadline;
  h->cancel = std::move(cancel);
  {
    std::lock_guard lock(mutex_);
    entries_.push_back(h);
  }
  changed_.notify_all();
  return h;
}

void Watchdog::disarm(const Handle& handle) {
  std::lock_guard lock(mutex_);
  entries_.remove(handle);
}

void Watchdog::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if ((*it)->deadline <= now) {
        (*it)->fired = true;
        (*it)->cancel->store(true);
        it = entries_.erase(it);
      } else {
        next = std::min(next, (*it)->deadline);
        ++it;
      }
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, next);
    }
  }
}

}  // namespace earshot::server
