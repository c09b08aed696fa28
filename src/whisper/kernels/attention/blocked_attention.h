#pragma once

// Attention of many query rows (the encoder's self-attention, the cross-attention of a
// prompt) through the matrix-product backend, or the fused kernel where it applies.

#include <cstdint>
#include <span>

#include "whisper/kernels/gemm/gemm.h"

namespace earshot::whisper {

// Query rows per block of blocked_attention: the scores of one block, n_head x
// kAttentionQueryBlock x n_kv floats, are all that is materialised at a time.
inline constexpr std::int64_t kAttentionQueryBlock = 128;

// Every query row against every key row (encoder self-attention, cross-attention) through the
// backend, heads side by side in rows of d = n_head * d_head floats: per block of query rows,
// scores = q k^T / sqrt(d_head) for all heads at once, softmax, then scores @ v written into
// out's head columns in place. `scores` holds n_head * kAttentionQueryBlock * n_kv floats.
// With `fused` (the default) and where fused_attention applies (AVX-512, 64-column heads,
// enough scratch), that kernel does the work instead, in the same scratch.
void blocked_attention(Gemm& gemm, const float* q, std::int64_t n_q, const float* k, const float* v,
                       std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out,
                       std::span<float> scores, bool fused = true);

}  // namespace earshot::whisper
