#include "whisper/kernels/attention/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

void attention(const float* q, std::int64_t ldq, const float* k, std::int64_t ldk, const float* v,
               std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape,
               std::span<float> scratch, StepWorkers& workers) {
  attention_over(q, ldq, k, ldk, v, ldv, out, ldo, shape, scratch, workers, dot, axpy);
}

namespace reference {

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
