// The oneDNN products against their scalar references on random inputs of awkward sizes.

#include "whisper/kernels/gemm/gemm.h"

#include <vector>

#include <gtest/gtest.h>

#include "testing/array_compare.h"
#include "testing/random_values.h"
#include "whisper/kernels/kernels.h"

namespace earshot::whisper {
namespace {

using testing::compare_arrays;
using testing::random_values;

TEST(Gemm, LinearWithEveryEpilogueMatchesScalar) {
  for (const int threads : {1, 2}) {
    Gemm gemm(threads);
    for (const auto& [m, k, n] : std::vector<std::tuple<int, int, int>>{
             {1, 64, 51}, {3, 96, 384}, {37, 200, 17}, {300, 33, 129}}) {
      const auto x = random_values(static_cast<std::size_t>(m * (k + 5)), 1);
      const auto w = random_values(static_cast<std::size_t>(n * k), 2, 0.2f);
      const auto bias = random_values(static_cast<std::size_t>(n), 3);
      for (int variant = 0; variant < 4; ++variant) {
        Epilogue e;
        e.bias = variant >= 1 ? bias.data() : nullptr;
        e.gelu = variant == 2;
        e.accumulate = variant == 3;
        const int ldx = k + 5;  // strided input rows
        const int ldy = n + 3;
        auto fast = random_values(static_cast<std::size_t>(m * ldy), 4);
        auto slow = fast;
        gemm.linear(x.data(), m, k, ldx, w.data(), n, fast.data(), ldy, e);
        reference::linear(x.data(), m, k, ldx, w.data(), n, slow.data(), ldy, e);
        const auto d = compare_arrays(fast, slow);
        EXPECT_LE(d.max_abs, 2e-5)
            << m << "x" << k << "x" << n << " variant " << variant << " threads " << threads;
        // Padding columns between rows are left alone.
        for (int i = 0; i < m; ++i) {
          EXPECT_EQ(fast[static_cast<std::size_t>(i * ldy + n)],
                    slow[static_cast<std::size_t>(i * ldy + n)]);
        }
      }
    }
  }
}

TEST(Gemm, StridedBatchedProductMatchesScalar) {
  Gemm gemm(2);
  // Heads side by side in rows of width 3 * 20, as attention addresses them.
  const int heads = 3, d_head = 20, rows = 45, cols = 31, d = heads * d_head;
  const auto q = random_values(static_cast<std::size_t>(rows * d), 5);
  const auto k = random_values(static_cast<std::size_t>(cols * d), 6);
  std::vector<float> fast(static_cast<std::size_t>(heads * rows * cols));
  std::vector<float> slow(fast.size());
  const MatrixView a{q.data(), heads, rows, d_head, d_head, d, 1};
  const MatrixView b{k.data(), heads, d_head, cols, d_head, 1, d};
  gemm.batched(a, b, {fast.data(), heads, rows, cols, rows * cols, cols, 1}, 0.125f);
  reference::batched(a, b, {slow.data(), heads, rows, cols, rows * cols, cols, 1}, 0.125f);
  EXPECT_LE(compare_arrays(fast, slow).max_abs, 1e-5);
}

TEST(Gemm, SoftmaxRowsMatchesScalar) {
  Gemm gemm(2);
  const int rows = 7, cols = 1500;
  auto fast = random_values(static_cast<std::size_t>(rows * cols), 7, 20.0f);
  auto slow = fast;
  gemm.softmax_rows(fast.data(), rows, cols);
  for (int r = 0; r < rows; ++r) reference::softmax(slow.data() + r * cols, cols);
  EXPECT_LE(compare_arrays(fast, slow).max_abs, 1e-6);
}

}  // namespace
}  // namespace earshot::whisper
