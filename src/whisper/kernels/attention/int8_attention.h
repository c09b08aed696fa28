#pragma once

// The encoder's self-attention for Precision::kInt8: fused_attention's blocks (a few query
// rows' whole score rows in cache, softmax, product with V), with both products in
// integers on VNNI.
//   scores: q quantized per query row (u8 with an offset of 128), k per key (s8), summed by
//           `vpdpbusd` (64 multiply-adds an instruction, 4x an f32 FMA's 16) and dequantized
//           as (sum - 128 * sum k) * scale_q * scale_k / sqrt(d_head)
//   softmax in f32; the weights e^(s - max) in [0, 1] quantized as round(32767 e) (int16)
//   output: v quantized per channel of each head (s8 values held in int16), sum_j p_j v_j by
//           `vpdpwssd` in int32 over 256 keys at a time, then in f32, divided by the sum of
//           the quantized weights and multiplied by the channel's scale
// Not bit-compatible with the f32 paths: only for the opt-in reduced-precision path, whose
// agreement with the reference is measured (tests/conformance/int8_agreement_test.cpp).

#include <cstdint>
#include <span>

namespace earshot::whisper {

// Whether this CPU runs the kernel (AVX-512 F, BW and VNNI).
bool int8_attention_supported();

// Floats of scratch int8_attention needs for these sizes and thread count.
std::int64_t int8_attention_scratch(std::int64_t n_kv, std::int64_t d, int threads);

// out[n_q x d] = per head softmax(q k^T / sqrt(d_head)) v, as fused_attention, in int8.
// Heads of 64 columns (every released model) or 32 (small test models). Returns false,
// having done nothing, when the CPU lacks the instructions, d_head is neither, or `scratch`
// is smaller than int8_attention_scratch().
bool int8_attention(const float* q, std::int64_t n_q, const float* k, const float* v,
                    std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out,
                    std::span<float> scratch, int threads);

}  // namespace earshot::whisper
