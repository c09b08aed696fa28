#pragma once

// One (head, query row) of scaled dot-product attention, vectorised for AVX-512: a decoder
// step's cross-attention reads 1500 keys and values per head, and the portable loop (a dot
// product and a horizontal sum per key, a scalar exp per score) cost more than reading them.
// Scores are computed 16 keys at a time and summed across lanes together, exp is a
// polynomial on 16 lanes, and the weighted sum of V keeps its accumulators in registers.

#include <cstdint>

namespace earshot::whisper {

// out[0, d_head) = softmax(scale * q . k_j for j < n_keys) @ v, where key and value j start
// at k + j * ldk and v + j * ldv (f32, or binary16 bits). `scores` holds n_keys floats.
// Returns false, having done nothing, when this CPU has no AVX-512 or d_head is not a
// multiple of 16 up to 128: the caller then uses its portable loop.
bool attend_row(const float* q, const float* k, std::int64_t ldk, const float* v, std::int64_t ldv,
                std::int64_t n_keys, std::int64_t d_head, float scale, float* scores, float* out);
bool attend_row(const float* q, const std::uint16_t* k, std::int64_t ldk, const std::uint16_t* v,
                std::int64_t ldv, std::int64_t n_keys, std::int64_t d_head, float scale,
                float* scores, float* out);

}  // namespace earshot::whisper
