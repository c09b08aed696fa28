#include "whisper/network/step_batcher.h"

#include <algorithm>
#include <thread>

#include "whisper/kernels/gemv.h"
#include "whisper/model/model.h"

namespace earshot::whisper {

StepBatcher& step_batcher_of(const Model& model) {
  return model.shared<StepBatcher>([] {
    // A leader waits up to 2 ms for the members between two steps: far more than a token's
    // logit filters take, little against a window's decoding.
    return std::make_unique<StepBatcher>(kMaxGemvRows, std::chrono::microseconds(2000));
  });
}

StepBatcher::StepBatcher(std::int64_t max_rows, std::chrono::microseconds wait, int max_threads)
    : max_rows_(std::max<std::int64_t>(1, max_rows)),
      wait_(wait),
      max_threads_(max_threads > 0
                       ? max_threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {}

StepBatcher::~StepBatcher() = default;

void StepBatcher::submit(Item& item, Executor execute) {
  item.done = false;
  item.error = nullptr;
  std::unique_lock lock(mutex_);
  if (std::find(members_.begin(), members_.end(), item.member) == members_.end()) {
    members_.push_back(item.member);
  }
  pending_.push_back(&item);
  changed_.notify_all();  // a gathering leader counts it
  while (!item.done) {
    if (leading_) {
      changed_.wait(lock);
    } else {
      run_batch(lock, item, execute);
    }
  }
  if (item.error) std::rethrow_exception(item.error);
}

void StepBatcher::run_batch(std::unique_lock<std::mutex>& lock, Item& own, Executor execute) {
  leading_ = true;
  const auto gather_start = std::chrono::steady_clock::now();
  // The members that have not submitted yet are between two steps (a token's logit filters):
  // they come back within microseconds, unless they are doing something longer without
  // having left, which the wait bounds.
  changed_.wait_for(lock, wait_, [this] { return pending_.size() >= members_.size(); });
  // The leader's own item first, then the others in the order they came, while they fit.
  std::vector<Item*> batch;
  std::int64_t rows = 0;
  int threads = 0;
  const auto take = [&](std::vector<Item*>::iterator it) {
    rows += (*it)->rows;
    threads += (*it)->threads;
    batch.push_back(*it);
    return pending_.erase(it);
  };
  if (auto it = std::find(pending_.begin(), pending_.end(), &own); it != pending_.end()) take(it);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (batch.empty() || rows + (*it)->rows <= max_rows_) {
      it = take(it);
    } else {
      ++it;
    }
  }
  const auto run_start = std::chrono::steady_clock::now();
  lock.unlock();
  std::exception_ptr error;
  try {
    Resources resources{workers_for(std::clamp(threads, 1, max_threads_)), buffer_};
    execute(batch, resources);
  } catch (...) {
    error = std::current_exception();
  }
  const auto run_end = std::chrono::steady_clock::now();
  lock.lock();
  stats_.gather_seconds += std::chrono::duration<double>(run_start - gather_start).count();
  stats_.run_seconds += std::chrono::duration<double>(run_end - run_start).count();
  for (Item* i : batch) {
    i->error = error;
    i->done = true;
  }
  ++stats_.batches;
  stats_.items += batch.size();
  stats_.max_items = std::max<std::uint64_t>(stats_.max_items, batch.size());
  leading_ = false;
  changed_.notify_all();
}

void StepBatcher::leave(const void* member) {
  std::lock_guard lock(mutex_);
  const auto it = std::find(members_.begin(), members_.end(), member);
  if (it == members_.end()) return;
  members_.erase(it);
  changed_.notify_all();
}

StepBatcher::Stats StepBatcher::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

StepWorkers& StepBatcher::workers_for(int threads) {
  if (!workers_ || workers_->capacity() < threads) {
    workers_.reset();  // its threads end before the larger pool's start
    workers_ = std::make_unique<StepWorkers>(threads);
    std::lock_guard lock(mutex_);
    pool_threads_ = threads;
  }
  workers_->use_threads(threads);
  return *workers_;
}

int StepBatcher::pool_threads() const {
  std::lock_guard lock(mutex_);
  return pool_threads_;
}

}  // namespace earshot::whisper
