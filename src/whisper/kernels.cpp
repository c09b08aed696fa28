#include "whisper/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

namespace earshot::whisper {
namespace {

float dot(const float* a, const float* b, std::int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t i = 0; i < n; ++i) {
    sum += a[i] * b[i];
  }
  return sum;
}

void axpy(float alpha, const float* x, float* y, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    y[i] += alpha * x[i];
  }
}

}  // namespace

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

void attention(const float* q, std::int64_t ldq, const float* k, std::int64_t ldk, const float* v,
               std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape,
               std::span<float> scratch, StepWorkers& workers) {
  attention_over(q, ldq, k, ldk, v, ldv, out, ldo, shape, scratch, workers, dot, axpy);
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

void attention(const float* q, std::int64_t ldq, const float* k, std::int64_t ldk, const float* v,
               std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(shape.d_head));
  std::vector<double> p(static_cast<std::size_t>(shape.n_kv));
  for (std::int64_t head = 0; head < shape.n_head; ++head) {
    const std::int64_t h0 = head * shape.d_head;
    for (std::int64_t i = 0; i < shape.n_q; ++i) {
      const std::int64_t n_keys =
          shape.causal_offset >= 0 ? std::min(shape.n_kv, shape.causal_offset + i + 1) : shape.n_kv;
      double max_score = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < n_keys; ++j) {
        double s = 0.0;
        for (std::int64_t c = 0; c < shape.d_head; ++c) {
          s += static_cast<double>(q[i * ldq + h0 + c]) * k[j * ldk + h0 + c];
        }
        p[static_cast<std::size_t>(j)] = s * scale;
        max_score = std::max(max_score, s * scale);
      }
      double total = 0.0;
      for (std::int64_t j = 0; j < n_keys; ++j) {
        p[static_cast<std::size_t>(j)] = std::exp(p[static_cast<std::size_t>(j)] - max_score);
        total += p[static_cast<std::size_t>(j)];
      }
      for (std::int64_t c = 0; c < shape.d_head; ++c) {
        double acc = 0.0;
        for (std::int64_t j = 0; j < n_keys; ++j) {
          acc += p[static_cast<std::size_t>(j)] * v[j * ldv + h0 + c];
        }
        out[i * ldo + h0 + c] = static_cast<float>(acc / total);
      }
    }
  }
}

}  // namespace reference

}  // namespace earshot::whisper
