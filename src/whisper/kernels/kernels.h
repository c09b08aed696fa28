#pragma once

// Element-wise and row-wise kernels of the transformer (the matrix products live in gemm/,
// attention in attention/). Each has a plain scalar version in `reference`, which the tests hold
// the fast one to.

#include <cstdint>

#include "whisper/kernels/step_workers.h"

namespace earshot::whisper {

// torch.nn.LayerNorm's default, which Whisper keeps.
inline constexpr float kLayerNormEps = 1e-5f;

// Per row: y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance). Rows are
// `cols` apart in x and y; y may be x.
void layer_norm(const float* x, std::int64_t rows, std::int64_t cols, const float* gamma,
                const float* beta, float* y, int threads);

// x += add for `n` values (positional embeddings).
void add_in_place(float* x, const float* add, std::int64_t n);

// sum of exp(x[i] - shift) over n values, each x[i] <= shift (a softmax's normaliser: shift
// is the maximum; -inf values count 0), accumulated in double. AVX-512 where the CPU has it
// (polynomial exp, relative error ~1e-7), else std::exp.
double sum_exp(const float* x, std::int64_t n, float shift);

namespace reference {

// GELU, exact erf form: x * 0.5 * (1 + erf(x / sqrt 2)).
float gelu(float x);
void layer_norm(const float* x, std::int64_t rows, std::int64_t cols, const float* gamma,
                const float* beta, float* y);
// Softmax of one row in place, with max subtraction.
void softmax(float* row, std::int64_t n);

}  // namespace reference

}  // namespace earshot::whisper
