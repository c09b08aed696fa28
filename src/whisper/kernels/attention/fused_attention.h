#pragma once

// Attention of many query rows over all keys (the encoder's self-attention, 1500 x 1500 per
// head; a long prompt's cross-attention) without a round trip of the scores through memory:
// per head, K is laid out transposed once, then each block of a few query rows computes its
// whole score rows (a few tens of KB, in L1/L2), their softmax and the product with V, on
// AVX-512 with every accumulator in registers.

#include <cstdint>
#include <span>

namespace earshot::whisper {

// Floats of scratch fused_attention needs for these sizes and thread count.
std::int64_t fused_attention_scratch(std::int64_t n_kv, std::int64_t d, int threads);

// out[n_q x d] = per head softmax(q k^T / sqrt(d_head)) v, rows of q, k, v and out `d` apart,
// n_head heads of d / n_head columns side by side. Returns false, having done nothing, when
// the CPU has no AVX-512, d_head is not 64, or `scratch` is smaller than
// fused_attention_scratch(): the caller then uses the backend's batched products.
bool fused_attention(const float* q, std::int64_t n_q, const float* k, const float* v,
                     std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out,
                     std::span<float> scratch, int threads);

}  // namespace earshot::whisper
