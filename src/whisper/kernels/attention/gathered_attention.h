#pragma once

// Decoder self-attention for a batch of sequences whose cached keys and values sit in a
// shared pool of rows (batched decoding: beam search, best_of). Each sequence names the pool
// rows of its positions, so forking or reordering sequences moves row indices, not K/V.

#include <cstdint>
#include <span>

#include "whisper/kernels/step_workers.h"

namespace earshot::whisper {

// For each sequence s (one query row each, q + s * ld), attention over the n_keys pool rows
// rows[s * n_keys .. s * n_keys + n_keys) of k_pool / v_pool (rows ld floats apart, heads of
// d_head columns side by side), written to out + s * ld. Scores scaled by d_head^-0.5, as
// attention() in kernels.h. `scratch` holds workers.threads() * n_keys floats.
struct GatheredAttentionShape {
  std::int64_t n_seq = 0;
  std::int64_t n_keys = 0;
  std::int64_t n_head = 0;
  std::int64_t d_head = 0;
  std::int64_t ld = 0;
};
void gathered_attention(const float* q, const float* k_pool, const float* v_pool,
                        std::span<const std::int32_t> rows, float* out,
                        const GatheredAttentionShape& shape, std::span<float> scratch,
                        StepWorkers& workers);

}  // namespace earshot::whisper
