#include "server/job_queue.h"

#include <algorithm>

namespace earshot::server {

JobQueue::JobQueue(JobQueueOptions options) : options_(options) {
  options_.workers = std::max<std::size_t>(1, options_.workers);
  for (std::size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

JobQueue::~JobQueue() {
  shutdown(std::chrono::steady_clock::now());
  join();
}

SubmitResult JobQueue::submit(Job job) {
  std::lock_guard lock(mutex_);
  if (stopping_) return SubmitResult::kShuttingDown;
  if (queue_.size() >= options_.max_queued) return SubmitResult::kQueueFull;
  auto& count = per_token_[job.token_label];
  if (options_.max_jobs_per_token > 0 && count >= options_.max_jobs_per_token) {
    return SubmitResult::kTokenBusy;
  }
  ++count;
  queue_.push_back(std::move(job));
  wake_.notify_one();
  return SubmitResult::kAccepted;
}

void JobQueue::release(const std::string& token_label) {
  auto it = per_token_.find(token_label);
  if (it != per_token_.end() && --it->second == 0) per_token_.erase(it);
}

void JobQueue::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    const bool late = stopping_ && std::chrono::steady_clock::now() >= deadline_;
    ++running_;
    running_cancels_.push_back(job.cancel);
    lock.unlock();
    // Whatever happens, the job answers once: run() or drop().
    try {
      if (late) {
        job.drop("the server is shutting down");
      } else if (job.cancel->load()) {
        job.drop("the request was cancelled");
      } else {
        job.run();
      }
    } catch (...) {
      try {
        job.drop("internal error");
      } catch (...) {
      }
    }
    lock.lock();
    --running_;
    running_cancels_.erase(std::find(running_cancels_.begin(), running_cancels_.end(), job.cancel));
    release(job.token_label);
    wake_.notify_all();
  }
}

void JobQueue::shutdown(std::chrono::steady_clock::time_point deadline) {
  std::lock_guard lock(mutex_);
  if (stopping_) {
    deadline_ = std::min(deadline_, deadline);
    wake_.notify_all();
    return;
  }
  stopping_ = true;
  deadline_ = deadline;
  wake_.notify_all();
  // At the deadline: what is still queued is dropped here and now (busy workers would only
  // reach it after their running job), and running jobs are asked to stop at their next
  // decoder step.
  deadline_thread_ = std::thread([this] {
    std::unique_lock l(mutex_);
    while (running_ > 0 || !queue_.empty()) {
      if (wake_.wait_until(l, deadline_) == std::cv_status::timeout ||
          std::chrono::steady_clock::now() >= deadline_) {
        for (auto& c : running_cancels_) c->store(true);
        std::deque<Job> late;
        late.swap(queue_);
        for (auto& j : late) release(j.token_label);
        l.unlock();
        for (auto& j : late) {
          try {
            j.drop("the server is shutting down");
          } catch (...) {
          }
        }
        break;
      }
    }
  });
}

void JobQueue::join() {
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  if (deadline_thread_.joinable()) deadline_thread_.join();
}

std::size_t JobQueue::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t JobQueue::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

}  // namespace earshot::server
