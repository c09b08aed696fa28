#pragma once

// How the matrix products (kernels/gemv.h, kernels/gemm/gemm.h) see a model's matrix.

#include <cstdint>

namespace earshot::whisper {

// A weight matrix [n x k] row-major as the model holds it: f32 values, binary16 values
// (2 bytes each, little-endian, no alignment: a ggml file does not align tensor data), or
// int8 values with one scale per row (Precision::kInt8: value = s8 * s8_scale[row]).
struct WeightMatrix {
  const float* f32 = nullptr;
  const std::uint8_t* f16 = nullptr;
  const std::int8_t* s8 = nullptr;
  const float* s8_scale = nullptr;
};

}  // namespace earshot::whisper
