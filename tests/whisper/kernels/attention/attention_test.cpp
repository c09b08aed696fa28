// Every attention kernel against the scalar reference on random inputs of awkward sizes.

#include "whisper/kernels/attention/attention.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "testing/array_compare.h"
#include "testing/random_values.h"
#include "whisper/kernels/attention/blocked_attention.h"
#include "whisper/kernels/attention/fused_attention.h"
#include "whisper/kernels/attention/int8_attention.h"
#include "whisper/kernels/gemm/gemm.h"

namespace earshot::whisper {
namespace {

using testing::compare_arrays;
using testing::random_values;

TEST(Attention, CausalAndFullAttentionMatchScalar) {
  const int heads = 3, d_head = 32, d = heads * d_head;
  for (const int threads : {1, 2}) {
    for (const auto& [n_q, n_kv, offset] : std::vector<std::tuple<int, int, int>>{{1, 1, 0},
                                                                                  {1, 17, 16},
                                                                                  {5, 9, 4},
                                                                                  {40, 40, 0},
                                                                                  {64, 448, 384},
                                                                                  {3, 1500, -1},
                                                                                  {130, 70, -1}}) {
      const auto q = random_values(static_cast<std::size_t>(n_q * d), 11, 2.0f);
      const auto k = random_values(static_cast<std::size_t>(n_kv * d), 12, 2.0f);
      const auto v = random_values(static_cast<std::size_t>(n_kv * d), 13);
      const AttentionShape shape{n_q, n_kv, heads, d_head, offset};
      std::vector<float> fast(static_cast<std::size_t>(n_q * d));
      std::vector<float> slow(fast.size());
      std::vector<float> scratch(static_cast<std::size_t>(threads * n_kv));
      StepWorkers workers(threads);
      attention(q.data(), d, k.data(), d, v.data(), d, fast.data(), d, shape, scratch, workers);
      reference::attention(q.data(), d, k.data(), d, v.data(), d, slow.data(), d, shape);
      EXPECT_LE(compare_arrays(fast, slow).max_abs, 2e-6) << n_q << " " << n_kv << " " << offset;
      if (offset < 0) {
        // The blocked oneDNN path used by the encoder and cross-attention.
        Gemm gemm(threads);
        std::vector<float> blocked(fast.size());
        std::vector<float> scores(static_cast<std::size_t>(heads * kAttentionQueryBlock * n_kv));
        blocked_attention(gemm, q.data(), n_q, k.data(), v.data(), n_kv, heads, d, blocked.data(),
                          scores, /*fused=*/false);
        EXPECT_LE(compare_arrays(blocked, slow).max_abs, 2e-6) << n_q << " " << n_kv;
      }
    }
  }
}

TEST(Attention, DecoderHeadSizeAttentionMatchesScalarWithFlatAndPeakedScores) {
  // Whisper's heads have 64 columns; `peak` scales q so that a few keys take all the weight
  // and most weights underflow to 0.
  const int heads = 2, d_head = 64, d = heads * d_head;
  for (const float peak : {1.0f, 40.0f}) {
    for (const int n_kv : {1, 15, 16, 33, 1500}) {
      const int n_q = 3;
      const auto q = random_values(static_cast<std::size_t>(n_q * d), 21, peak);
      const auto k = random_values(static_cast<std::size_t>(n_kv * d), 22, 1.0f);
      const auto v = random_values(static_cast<std::size_t>(n_kv * d), 23);
      const AttentionShape shape{n_q, n_kv, heads, d_head, -1};
      std::vector<float> fast(static_cast<std::size_t>(n_q * d));
      std::vector<float> slow(fast.size());
      std::vector<float> scratch(static_cast<std::size_t>(2 * n_kv));
      StepWorkers workers(2);
      attention(q.data(), d, k.data(), d, v.data(), d, fast.data(), d, shape, scratch, workers);
      reference::attention(q.data(), d, k.data(), d, v.data(), d, slow.data(), d, shape);
      EXPECT_LE(compare_arrays(fast, slow).max_abs, 2e-6) << peak << " " << n_kv;
    }
  }
}

// Random q (scaled by `peak`, which sharpens the scores), k and v for `heads` heads of
// d_head columns, and what the scalar reference attention makes of them.
struct AttentionCase {
  AttentionCase(int n_q, int n_kv, int heads, int d_head, float peak)
      : d(heads * d_head),
        q(random_values(static_cast<std::size_t>(n_q * d), 31, peak)),
        k(random_values(static_cast<std::size_t>(n_kv * d), 32, 1.0f)),
        v(random_values(static_cast<std::size_t>(n_kv * d), 33)),
        expected(static_cast<std::size_t>(n_q * d)) {
    const AttentionShape shape{n_q, n_kv, heads, d_head, -1};
    reference::attention(q.data(), d, k.data(), d, v.data(), d, expected.data(), d, shape);
  }
  int d;
  std::vector<float> q, k, v, expected;
};

TEST(Attention, FusedAttentionMatchesScalar) {
  // 64-column heads, query counts around the 6-row blocks, key counts around the 64-key
  // tiles and 16-lane tails; flat and peaked scores; one and two threads.
  const int heads = 3, d_head = 64, d = heads * d_head;
  for (const int threads : {1, 2}) {
    for (const auto& [n_q, n_kv] : std::vector<std::pair<int, int>>{
             {1, 1}, {5, 17}, {6, 64}, {7, 65}, {13, 100}, {40, 1500}, {130, 70}}) {
      for (const float peak : {1.0f, 30.0f}) {
        const AttentionCase c(n_q, n_kv, heads, d_head, peak);
        const auto& [unused_d, q, k, v, slow] = c;
        std::vector<float> fused(slow.size(), -1.0f);
        std::vector<float> scratch(
            static_cast<std::size_t>(fused_attention_scratch(n_kv, d, threads)));
        if (!fused_attention(q.data(), n_q, k.data(), v.data(), n_kv, heads, d, fused.data(),
                             scratch, threads)) {
          GTEST_SKIP() << "no AVX-512 on this CPU";
        }
        // Peaked scores reach ~100: their f32 rounding (~1e-5) moves the weights by as much.
        EXPECT_LE(compare_arrays(fused, slow).max_abs, peak > 1.0f ? 1e-5 : 2e-6)
            << threads << " " << n_q << " " << n_kv << " " << peak;
        // Too little scratch: refused, nothing written.
        std::vector<float> untouched(slow.size(), -1.0f);
        EXPECT_FALSE(fused_attention(q.data(), n_q, k.data(), v.data(), n_kv, heads, d,
                                     untouched.data(),
                                     std::span<float>(scratch).first(scratch.size() - 1), threads));
        EXPECT_EQ(untouched, std::vector<float>(slow.size(), -1.0f));
      }
    }
  }
}

// Integers with 127 in every row of q and k and every column of v: their int8 scales are 1,
// so both products are exact; scores a few hundred apart make each softmax one weight of 255
// (the largest score) and zeros, so each output row is exactly the v row of its best key.
TEST(Attention, Int8AttentionIsExactWhereInt8IsExact) {
  if (!int8_attention_supported()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (const int hs : {64, 32}) {
    const int heads = 2, d = heads * hs;
    for (const int threads : {1, 2}) {
      for (const auto& [n_q, n_kv] :
           std::vector<std::pair<int, int>>{{1, 1}, {7, 5}, {13, 100}, {6, 1500}}) {
        std::mt19937 rng(static_cast<unsigned>(n_q * 7 + n_kv));
        std::uniform_int_distribution<int> value(-127, 127);
        auto integers = [&](int rows, bool per_row) {
          std::vector<float> x(static_cast<std::size_t>(rows * d));
          for (auto& e : x) e = static_cast<float>(value(rng));
          if (per_row) {
            for (int r = 0; r < rows; ++r) {
              for (int h = 0; h < heads; ++h)
                x[static_cast<std::size_t>(r * d + h * hs + r % hs)] = 127;
            }
          } else {
            for (int c = 0; c < d; ++c) x[static_cast<std::size_t>(c % rows * d + c)] = -127;
          }
          return x;
        };
        const auto q = integers(n_q, true);
        const auto k = integers(n_kv, true);
        const auto v = integers(n_kv, false);
        std::vector<float> out(static_cast<std::size_t>(n_q * d), -1.0f);
        std::vector<float> scratch(
            static_cast<std::size_t>(int8_attention_scratch(n_kv, d, threads)));
        ASSERT_TRUE(int8_attention(q.data(), n_q, k.data(), v.data(), n_kv, heads, d, out.data(),
                                   scratch, threads));
        int checked = 0;
        for (int i = 0; i < n_q; ++i) {
          for (int h = 0; h < heads; ++h) {
            // The best key and the gap to the second, in q.k units (scores are q.k / 8).
            std::vector<double> dots(static_cast<std::size_t>(n_kv));
            for (int j = 0; j < n_kv; ++j) {
              double dot = 0;
              for (int c = 0; c < hs; ++c) {
                dot += static_cast<double>(q[static_cast<std::size_t>(i * d + h * hs + c)]) *
                       k[static_cast<std::size_t>(j * d + h * hs + c)];
              }
              dots[static_cast<std::size_t>(j)] = dot;
            }
            auto order = dots;
            std::sort(order.rbegin(), order.rend());
            // e^(-gap / 8) * 32767 < 0.5 from a gap of 89: every other weight rounds to 0.
            if (n_kv > 1 && order[0] - order[1] < 100) continue;
            const auto best = std::max_element(dots.begin(), dots.end()) - dots.begin();
            for (int c = 0; c < hs; ++c) {
              EXPECT_NEAR(out[static_cast<std::size_t>(i * d + h * hs + c)],
                          v[static_cast<std::size_t>(best * d + h * hs + c)], 1e-4)
                  << hs << " " << threads << " " << n_q << " " << n_kv << " row " << i << " head "
                  << h;
            }
            ++checked;
          }
        }
        EXPECT_GT(checked, n_q * heads / 2) << n_q << " " << n_kv;
      }
    }
  }
}

// Random floats: int8 attention stays within 2% of f32 (relative RMS error over
// the output), for flat and peaked scores.
TEST(Attention, Int8AttentionApproximatesF32) {
  if (!int8_attention_supported()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  for (const int d_head : {64, 32}) {
    const int heads = 3, d = heads * d_head;
    for (const int threads : {1, 2}) {
      for (const auto& [n_q, n_kv] : std::vector<std::pair<int, int>>{
               {1, 1}, {5, 17}, {6, 64}, {7, 65}, {13, 100}, {40, 1500}, {130, 70}}) {
        for (const float peak : {1.0f, 8.0f}) {
          const AttentionCase c(n_q, n_kv, heads, d_head, peak);
          const auto& [unused_d, q, k, v, slow] = c;
          std::vector<float> fast(slow.size(), -1.0f);
          std::vector<float> scratch(
              static_cast<std::size_t>(int8_attention_scratch(n_kv, d, threads)));
          ASSERT_TRUE(int8_attention(q.data(), n_q, k.data(), v.data(), n_kv, heads, d, fast.data(),
                                     scratch, threads));
          double err = 0, ref = 0;
          for (std::size_t i = 0; i < slow.size(); ++i) {
            err += (fast[i] - slow[i]) * static_cast<double>(fast[i] - slow[i]);
            ref += slow[i] * static_cast<double>(slow[i]);
          }
          const double relative = std::sqrt(err / ref);
          EXPECT_LT(relative, 0.03)
              << d_head << " " << threads << " " << n_q << " " << n_kv << " " << peak;
          if (threads == 2 && n_kv == 1500) {
            std::cout << "int8 attention, heads of " << d_head << ": " << n_q << " x " << n_kv
                      << " peak " << peak << ": relative RMS error " << relative << "\n";
          }
          // Too little scratch: refused, nothing written.
          std::vector<float> untouched(slow.size(), -1.0f);
          EXPECT_FALSE(
              int8_attention(q.data(), n_q, k.data(), v.data(), n_kv, heads, d, untouched.data(),
                             std::span<float>(scratch).first(scratch.size() - 1), threads));
          EXPECT_EQ(untouched, std::vector<float>(slow.size(), -1.0f));
        }
      }
    }
  }
}

TEST(Attention, CausalAttentionIgnoresFutureKeys) {
  // Changing keys/values beyond a query's position must not change its output.
  const int heads = 2, d_head = 8, d = 16, n = 6;
  const auto q = random_values(n * d, 14);
  auto k = random_values(n * d, 15);
  auto v = random_values(n * d, 16);
  std::vector<float> before(n * d), after(n * d), scratch(n);
  const AttentionShape shape{n, n, heads, d_head, 0};
  StepWorkers workers(1);
  attention(q.data(), d, k.data(), d, v.data(), d, before.data(), d, shape, scratch, workers);
  for (int c = 0; c < d; ++c) {
    k[(n - 1) * d + c] += 10.0f;
    v[(n - 1) * d + c] -= 10.0f;
  }
  attention(q.data(), d, k.data(), d, v.data(), d, after.data(), d, shape, scratch, workers);
  for (int i = 0; i < (n - 1) * d; ++i) EXPECT_EQ(before[i], after[i]) << i;
  EXPECT_NE(before[(n - 1) * d], after[(n - 1) * d]);
}

}  // namespace
}  // namespace earshot::whisper
