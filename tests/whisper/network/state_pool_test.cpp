// The pool of a model's WhisperStates: a finished transcription's state is the next one's, a
// failed one's is dropped, and no more than max_idle wait.

#include "whisper/network/state_pool.h"

#include <gtest/gtest.h>

#include "testing/small_model.h"

namespace earshot::whisper {
namespace {

TEST(StatePool, AFinishedLeaseLeavesItsStateForTheNext) {
  const auto model = test::parse(test::small_contents());
  StatePool pool(2);
  const WhisperState* first = nullptr;
  {
    StatePool::Lease lease = pool.acquire(*model, 1, nullptr);
    first = &*lease;
    lease.done();
  }
  EXPECT_EQ(pool.idle(), 1u);
  StatePool::Lease again = pool.acquire(*model, 1, nullptr);
  EXPECT_EQ(&*again, first);
  EXPECT_EQ(pool.idle(), 0u);
}

TEST(StatePool, AnUnfinishedLeaseDropsItsState) {
  const auto model = test::parse(test::small_contents());
  StatePool pool(2);
  { StatePool::Lease lease = pool.acquire(*model, 1, nullptr); }
  EXPECT_EQ(pool.idle(), 0u);
}

TEST(StatePool, KeepsAtMostMaxIdleAndMatchesThreadCounts) {
  const auto model = test::parse(test::small_contents());
  StatePool pool(2);
  {
    StatePool::Lease a = pool.acquire(*model, 1, nullptr);
    StatePool::Lease b = pool.acquire(*model, 1, nullptr);
    StatePool::Lease c = pool.acquire(*model, 1, nullptr);
    a.done();
    b.done();
    c.done();
  }
  EXPECT_EQ(pool.idle(), 2u);
  // A state of another thread count is made anew, the idle ones left alone.
  StatePool::Lease two = pool.acquire(*model, 2, nullptr);
  EXPECT_EQ(pool.idle(), 2u);
}

}  // namespace
}  // namespace earshot::whisper
