#pragma once

// Element-wise and row-wise kernels of the transformer (the matrix products live in gemm.h).
// Each has a plain scalar version in `reference`, which the tests hold the fast one to.

#include <cstdint>
#include <span>

#include "whisper/step_workers.h"

namespace earshot::whisper {

// torch.nn.LayerNorm's default, which Whisper keeps.
inline constexpr float kLayerNormEps = 1e-5f;

// Per row: y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance). Rows are
// `cols` apart in x and y; y may be x.
void layer_norm(const float* x, std::int64_t rows, std::int64_t cols, const float* gamma,
                const float* beta, float* y, int threads);

// x += add for `n` values (positional embeddings).
void add_in_place(float* x, const float* add, std::int64_t n);

// Scaled dot-product attention of n_q query rows over n_kv key/value rows, n_head heads of
// d_head columns side by side in each row (row strides ldq, ldk, ldv, ldo). Scores are
// scaled by d_head^-0.5 (Whisper scales q and k by d_head^-0.25 each). With causal_offset
// >= 0, query row i sits at absolute position causal_offset + i and sees keys [0, that];
// with -1 every query sees every key. `scratch` holds workers.threads() * n_kv floats. The
// (head, query) pairs are split over the workers from kMinSplitAttentionMacs on.
struct AttentionShape {
  std::int64_t n_q = 0;
  std::int64_t n_kv = 0;
  std::int64_t n_head = 0;
  std::int64_t d_head = 0;
  std::int64_t causal_offset = -1;
};
void attention(const float* q, std::int64_t ldq, const float* k, std::int64_t ldk, const float* v,
               std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape,
               std::span<float> scratch, StepWorkers& workers);

// Multiply-adds (of q k^T) from which attention() is split over the workers.
inline constexpr std::int64_t kMinSplitAttentionMacs = std::int64_t{1} << 15;

namespace reference {

// GELU, exact erf form: x * 0.5 * (1 + erf(x / sqrt 2)).
float gelu(float x);
void layer_norm(const float* x, std::int64_t rows, std::int64_t cols, const float* gamma,
                const float* beta, float* y);
// Softmax of one row in place, with max subtraction.
void softmax(float* row, std::int64_t n);
void attention(const float* q, std::int64_t ldq, const float* k, std::int64_t ldk, const float* v,
               std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape);

}  // namespace reference

}  // namespace earshot::whisper
