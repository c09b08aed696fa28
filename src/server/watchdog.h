#pragma once

// Raises a job's cancel flag when its time is up (the per-request timeout). One thread for
// the whole server, asleep until the earliest deadline.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace earshot::server {

class Watchdog {
 public:
  struct Entry {
    std::chrono::steady_clock::time_point deadline;
    std::shared_ptr<std::atomic<bool>> cancel;
    std::atomic<bool> fired{false};
  };
  using Handle = std::shared_ptr<Entry>;

  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Arms a deadline; keep the handle while the job runs and pass it to disarm() after.
  Handle arm(std::chrono::steady_clock::time_point deadline,
             std::shared_ptr<std::atomic<bool>> cancel);
  void disarm(const Handle& handle);

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable changed_;
  std::list<Handle> entries_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace earshot::server
