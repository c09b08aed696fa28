#include "whisper/kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

namespace earshot::whisper {

void layer_norm(const float* x, std::int64_t rows, std::int64_t cols, const float* gamma,
                const float* beta, float* y, int threads) {
  const int n_threads = rows * cols >= 16384 ? threads : 1;
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t c = 0; c < cols; ++c) {
      sum += in[c];
    }
    const float mean = sum / static_cast<float>(cols);
    float squares = 0.0f;
#pragma omp simd reduction(+ : squares)
    for (std::int64_t c = 0; c < cols; ++c) {
      squares += (in[c] - mean) * (in[c] - mean);
    }
    const float inv_std = 1.0f / std::sqrt(squares / static_cast<float>(cols) + kLayerNormEps);
#pragma omp simd
    for (std::int64_t c = 0; c < cols; ++c) {
      out[c] = (in[c] - mean) * inv_std * gamma[c] + beta[c];
    }
  }
}

void add_in_place(float* x, const float* add, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    x[i] += add[i];
  }
}

namespace reference {

float gelu(float x) {
  const double xd = x;
  return static_cast<float>(0.5 * xd * (1.0 + std::erf(xd / std::numbers::sqrt2)));
}

void layer_norm(const float* x, std::int64_t rows, std::int64_t cols, const float* gamma,
                const float* beta, float* y) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    double mean = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) {
      mean += in[c];
    }
    mean /= static_cast<double>(cols);
    double var = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) {
      var += (in[c] - mean) * (in[c] - mean);
    }
    var /= static_cast<double>(cols);
    const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(kLayerNormEps));
    for (std::int64_t c = 0; c < cols; ++c) {
      y[r * cols + c] = static_cast<float>((in[c] - mean) * inv_std * gamma[c] + beta[c]);
    }
  }
}

void softmax(float* row, std::int64_t n) {
  double max_value = -std::numeric_limits<double>::infinity();
  for (std::int64_t i = 0; i < n; ++i) {
    max_value = std::max(max_value, static_cast<double>(row[i]));
  }
  double total = 0.0;
  std::vector<double> e(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    e[static_cast<std::size_t>(i)] = std::exp(row[i] - max_value);
    total += e[static_cast<std::size_t>(i)];
  }
  for (std::int64_t i = 0; i < n; ++i) {
    row[i] = static_cast<float>(e[static_cast<std::size_t>(i)] / total);
  }
}

}  // namespace reference

}  // namespace earshot::whisper
