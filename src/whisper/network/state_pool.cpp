#include "whisper/network/state_pool.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "whisper/model/model.h"

namespace earshot::whisper {

StatePool::StatePool(std::size_t max_idle) : max_idle_(max_idle) {}

StatePool::Lease::Lease(StatePool& pool, std::unique_ptr<WhisperState> state, int threads,
                        StepBatcher* batcher)
    : pool_(pool), state_(std::move(state)), threads_(threads), batcher_(batcher) {}

StatePool::Lease::~Lease() {
  if (done_) {
    pool_.give_back(std::move(state_), threads_, batcher_);
  }
}

StatePool::Lease StatePool::acquire(const Model& model, int threads, StepBatcher* batcher) {
  {
    std::lock_guard lock(mutex_);
    const auto it = std::find_if(idle_.begin(), idle_.end(), [&](const Idle& idle) {
      return idle.threads == threads && idle.batcher == batcher;
    });
    if (it != idle_.end()) {
      std::unique_ptr<WhisperState> state = std::move(it->state);
      idle_.erase(it);
      return Lease(*this, std::move(state), threads, batcher);
    }
  }
  return Lease(*this, std::make_unique<WhisperState>(model, threads, batcher), threads, batcher);
}

void StatePool::give_back(std::unique_ptr<WhisperState> state, int threads, StepBatcher* batcher) {
  // Leaders of the step batcher stop waiting for a state that is not stepping.
  state->leave_batch();
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) {
    idle_.push_back({.threads = threads, .batcher = batcher, .state = std::move(state)});
  }
}

std::size_t StatePool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

StatePool& state_pool_of(const Model& model) {
  return model.shared<StatePool>([] {
    return std::make_unique<StatePool>(std::max(1u, std::thread::hardware_concurrency()));
  });
}

}  // namespace earshot::whisper
