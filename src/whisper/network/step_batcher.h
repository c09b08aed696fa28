#pragma once

// Decoder steps of concurrent transcriptions, run together.
//
// A decoder step streams every decoder weight and the vocabulary matrix once, whatever the
// number of rows it computes (gemv.h), and that read is what a step costs. Two transcriptions
// of one model stepping at the same time each read the whole model; run as one step of two
// rows they read it once. Each transcription's WhisperState submits its step here and waits;
// one submitter (the leader) waits a moment for the other members (states inside a decoding
// loop) to submit theirs, runs them all as one step on the cores of every waiting submitter,
// and wakes them. Results are bit-identical to running each step alone: every row's products
// and attention are computed exactly as they would be alone (the kernels do not mix rows).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "whisper/kernels/step_workers.h"

namespace earshot {
class Model;
}

namespace earshot::whisper {

class StepBatcher {
 public:
  // One member's step.
  struct Item {
    const void* member = nullptr;  // the submitter (a WhisperState); one item in flight each
    std::int64_t rows = 0;         // rows this step computes
    int threads = 1;               // the submitter's compute threads, lent to the batch
    void* payload = nullptr;       // for the executor
    // Set by the batcher.
    bool done = false;
    std::exception_ptr error;
  };

  // What a batch runs on: workers with the batch's threads, and a buffer that the executor may
  // size as it needs (one batch runs at a time).
  struct Resources {
    StepWorkers& workers;
    std::vector<float>& buffer;
  };

  // Runs a batch of items (at least one). Throws only for what it cannot compute; every item
  // then gets the exception.
  using Executor = void (*)(std::span<Item* const> items, Resources& resources);

  struct Stats {
    std::uint64_t batches = 0;    // batches run
    std::uint64_t items = 0;      // items run
    std::uint64_t max_items = 0;  // most items in one batch
    double gather_seconds = 0;    // leaders waiting for members' steps
    double run_seconds = 0;       // batches running
  };

  // `max_rows`: rows a batch holds at most; `wait`: how long a leader waits for members that
  // have not submitted yet; `max_threads`: threads a batch uses at most (0 = the machine's).
  StepBatcher(std::int64_t max_rows, std::chrono::microseconds wait, int max_threads = 0);
  ~StepBatcher();
  StepBatcher(const StepBatcher&) = delete;
  StepBatcher& operator=(const StepBatcher&) = delete;

  // Runs `item` (its member becoming a member if it was not) in a batch with the items other
  // members submit meanwhile, through `execute`; returns when it has run, rethrowing its
  // error. Items of more than max_rows rows run alone.
  void submit(Item& item, Executor execute);

  // The member stops stepping for a while (encoding the next window, or done): leaders stop
  // waiting for it. Harmless for a non-member.
  void leave(const void* member);

  Stats stats() const;

  // Threads the batcher's own pool holds now (0 before the first batch): at most max_threads.
  int pool_threads() const;

 private:
  void run_batch(std::unique_lock<std::mutex>& lock, Item& own, Executor execute);
  StepWorkers& workers_for(int threads);

  const std::int64_t max_rows_;
  const std::chrono::microseconds wait_;
  const int max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<const void*> members_;
  std::vector<Item*> pending_;
  bool leading_ = false;  // a leader is gathering or running a batch
  Stats stats_;
  int pool_threads_ = 0;
  // Touched by the leader only, outside the lock (leading_ makes it one at a time). One pool,
  // as large as the largest batch has needed (at most max_threads_), each batch using as
  // many of its threads as its members lend.
  std::unique_ptr<StepWorkers> workers_;
  std::vector<float> buffer_;
};

// What runs the decoder steps of this model's concurrent transcriptions together, made on
// first use and shared by every WhisperState of the model; safe to call from any thread.
StepBatcher& step_batcher_of(const Model& model);

}  // namespace earshot::whisper
