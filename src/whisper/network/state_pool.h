#pragma once

// WhisperStates kept between the transcriptions of one model, as CTranslate2 keeps a replica
// per worker: a state's buffers (encoder scratch, K/V caches) and its step workers' threads
// are made once per concurrent transcription instead of once per request. Ownership is
// explicit and bounded: a transcription holds its state through a Lease; at most max_idle
// states wait between transcriptions (their step workers asleep), and the pool, with its
// states, goes with the model.

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "whisper/network/state.h"

namespace earshot::whisper {

class StepBatcher;

class StatePool {
 public:
  explicit StatePool(std::size_t max_idle);

  // One transcription's use of a state. The state goes back to the pool only after done():
  // a transcription that ended by an exception drops its state, whatever it was doing.
  class Lease {
   public:
    Lease(StatePool& pool, std::unique_ptr<WhisperState> state, int threads, StepBatcher* batcher);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    WhisperState& operator*() const { return *state_; }
    WhisperState* operator->() const { return state_.get(); }
    void done() { done_ = true; }

   private:
    StatePool& pool_;
    std::unique_ptr<WhisperState> state_;
    int threads_;
    StepBatcher* batcher_;
    bool done_ = false;
  };

  // A state over `model` with `threads` threads stepping through `batcher` (nullptr: alone):
  // one a finished transcription left, else a new one. Every use starts with encode(), which
  // resets what the previous transcription left in it.
  Lease acquire(const Model& model, int threads, StepBatcher* batcher);

  // States waiting now (at most max_idle).
  std::size_t idle() const;

 private:
  void give_back(std::unique_ptr<WhisperState> state, int threads, StepBatcher* batcher);

  struct Idle {
    int threads = 0;
    StepBatcher* batcher = nullptr;
    std::unique_ptr<WhisperState> state;
  };
  const std::size_t max_idle_;
  mutable std::mutex mutex_;
  std::vector<Idle> idle_;
};

// The pool of this model's states, made on first use; safe to call from any thread. It keeps
// at most as many idle states as the machine has cores.
StatePool& state_pool_of(const Model& model);

}  // namespace earshot::whisper
