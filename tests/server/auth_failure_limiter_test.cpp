#include "server/auth_failure_limiter.h"

#include <gtest/gtest.h>

namespace earshot::server {
namespace {

using namespace std::chrono_literals;
using Clock = AuthFailureLimiter::Clock;

TEST(AuthFailureLimiter, BlocksAfterTheLimitUntilTheWindowEnds) {
  AuthFailureLimiter limiter(3, 60s);
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.blocked("10.0.0.1", t0));
    limiter.record_failure("10.0.0.1", t0);
  }
  const auto wait = limiter.blocked("10.0.0.1", t0 + 10s);
  ASSERT_TRUE(wait);
  EXPECT_EQ(wait->count(), 50);
  EXPECT_FALSE(limiter.blocked("10.0.0.2", t0 + 10s));  // other addresses are not affected
  EXPECT_FALSE(limiter.blocked("10.0.0.1", t0 + 60s));  // window over
}

TEST(AuthFailureLimiter, FailuresInAnOldWindowDoNotCount) {
  AuthFailureLimiter limiter(2, 1s);
  const auto t0 = Clock::now();
  limiter.record_failure("a", t0);
  limiter.record_failure("a", t0 + 2s);  // starts a new window
  EXPECT_FALSE(limiter.blocked("a", t0 + 2s));
  limiter.record_failure("a", t0 + 2500ms);
  EXPECT_TRUE(limiter.blocked("a", t0 + 2600ms));
}

TEST(AuthFailureLimiter, ZeroDisables) {
  AuthFailureLimiter limiter(0, 60s);
  for (int i = 0; i < 100; ++i) limiter.record_failure("a");
  EXPECT_FALSE(limiter.blocked("a"));
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(AuthFailureLimiter, ManyAddressesArePruned) {
  AuthFailureLimiter limiter(5, 1s);
  const auto t0 = Clock::now();
  for (int i = 0; i < 5000; ++i) limiter.record_failure("addr-" + std::to_string(i), t0);
  EXPECT_EQ(limiter.tracked(), 5000u);
  limiter.record_failure("late", t0 + 5s);
  EXPECT_LT(limiter.tracked(), 10u);
}

}  // namespace
}  // namespace earshot::server
