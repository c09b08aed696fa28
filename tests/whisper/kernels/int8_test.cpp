// The int8 path (Precision::kInt8): quantized weights, the streaming kernel on them, and the
// integer product with per-row activation scales. Held to the f32 product of the values the
// quantization keeps, within the error that quantizing the activations allows.

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "whisper/kernels/attention/half_attention.h"
#include "whisper/kernels/gemm/gemm.h"
#include "whisper/kernels/gemv.h"
#include "whisper/kernels/kernels.h"
#include "whisper/model/model.h"

namespace earshot::whisper {
namespace {

std::vector<float> normal_values(std::size_t n, unsigned seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

Tensor quantized_matrix(std::int64_t n, std::int64_t k, unsigned seed) {
  Tensor t;
  t.shape = {n, k};
  t.data = normal_values(static_cast<std::size_t>(n * k), seed, 0.05f);
  quantize_rows_int8(t);
  return t;
}

// The f32 matrix the int8 values stand for: q * scale of its row.
std::vector<float> dequantized(const Tensor& t) {
  const std::int64_t n = t.shape[0], k = t.shape[1];
  std::vector<float> out(static_cast<std::size_t>(n * k));
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = 0; c < k; ++c) {
      out[static_cast<std::size_t>(r * k + c)] =
          static_cast<float>(t.q8[static_cast<std::size_t>(r * k + c)]) *
          t.q8_scale[static_cast<std::size_t>(r)];
    }
  }
  return out;
}

TEST(Int8, QuantizedRowsStayWithinHalfAStepOfTheValues) {
  const Tensor t = quantized_matrix(37, 129, 1);
  const auto back = dequantized(t);
  for (std::int64_t r = 0; r < 37; ++r) {
    const float scale = t.q8_scale[static_cast<std::size_t>(r)];
    float max_abs = 0.0f;
    for (std::int64_t c = 0; c < 129; ++c) {
      const auto i = static_cast<std::size_t>(r * 129 + c);
      max_abs = std::max(max_abs, std::abs(t.data[i]));
      ASSERT_LE(std::abs(back[i] - t.data[i]), 0.5f * scale * 1.0001f) << r << " " << c;
    }
    // The largest value of each row maps to +-127 exactly.
    EXPECT_FLOAT_EQ(scale, max_abs / 127.0f);
  }
  const WeightMatrix m = t.matrix();
  EXPECT_EQ(m.s8, t.q8.data());
  EXPECT_EQ(m.f32, nullptr);
}

TEST(Int8, StreamingKernelOnInt8WeightsMatchesTheirProduct) {
  for (const auto& [k, n] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{17, 5}, {384, 1537}, {200, 64}}) {
    const Tensor t = quantized_matrix(n, k, 2);
    const auto w = dequantized(t);
    const auto bias = normal_values(static_cast<std::size_t>(n), 3, 1.0f);
    for (const std::int64_t m : {1, 5}) {
      const auto x = normal_values(static_cast<std::size_t>(m * k), 4, 1.0f);
      for (const int threads : {1, 2}) {
        StepWorkers workers(threads);
        std::vector<float> fast(static_cast<std::size_t>(m * n), 0.25f), slow = fast;
        gemv_linear(x.data(), m, k, k, t.matrix(), n, fast.data(), n, bias.data(), true, true,
                    workers);
        reference::linear(x.data(), m, k, k, w.data(), n, slow.data(), n,
                          {.bias = bias.data(), .gelu = true, .accumulate = true});
        for (std::size_t i = 0; i < fast.size(); ++i) {
          ASSERT_NEAR(fast[i], slow[i], 1e-4f * (1.0f + std::abs(slow[i]))) << k << " " << m;
        }
      }
    }
  }
}

TEST(Int8, IntegerProductMatchesWithinActivationQuantization) {
  // Encoder-shaped: many rows, so Gemm quantizes x per row and runs the integer product.
  const std::int64_t m = 300, k = 384, n = 256;
  const Tensor t = quantized_matrix(n, k, 5);
  const auto w = dequantized(t);
  const auto bias = normal_values(static_cast<std::size_t>(n), 6, 1.0f);
  auto x = normal_values(static_cast<std::size_t>(m * k), 7, 1.0f);
  x[5] = 40.0f;  // an outlier in one row only widens that row's step
  for (const int threads : {1, 2}) {
    Gemm gemm(threads);
    for (const bool gelu : {false, true}) {
      for (const bool accumulate : {false, true}) {
        const std::int64_t ldy = accumulate ? n + 3 : n;
        std::vector<float> fast(static_cast<std::size_t>(m * ldy), 0.5f), slow = fast;
        gemm.linear(x.data(), m, k, k, t.matrix(), n, fast.data(), ldy,
                    {.bias = bias.data(), .gelu = gelu, .accumulate = accumulate});
        reference::linear(x.data(), m, k, k, w.data(), n, slow.data(), ldy,
                          {.bias = bias.data(), .gelu = gelu, .accumulate = accumulate});
        double err = 0.0, norm = 0.0;
        for (std::int64_t i = 0; i < m; ++i) {
          for (std::int64_t j = 0; j < ldy; ++j) {
            const auto at = static_cast<std::size_t>(i * ldy + j);
            if (j >= n) {
              ASSERT_EQ(fast[at], 0.5f) << "wrote past the row's n columns";
              continue;
            }
            err += (fast[at] - slow[at]) * (fast[at] - slow[at]);
            norm += slow[at] * slow[at];
          }
        }
        // Rounding x to 255 levels per row: a relative error of about 1/(127 * sqrt 3).
        const double relative = std::sqrt(err / norm);
        EXPECT_LT(relative, 0.01) << threads << " " << gelu << " " << accumulate;
        EXPECT_GT(relative, 0.0) << "the integer path should not be exact";
      }
    }
  }
}

float from_f16(std::uint16_t h) {
  float f = 0.0f;
  f16_to_f32(reinterpret_cast<const std::uint8_t*>(&h), 1, &f);
  return f;
}

TEST(Int8, HalfRoundingIsToNearestEven) {
  // Exact cases: ties go to the even neighbour, past 65504 + half a step is infinity,
  // binary16 subnormals are kept.
  const std::vector<std::pair<float, std::uint16_t>> cases = {
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {1.0f, 0x3c00},
      {1.0f + 0.00048828125f, 0x3c00},      // 1 + 2^-11: a tie, to even (1.0)
      {1.0f + 3 * 0.00048828125f, 0x3c02},  // 1 + 3 * 2^-11: a tie, to even (1 + 2^-9)
      {65504.0f, 0x7bff},
      {65519.0f, 0x7bff},
      {65520.0f, 0x7c00},
      {-1e6f, 0xfc00},
      {5.9604645e-8f, 0x0001},
      {6.097555e-5f, 0x03ff},
      {2.9802322e-8f, 0x0000},  // half the smallest subnormal: a tie, to even (zero)
  };
  for (const auto& [value, bits] : cases) {
    // Both the vector path (16 at a time) and the scalar tail.
    std::vector<float> in(17, value);
    std::vector<std::uint16_t> out(17);
    f32_to_f16(in.data(), 17, out.data());
    EXPECT_EQ(out[0], bits) << value;
    EXPECT_EQ(out[16], bits) << value;
  }
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> exponent(-20.0f, 15.0f);
  std::vector<float> values(4099);
  for (float& v : values) v = std::exp2(exponent(rng)) * (rng() % 2 ? 1.0f : -1.0f);
  std::vector<std::uint16_t> halves(values.size());
  f32_to_f16(values.data(), static_cast<std::int64_t>(values.size()), halves.data());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float back = from_f16(halves[i]);
    // No other binary16 value is nearer.
    const float up = from_f16(static_cast<std::uint16_t>(halves[i] + 1));
    const float down = from_f16(static_cast<std::uint16_t>(halves[i] - 1));
    EXPECT_LE(std::abs(back - values[i]), std::abs(up - values[i])) << values[i];
    if ((halves[i] & 0x7fff) != 0) {
      EXPECT_LE(std::abs(back - values[i]), std::abs(down - values[i])) << values[i];
    }
  }
}

TEST(Int8, CrossAttentionOverHalfKeysAndValuesMatchesScalar) {
  const int heads = 6, d_head = 64, d = heads * d_head, n_kv = 1500;
  for (const int n_q : {1, 5}) {
    const auto q = normal_values(static_cast<std::size_t>(n_q * d), 11, 1.0f);
    auto k = normal_values(static_cast<std::size_t>(n_kv * d), 12, 1.0f);
    auto v = normal_values(static_cast<std::size_t>(n_kv * d), 13, 1.0f);
    std::vector<std::uint16_t> k16(k.size()), v16(v.size());
    f32_to_f16(k.data(), static_cast<std::int64_t>(k.size()), k16.data());
    f32_to_f16(v.data(), static_cast<std::int64_t>(v.size()), v16.data());
    // The reference sees the values the binary16 storage holds.
    for (std::size_t i = 0; i < k.size(); ++i) {
      k[i] = from_f16(k16[i]);
      v[i] = from_f16(v16[i]);
    }
    const AttentionShape shape{n_q, n_kv, heads, d_head, -1};
    std::vector<float> slow(static_cast<std::size_t>(n_q * d));
    reference::attention(q.data(), d, k.data(), d, v.data(), d, slow.data(), d, shape);
    for (const int threads : {1, 2}) {
      StepWorkers workers(threads);
      std::vector<float> fast(slow.size());
      std::vector<float> scratch(static_cast<std::size_t>(threads * n_kv));
      attention_f16_kv(q.data(), d, k16.data(), d, v16.data(), d, fast.data(), d, shape, scratch,
                       workers);
      for (std::size_t i = 0; i < fast.size(); ++i) {
        ASSERT_NEAR(fast[i], slow[i], 2e-5f) << n_q << " " << threads << " " << i;
      }
    }
  }
}

}  // namespace
}  // namespace earshot::whisper
