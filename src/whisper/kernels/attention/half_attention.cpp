#include "whisper/kernels/attention/half_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "whisper/kernels/simd.h"
#include "whisper/model/ggml_types.h"

namespace earshot::whisper {
namespace {

std::uint16_t to_f16(float value) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, 4);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {
    return static_cast<std::uint16_t>(sign | 0x7e00u);  // NaN
  }
  if (magnitude >= 0x477ff000u) {
    return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504: infinity
  }
  if (magnitude < 0x38800000u) {
    // Subnormal (or zero) in binary16: value / 2^-24, rounded to nearest even.
    float scaled = 0.0f;
    std::memcpy(&scaled, &magnitude, 4);
    return static_cast<std::uint16_t>(
        sign | static_cast<std::uint32_t>(std::nearbyint(scaled * 16777216.0f)));
  }
  const std::uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

__attribute__((target("avx512f"))) void f32_to_f16_avx512(const float* src, std::int64_t count,
                                                          std::uint16_t* dst) {
  std::int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < count; ++i) {
    dst[i] = to_f16(src[i]);
  }
}

__attribute__((target("avx512f"))) float dot_avx512(const float* q, const std::uint16_t* k,
                                                    std::int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (std::int64_t i = 0; i < n; i += 16) {
    const __m512 kv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + i)));
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), kv, acc);
  }
  return _mm512_reduce_add_ps(acc);
}

__attribute__((target("avx512f"))) void axpy_avx512(float a, const std::uint16_t* v, float* o,
                                                    std::int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __m512 vv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)));
    _mm512_storeu_ps(o + i, _mm512_fmadd_ps(av, vv, _mm512_loadu_ps(o + i)));
  }
}

float dot_generic(const float* q, const std::uint16_t* k, std::int64_t n) {
  float sum = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    sum += q[i] * fp16_to_fp32(k[i]);
  }
  return sum;
}

void axpy_generic(float a, const std::uint16_t* v, float* o, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    o[i] += a * fp16_to_fp32(v[i]);
  }
}

}  // namespace

void f32_to_f16(const float* src, std::int64_t count, std::uint16_t* dst) {
  if (cpu_has_avx512()) {
    f32_to_f16_avx512(src, count, dst);
    return;
  }
  for (std::int64_t i = 0; i < count; ++i) {
    dst[i] = to_f16(src[i]);
  }
}

void attention_f16_kv(const float* q, std::int64_t ldq, const std::uint16_t* k, std::int64_t ldk,
                      const std::uint16_t* v, std::int64_t ldv, float* out, std::int64_t ldo,
                      const AttentionShape& shape, std::span<float> scratch, StepWorkers& workers) {
  if (cpu_has_avx512() && shape.d_head % 16 == 0) {
    attention_over(q, ldq, k, ldk, v, ldv, out, ldo, shape, scratch, workers, dot_avx512,
                   axpy_avx512);
  } else {
    attention_over(q, ldq, k, ldk, v, ldv, out, ldo, shape, scratch, workers, dot_generic,
                   axpy_generic);
  }
}

}  // namespace earshot::whisper
