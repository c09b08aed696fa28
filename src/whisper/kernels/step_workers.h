#pragma once

// Worker threads for a decoder step's products and attention.
//
// A decoder step is a chain of a dozen or more small operations, each bound by reading its
// weights (or the window's cross-attention K/V), so each wants both cores for a few tens of
// microseconds. An OpenMP region per operation costs a futex wake of the sleeping worker
// whenever libgomp's threads are passive (as the CLI makes them, because spinning between
// an encoder's regions starves a shared machine): measured here ~150-200 us per region on
// a 2-core VM, against ~350 us of work per tiny decoder layer. These workers spin for a
// short, bounded time after each task instead, so the next operation of the same step
// (or the next step) starts within a microsecond, and they sleep once the decoder pauses.

#include <cstdint>
#include <memory>

namespace earshot::whisper {

class StepWorkers {
 public:
  // `threads` is the caller plus threads - 1 worker threads (none when threads <= 1).
  explicit StepWorkers(int threads);
  ~StepWorkers();
  StepWorkers(const StepWorkers&) = delete;
  StepWorkers& operator=(const StepWorkers&) = delete;

  // Threads a task runs on (and the kernels split their work for): the pool's size, or
  // fewer after use_threads().
  int threads() const { return threads_; }
  // The caller plus the worker threads this pool holds.
  int capacity() const { return capacity_; }
  // Makes tasks run on min(n, capacity()) threads from now on, the rest of the pool idle: one
  // pool serves batches that are lent different numbers of cores (step_batcher.h). Call from
  // the caller's thread, between tasks.
  void use_threads(int n);

  // Calls fn(t, n) for t in [0, n) with n = min(n_threads, threads()), the caller taking
  // t = 0, and returns when every call has returned. When calls throw, the first exception
  // is rethrown here, after every call has returned (none outlives the caller's frame). Not
  // reentrant: one caller thread at a time (a WhisperState's).
  template <typename Fn>
  void run(int n_threads, Fn& fn) {
    run_task(
        n_threads, [](void* context, int t, int n) { (*static_cast<Fn*>(context))(t, n); }, &fn);
  }

 private:
  using Task = void (*)(void* context, int t, int n);
  void run_task(int n_threads, Task task, void* context);

  struct Shared;
  int capacity_;
  int threads_;
  std::unique_ptr<Shared> shared_;
};

// The part [begin, end) of `count` items that thread t of n takes, in whole blocks of `block`
// items (the last block may be partial).
struct ItemRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
};
ItemRange split_items(std::int64_t count, std::int64_t block, int t, int n);

}  // namespace earshot::whisper
