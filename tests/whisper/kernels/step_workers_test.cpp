#include "whisper/kernels/step_workers.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "whisper/kernels/gemm/gemm.h"
#include "whisper/kernels/gemv.h"

namespace earshot::whisper {
namespace {

TEST(StepWorkers, EveryThreadIndexRunsOncePerTask) {
  for (const int threads : {1, 2, 3}) {
    StepWorkers workers(threads);
    EXPECT_EQ(workers.threads(), threads);
    for (int round = 0; round < 2000; ++round) {
      // Tasks of 1..threads+1 threads: beyond threads() it is clamped.
      const int asked = 1 + round % (threads + 1);
      const int expected = std::min(asked, threads);
      std::vector<std::atomic<int>> calls(static_cast<std::size_t>(threads));
      std::atomic<int> seen_n{0};
      auto task = [&](int t, int n) {
        calls[static_cast<std::size_t>(t)].fetch_add(1);
        seen_n.store(n);
      };
      workers.run(asked, task);
      for (int t = 0; t < threads; ++t) {
        ASSERT_EQ(calls[static_cast<std::size_t>(t)].load(), t < expected ? 1 : 0)
            << threads << " threads, round " << round << ", index " << t;
      }
      ASSERT_EQ(seen_n.load(), expected);
    }
  }
}

TEST(StepWorkers, WakesSleepingWorkers) {
  // After the spin window the worker sleeps; the next task must still reach it.
  StepWorkers workers(2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<int> ran{0};
    auto task = [&](int, int) { ran.fetch_add(1); };
    workers.run(2, task);
    EXPECT_EQ(ran.load(), 2);
  }
}

// The workers' shares use the caller's frame: when the caller's own share throws, run()
// must not return (unwind) before they are done, and a worker's exception reaches the caller.
TEST(StepWorkers, AThrowingShareIsRethrownAfterEveryShareHasReturned) {
  StepWorkers workers(2);
  std::atomic<bool> worker_done{false};
  bool worker_done_at_catch = false;
  try {
    auto task = [&](int t, int) {
      if (t == 0) throw std::runtime_error("caller's share");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      worker_done.store(true);
    };
    workers.run(2, task);
    ADD_FAILURE() << "run() returned without the exception";
  } catch (const std::runtime_error& e) {
    worker_done_at_catch = worker_done.load();
    EXPECT_STREQ(e.what(), "caller's share");
  }
  EXPECT_TRUE(worker_done_at_catch);
  // Let a worker still running (before the fix) finish before its captures go away.
  while (!worker_done.load()) std::this_thread::yield();

  auto worker_throws = [](int t, int) {
    if (t == 1) throw std::runtime_error("worker's share");
  };
  EXPECT_THROW(workers.run(2, worker_throws), std::runtime_error);
  // The pool still works, and an error is not reported twice.
  std::atomic<int> ran{0};
  auto count = [&](int, int) { ran.fetch_add(1); };
  EXPECT_NO_THROW(workers.run(2, count));
  EXPECT_EQ(ran.load(), 2);
}

TEST(StepWorkers, UseThreadsRunsTasksOnFewerThreadsOfThePool) {
  StepWorkers workers(3);
  for (const int n : {2, 1, 3, 7}) {
    workers.use_threads(n);
    const int expected = std::min(n, 3);
    EXPECT_EQ(workers.threads(), expected);
    EXPECT_EQ(workers.capacity(), 3);
    std::atomic<int> calls{0};
    std::atomic<int> seen_n{0};
    auto task = [&](int, int tn) {
      calls.fetch_add(1);
      seen_n.store(tn);
    };
    workers.run(workers.threads(), task);
    EXPECT_EQ(calls.load(), expected) << n;
    EXPECT_EQ(seen_n.load(), expected) << n;
  }
}

TEST(StepWorkers, SplitItemsCoversEveryItemOnceInWholeBlocks) {
  for (const std::int64_t count : {0, 1, 5, 64, 1001}) {
    for (const std::int64_t block : {1, 4, 16}) {
      for (const int n : {1, 2, 3, 7}) {
        std::int64_t next = 0;
        for (int t = 0; t < n; ++t) {
          const ItemRange r = split_items(count, block, t, n);
          EXPECT_EQ(r.begin, next);
          EXPECT_LE(r.begin, r.end);
          if (r.end < count) {
            EXPECT_EQ(r.end % block, 0);
          }
          next = r.end;
        }
        EXPECT_EQ(next, count) << count << " " << block << " " << n;
      }
    }
  }
}

std::uint16_t to_f16(float value) {
  // Round-to-nearest binary16 of values well inside its normal range (the test's weights).
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, 4);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
  std::uint32_t mantissa = bits & 0x7fffffu;
  if (exponent <= 0) {
    return static_cast<std::uint16_t>(sign);
  }
  std::uint32_t half = sign | (static_cast<std::uint32_t>(exponent) << 10) | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) != 0)) {
    ++half;
  }
  return static_cast<std::uint16_t>(half);
}

TEST(Gemv, MatchesScalarProductForEveryStorageRowCountAndSplit) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& [k, n] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {17, 5}, {64, 64}, {384, 1537}, {200, 513}}) {
    std::vector<float> w(static_cast<std::size_t>(n * k));
    for (float& v : w) v = normal(rng) * 0.1f;
    // f16 storage, and the f32 values it holds exactly (so both paths share one reference).
    std::vector<std::uint8_t> w16(w.size() * 2);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const std::uint16_t h = to_f16(w[i]);
      std::memcpy(w16.data() + 2 * i, &h, 2);
    }
    std::vector<float> w_exact(w.size());
    f16_to_f32(w16.data(), static_cast<std::int64_t>(w.size()), w_exact.data());
    std::vector<float> bias(static_cast<std::size_t>(n));
    for (float& v : bias) v = normal(rng);
    for (const std::int64_t m : {1, 2, 3, 5, 6, 8}) {
      std::vector<float> x(static_cast<std::size_t>(m * k));
      for (float& v : x) v = normal(rng);
      for (const int threads : {1, 2}) {
        StepWorkers workers(threads);
        for (const bool f16 : {false, true}) {
          for (const bool gelu : {false, true}) {
            for (const bool accumulate : {false, true}) {
              std::vector<float> slow(static_cast<std::size_t>(m * n), 0.5f);
              reference::linear(x.data(), m, k, k, w_exact.data(), n, slow.data(), n,
                                {.bias = bias.data(), .gelu = gelu, .accumulate = accumulate});
              const WeightMatrix matrix =
                  f16 ? WeightMatrix{.f16 = w16.data()} : WeightMatrix{.f32 = w_exact.data()};
              // The kernels this CPU would choose, then each instruction set it runs.
              for (const char* isa : {"best", "avx512", "avx2", "generic"}) {
                std::vector<float> fast(slow.size(), 0.5f);
                if (std::string_view(isa) == "best") {
                  gemv_linear(x.data(), m, k, k, matrix, n, fast.data(), n, bias.data(), gelu,
                              accumulate, workers);
                } else if (!gemv_linear_with(isa, x.data(), m, k, k, matrix, n, fast.data(), n,
                                             bias.data(), gelu, accumulate, workers)) {
                  continue;
                }
                for (std::size_t i = 0; i < fast.size(); ++i) {
                  ASSERT_NEAR(fast[i], slow[i], 1e-4f * (1.0f + std::abs(slow[i])))
                      << isa << " k " << k << " n " << n << " m " << m << " threads " << threads
                      << " f16 " << f16 << " gelu " << gelu << " accumulate " << accumulate
                      << " at " << i;
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace earshot::whisper
