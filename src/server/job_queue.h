#pragma once

// A bounded queue of inference jobs feeding a fixed pool of worker threads. Every job that
// is accepted gets exactly one of: run() on a worker, or drop() with a reason (its client
// went away, or the server stopped before it could run).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace earshot::server {

struct JobQueueOptions {
  std::size_t workers = 1;             // jobs run at once (each with its own engine threads)
  std::size_t max_queued = 16;         // jobs waiting for a worker; more are refused
  std::size_t max_jobs_per_token = 0;  // queued + running jobs of one token; 0 = no limit
};

struct Job {
  std::string token_label;
  // Raised by the connection when its client disconnects, and by shutdown past its deadline;
  // the engine checks it between decoder steps.
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  std::function<void()> run;                         // on a worker thread; answers the client
  std::function<void(const std::string& why)> drop;  // answers the client when run() never will
};

enum class SubmitResult { kAccepted, kQueueFull, kTokenBusy, kShuttingDown };

class JobQueue {
 public:
  explicit JobQueue(JobQueueOptions options);
  ~JobQueue();  // shuts down now and joins the workers
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  SubmitResult submit(Job job);

  // Stops accepting; jobs already queued still run until `deadline`; at the deadline queued
  // jobs are dropped and running ones cancelled. Returns at once.
  void shutdown(std::chrono::steady_clock::time_point deadline);
  // Waits until every worker has finished (after shutdown).
  void join();

  std::size_t queued() const;
  std::size_t running() const;
  const JobQueueOptions& options() const { return options_; }

 private:
  void work();
  void release(const std::string& token_label);

  JobQueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::vector<std::shared_ptr<std::atomic<bool>>> running_cancels_;
  std::map<std::string, std::size_t> per_token_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  std::vector<std::thread> workers_;
  std::thread deadline_thread_;
};

}  // namespace earshot::server
