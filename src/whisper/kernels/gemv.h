#pragma once

// Products with a handful of rows (a decoder step: one token, or a few beams) are bound by
// reading the weights, not by arithmetic: the kernel here streams each weight once, straight
// from its storage type (f32 or IEEE f16, converted in registers), for all rows at once.
// AVX-512 where the CPU has it (chosen at run time: the rest of the program stays plain
// x86-64), AVX2+F16C next, else portable code.

#include <cstdint>
#include <string_view>

#include "whisper/kernels/step_workers.h"
#include "whisper/model/weight_matrix.h"

namespace earshot::whisper {

// Rows up to which linear products go through the streaming kernel.
inline constexpr std::int64_t kMaxGemvRows = 8;

// Weights from which a product is split over the step workers: one core streams ~20 GB/s
// here, so 2^16 f16 weights take ~6 us alone, several times a task hand-over's cost.
inline constexpr std::int64_t kMinSplitWeights = std::int64_t{1} << 16;

// y[m x n] (row stride ldy) = x[m x k] (row stride ldx) @ w^T + bias, then exact GELU if
// `gelu`, then added to y's previous contents if `accumulate`. m <= kMaxGemvRows. Output
// columns are split over the workers from kMinSplitWeights on.
void gemv_linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                 const WeightMatrix& w, std::int64_t n, float* y, std::int64_t ldy,
                 const float* bias, bool gelu, bool accumulate, StepWorkers& workers);

// gemv_linear with the kernels of one instruction set, "avx512", "avx2" or "generic" (so that
// tests cover every one this CPU runs); false, having done nothing, when the CPU lacks it.
bool gemv_linear_with(std::string_view isa, const float* x, std::int64_t m, std::int64_t k,
                      std::int64_t ldx, const WeightMatrix& w, std::int64_t n, float* y,
                      std::int64_t ldy, const float* bias, bool gelu, bool accumulate,
                      StepWorkers& workers);

// Converts `count` binary16 values (unaligned bytes) to f32, exactly.
void f16_to_f32(const std::uint8_t* src, std::int64_t count, float* dst);

// Which kernel gemv_linear uses on this CPU: "avx512", "avx2" or "generic".
const char* gemv_isa();

}  // namespace earshot::whisper
