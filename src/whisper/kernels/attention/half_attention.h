#pragma once

// Cross-attention over keys and values stored as IEEE binary16 (Precision::kInt8 keeps a
// window's cross-attention K/V so: a decoder step reads every layer's K/V once per token, and
// at f32 they are the largest part of what it reads, 110 MB per token for small).

#include <cstdint>
#include <span>

#include "whisper/kernels/attention/attention.h"
#include "whisper/kernels/step_workers.h"

namespace earshot::whisper {

// Rounds `count` floats to binary16 (round to nearest even; overflow gives infinity).
void f32_to_f16(const float* src, std::int64_t count, std::uint16_t* dst);

// attention() of attention.h with K and V rows of binary16 values (row strides ldk, ldv in
// values). `scratch` holds workers.threads() * shape.n_kv floats.
void attention_f16_kv(const float* q, std::int64_t ldq, const std::uint16_t* k, std::int64_t ldk,
                      const std::uint16_t* v, std::int64_t ldv, float* out, std::int64_t ldo,
                      const AttentionShape& shape, std::span<float> scratch, StepWorkers& workers);

}  // namespace earshot::whisper
