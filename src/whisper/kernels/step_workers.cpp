#include "whisper/kernels/step_workers.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace earshot::whisper {
namespace {

// Tells the core this thread is polling (frees its pipeline for the sibling hyperthread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

using Clock = std::chrono::steady_clock;

// How long a worker keeps polling for the next task after finishing one. Long enough to
// bridge the gaps inside a decoder step and between steps (logit filters, the next token's
// embedding: tens of microseconds), short enough that a worker idles on a sleeping futex
// while the encoder (oneDNN's own threads) or another request has the cores.
constexpr auto kSpinWindow = std::chrono::microseconds(300);

// Polls between clock reads and between yields of the core to other runnable threads (a
// machine busier than its core count must not lose a core to polling).
constexpr int kPollsPerCheck = 64;

}  // namespace

struct StepWorkers::Shared {
  // Bumped once per task; workers wait for it to move.
  alignas(64) std::atomic<std::uint32_t> generation{0};
  // Workers still running the current task.
  alignas(64) std::atomic<int> pending{0};
  // Workers asleep (or about to be) on `generation`.
  alignas(64) std::atomic<int> sleepers{0};
  std::atomic<bool> stopping{false};
  Task task = nullptr;
  void* context = nullptr;
  int task_threads = 0;
  std::vector<std::thread> workers;
  // The first exception a share of the current task threw (the caller's or a worker's).
  std::mutex error_mutex;
  std::exception_ptr error;

  // Runs one share; an exception is kept for the caller, never let out of a thread.
  void run_share(int index, int n) noexcept {
    try {
      task(context, index, n);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }

  void work(int index) {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t now = generation.load(std::memory_order_acquire);
      auto deadline = Clock::now() + kSpinWindow;
      int polls = 0;
      while (now == seen) {
        if (++polls % kPollsPerCheck != 0) {
          cpu_relax();
        } else if (Clock::now() < deadline) {
          std::this_thread::yield();
        } else {
          sleepers.fetch_add(1, std::memory_order_seq_cst);
          generation.wait(seen, std::memory_order_seq_cst);
          sleepers.fetch_sub(1, std::memory_order_seq_cst);
          deadline = Clock::now() + kSpinWindow;
        }
        now = generation.load(std::memory_order_acquire);
      }
      seen = now;
      if (stopping.load(std::memory_order_acquire)) {
        return;
      }
      if (index < task_threads) {
        run_share(index, task_threads);
      }
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void publish() {
    generation.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) > 0) {
      generation.notify_all();
    }
  }
};

StepWorkers::StepWorkers(int threads)
    : capacity_(std::max(1, threads)), threads_(capacity_), shared_(std::make_unique<Shared>()) {
  shared_->workers.reserve(static_cast<std::size_t>(capacity_ - 1));
  for (int i = 1; i < capacity_; ++i) {
    shared_->workers.emplace_back([shared = shared_.get(), i] { shared->work(i); });
  }
}

StepWorkers::~StepWorkers() {
  shared_->stopping.store(true, std::memory_order_release);
  shared_->publish();
  for (auto& worker : shared_->workers) {
    worker.join();
  }
}

void StepWorkers::run_task(int n_threads, Task task, void* context) {
  const int n = std::clamp(n_threads, 1, threads_);
  if (n == 1) {
    task(context, 0, 1);
    return;
  }
  Shared& s = *shared_;
  s.task = task;
  s.context = context;
  s.task_threads = n;
  // Every worker takes part in each generation (those beyond n only count themselves done),
  // so none can miss a generation and none runs a stale task.
  s.pending.store(capacity_ - 1, std::memory_order_relaxed);
  s.publish();
  // The caller's share may throw, but the workers' shares use the caller's frame (`context`)
  // until they return: the caller waits for them before it unwinds.
  s.run_share(0, n);
  int polls = 0;
  while (s.pending.load(std::memory_order_acquire) != 0) {
    if (++polls % kPollsPerCheck != 0) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  if (s.error) {
    std::exception_ptr error;
    std::swap(error, s.error);
    std::rethrow_exception(error);
  }
}

void StepWorkers::use_threads(int n) {
  threads_ = std::clamp(n, 1, capacity_);
}

ItemRange split_items(std::int64_t count, std::int64_t block, int t, int n) {
  const std::int64_t blocks = (count + block - 1) / block;
  return {std::min(count, blocks * t / n * block), std::min(count, blocks * (t + 1) / n * block)};
}

}  // namespace earshot::whisper
