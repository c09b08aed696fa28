#pragma once

// Storage types of tensors in a ggml file and their conversion to f32.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace earshot::whisper {

// ggml's type ids (ggml.h `enum ggml_type`) for the types a Whisper file may hold.
enum class GgmlType : std::int32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
};

// How a type packs values: `block_values` consecutive values of a row take `block_bytes`.
struct GgmlTypeLayout {
  std::string_view name;
  int block_values = 1;
  int block_bytes = 4;
  bool quantized = false;
};

// The layout of a ggml type id, nullopt for ids earshot does not read.
std::optional<GgmlTypeLayout> ggml_type_layout(std::int32_t type);

// The name of a ggml file type (ggml.h `enum ggml_ftype`), what a Whisper file's hparam
// `ftype % 1000` holds: the storage of most of its matrices, numbered apart from the tensor
// types above (q8_0 files are file type 7, their tensors type 8). nullopt for file types
// earshot does not read (5 and 6, q4_2 and q4_3, were removed from ggml).
std::optional<std::string_view> ggml_file_type_name(std::int32_t file_type);

// IEEE 754 binary16 -> binary32, exact for every input (subnormals, infinities, NaN).
float fp16_to_fp32(std::uint16_t bits);

// Converts `n` values stored as `type` at `src` to f32. `n` must be a multiple of the type's
// block_values and `src` must hold n / block_values * block_bytes bytes (callers validate).
// `src` has no alignment requirement: ggml files do not align tensor data.
void convert_to_f32(GgmlType type, const std::uint8_t* src, std::size_t n, float* dst);

}  // namespace earshot::whisper
