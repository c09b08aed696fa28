// The element-wise kernels (OpenMP loops, the AVX-512 exp sum) against their scalar
// references on random inputs of awkward sizes.

#include "whisper/kernels/kernels.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "testing/array_compare.h"
#include "testing/random_values.h"

namespace earshot::whisper {
namespace {

using testing::compare_arrays;
using testing::random_values;

TEST(Gelu, ExactErfFormKnownValues) {
  EXPECT_EQ(reference::gelu(0.0f), 0.0f);
  EXPECT_NEAR(reference::gelu(1.0f), 0.8413447460685429, 1e-7);
  EXPECT_NEAR(reference::gelu(-1.0f), -0.15865525393145707, 1e-7);
  EXPECT_NEAR(reference::gelu(3.0f), 2.9959502, 1e-6);
  // The tanh approximation gives 0.8411920 at 1: far outside the tolerance above.
}

TEST(Kernels, LayerNormMatchesScalar) {
  for (const int threads : {1, 2}) {
    const int rows = 300, cols = 384;
    // An offset mean, as residual streams have, makes the variance computation matter.
    auto x = random_values(static_cast<std::size_t>(rows * cols), 8, 3.0f);
    for (auto& v : x) v += 5.0f;
    const auto gamma = random_values(static_cast<std::size_t>(cols), 9);
    const auto beta = random_values(static_cast<std::size_t>(cols), 10);
    std::vector<float> fast(x.size());
    std::vector<float> slow(x.size());
    layer_norm(x.data(), rows, cols, gamma.data(), beta.data(), fast.data(), threads);
    reference::layer_norm(x.data(), rows, cols, gamma.data(), beta.data(), slow.data());
    EXPECT_LE(compare_arrays(fast, slow).max_abs, 5e-6) << threads;
    // In place gives the same.
    layer_norm(x.data(), rows, cols, gamma.data(), beta.data(), x.data(), threads);
    EXPECT_EQ(x, fast);
  }
}

TEST(Kernels, SumExpMatchesDoubleExp) {
  // A vocabulary's logits (with masked entries) and short tails around the 16-lane width.
  for (const int n : {1, 15, 16, 17, 1501, 51865}) {
    auto x = random_values(static_cast<std::size_t>(n), 41, 12.0f);
    for (std::size_t i = 0; i < x.size(); i += 7) x[i] = -std::numeric_limits<float>::infinity();
    x.back() = 3.0f;
    const float max = *std::max_element(x.begin(), x.end());
    double expected = 0.0;
    for (const float v : x) expected += std::exp(static_cast<double>(v) - max);
    const double got = sum_exp(x.data(), n, max);
    EXPECT_NEAR(got, expected, expected * 1e-6) << n;
  }
  // Far below the maximum: no overflow, no NaN, the terms vanish.
  const std::vector<float> far = {0.0f, -100.0f, -1e30f};
  EXPECT_NEAR(sum_exp(far.data(), 3, 0.0f), 1.0, 1e-7);
}

}  // namespace
}  // namespace earshot::whisper
