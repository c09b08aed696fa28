#include "whisper/model/ggml_types.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace earshot::whisper {
namespace {

// Quantized blocks (ggml-common.h, quantization version 2) hold 32 values each and start
// with an f16 scale `d`; the "_1" types add an f16 offset `m` (value = q * d + m, q unsigned),
// the "_0" types are symmetric (value = (q - bias) * d). Nibbles: byte j of `qs` holds value
// j in its low half and value j + 16 in its high half. q5 types keep the fifth bits in a
// little-endian uint32 `qh`: bit j belongs to value j.
constexpr int kBlock = 32;

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

std::uint32_t read_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

void convert_q4(const std::uint8_t* block, bool has_min, float* dst) {
  const float d = fp16_to_fp32(read_u16(block));
  const float m = has_min ? fp16_to_fp32(read_u16(block + 2)) : 0.0f;
  const std::uint8_t* qs = block + (has_min ? 4 : 2);
  const int bias = has_min ? 0 : 8;
  for (int j = 0; j < kBlock / 2; ++j) {
    dst[j] = static_cast<float>((qs[j] & 0x0F) - bias) * d + m;
    dst[j + kBlock / 2] = static_cast<float>((qs[j] >> 4) - bias) * d + m;
  }
}

void convert_q5(const std::uint8_t* block, bool has_min, float* dst) {
  const float d = fp16_to_fp32(read_u16(block));
  const float m = has_min ? fp16_to_fp32(read_u16(block + 2)) : 0.0f;
  const std::uint8_t* rest = block + (has_min ? 4 : 2);
  const std::uint32_t qh = read_u32(rest);
  const std::uint8_t* qs = rest + 4;
  const int bias = has_min ? 0 : 16;
  for (int j = 0; j < kBlock / 2; ++j) {
    const int lo = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + kBlock / 2)) & 1u) << 4);
    dst[j] = static_cast<float>(lo - bias) * d + m;
    dst[j + kBlock / 2] = static_cast<float>(hi - bias) * d + m;
  }
}

void convert_q8_0(const std::uint8_t* block, float* dst) {
  const float d = fp16_to_fp32(read_u16(block));
  for (int j = 0; j < kBlock; ++j) {
    dst[j] = static_cast<float>(static_cast<std::int8_t>(block[2 + j])) * d;
  }
}

}  // namespace

std::optional<std::string_view> ggml_file_type_name(std::int32_t file_type) {
  switch (file_type) {
    case 0:
      return "f32";
    case 1:
      return "f16";
    case 2:
      return "q4_0";
    case 3:
      return "q4_1";
    case 4:
      return "q4_1 with some f16";
    case 7:
      return "q8_0";
    case 8:
      return "q5_0";
    case 9:
      return "q5_1";
    default:
      return std::nullopt;
  }
}

std::optional<GgmlTypeLayout> ggml_type_layout(std::int32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32:
      return GgmlTypeLayout{"f32", 1, 4, false};
    case GgmlType::kF16:
      return GgmlTypeLayout{"f16", 1, 2, false};
    case GgmlType::kQ4_0:
      return GgmlTypeLayout{"q4_0", kBlock, 2 + kBlock / 2, true};
    case GgmlType::kQ4_1:
      return GgmlTypeLayout{"q4_1", kBlock, 4 + kBlock / 2, true};
    case GgmlType::kQ5_0:
      return GgmlTypeLayout{"q5_0", kBlock, 2 + 4 + kBlock / 2, true};
    case GgmlType::kQ5_1:
      return GgmlTypeLayout{"q5_1", kBlock, 4 + 4 + kBlock / 2, true};
    case GgmlType::kQ8_0:
      return GgmlTypeLayout{"q8_0", kBlock, 2 + kBlock, true};
  }
  return std::nullopt;
}

float fp16_to_fp32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  const std::uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exactly representable in f32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1F) {
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

void convert_to_f32(GgmlType type, const std::uint8_t* src, std::size_t n, float* dst) {
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case GgmlType::kF16:
      for (std::size_t i = 0; i < n; ++i) {
        dst[i] = fp16_to_fp32(read_u16(src + 2 * i));
      }
      return;
    default:
      break;
  }
  const auto layout = ggml_type_layout(static_cast<std::int32_t>(type));
  const std::size_t blocks = n / kBlock;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::uint8_t* block = src + b * static_cast<std::size_t>(layout->block_bytes);
    float* out = dst + b * kBlock;
    switch (type) {
      case GgmlType::kQ4_0:
        convert_q4(block, false, out);
        break;
      case GgmlType::kQ4_1:
        convert_q4(block, true, out);
        break;
      case GgmlType::kQ5_0:
        convert_q5(block, false, out);
        break;
      case GgmlType::kQ5_1:
        convert_q5(block, true, out);
        break;
      case GgmlType::kQ8_0:
        convert_q8_0(block, out);
        break;
      default:
        break;
    }
  }
}

}  // namespace earshot::whisper
