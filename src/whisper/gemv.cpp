#include "whisper/gemv.h"

// GCC 12's AVX-512 headers start some intrinsics (cvtph_ps, reduce_add) from
// _mm512_undefined_*, which -W(maybe-)uninitialized reports wherever they are inlined: a false
// positive, off for this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning; clang rejects the unknown name under -Werror
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "whisper/ggml_types.h"

namespace earshot::whisper {
namespace {

// Output columns computed together: each loaded x vector is reused this many times.
constexpr std::int64_t kColumnBlock = 4;

float gelu_erf(float v) {
  return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f));
}

void finish(float acc, std::int64_t i, std::int64_t j, float* y, std::int64_t ldy,
            const float* bias, bool gelu, bool accumulate) {
  if (bias != nullptr) {
    acc += bias[j];
  }
  if (gelu) {
    acc = gelu_erf(acc);
  }
  float& out = y[i * ldy + j];
  out = accumulate ? out + acc : acc;
}

// A weight as stored: int8 values unscaled (column_scale applies to the whole dot product).
float load_weight(const WeightMatrix& w, std::int64_t index) {
  if (w.s8 != nullptr) {
    return static_cast<float>(w.s8[index]);
  }
  if (w.f32 != nullptr) {
    return w.f32[index];
  }
  std::uint16_t bits = 0;
  std::memcpy(&bits, w.f16 + 2 * index, 2);
  return fp16_to_fp32(bits);
}

float column_scale(const WeightMatrix& w, std::int64_t j) {
  return w.s8 != nullptr ? w.s8_scale[j] : 1.0f;
}

// Columns [j0, j1) for every row, portable code.
void columns_generic(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                     const WeightMatrix& w, std::int64_t j0, std::int64_t j1, float* y,
                     std::int64_t ldy, const float* bias, bool gelu, bool accumulate) {
  float acc[kMaxGemvRows];
  for (std::int64_t j = j0; j < j1; ++j) {
    std::fill(acc, acc + m, 0.0f);
    for (std::int64_t l = 0; l < k; ++l) {
      const float wv = load_weight(w, j * k + l);
      for (std::int64_t i = 0; i < m; ++i) {
        acc[i] += x[i * ldx + l] * wv;
      }
    }
    for (std::int64_t i = 0; i < m; ++i) {
      finish(acc[i] * column_scale(w, j), i, j, y, ldy, bias, gelu, accumulate);
    }
  }
}

__attribute__((target("avx512f"))) inline __m512 load16_avx512(const WeightMatrix& w,
                                                               std::int64_t index) {
  if (w.s8 != nullptr) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.s8 + index))));
  }
  if (w.f32 != nullptr) {
    return _mm512_loadu_ps(w.f32 + index);
  }
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.f16 + 2 * index)));
}

// Columns [j0, j1) for every row, 16 lanes of k at a time, kColumnBlock columns together.
__attribute__((target("avx512f"))) void columns_avx512(const float* x, std::int64_t m,
                                                       std::int64_t k, std::int64_t ldx,
                                                       const WeightMatrix& w, std::int64_t j0,
                                                       std::int64_t j1, float* y, std::int64_t ldy,
                                                       const float* bias, bool gelu,
                                                       bool accumulate) {
  const std::int64_t k16 = k / 16 * 16;
  std::int64_t j = j0;
  for (; j + kColumnBlock <= j1; j += kColumnBlock) {
    __m512 acc[kMaxGemvRows][kColumnBlock];
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t c = 0; c < kColumnBlock; ++c) {
        acc[i][c] = _mm512_setzero_ps();
      }
    }
    for (std::int64_t l = 0; l < k16; l += 16) {
      __m512 wv[kColumnBlock];
      for (std::int64_t c = 0; c < kColumnBlock; ++c) {
        wv[c] = load16_avx512(w, (j + c) * k + l);
      }
      for (std::int64_t i = 0; i < m; ++i) {
        const __m512 xv = _mm512_loadu_ps(x + i * ldx + l);
        for (std::int64_t c = 0; c < kColumnBlock; ++c) {
          acc[i][c] = _mm512_fmadd_ps(xv, wv[c], acc[i][c]);
        }
      }
    }
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t c = 0; c < kColumnBlock; ++c) {
        float sum = _mm512_reduce_add_ps(acc[i][c]);
        for (std::int64_t l = k16; l < k; ++l) {
          sum += x[i * ldx + l] * load_weight(w, (j + c) * k + l);
        }
        finish(sum * column_scale(w, j + c), i, j + c, y, ldy, bias, gelu, accumulate);
      }
    }
  }
  columns_generic(x, m, k, ldx, w, j, j1, y, ldy, bias, gelu, accumulate);
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 load8_avx2(const WeightMatrix& w,
                                                                  std::int64_t index) {
  if (w.s8 != nullptr) {
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w.s8 + index))));
  }
  if (w.f32 != nullptr) {
    return _mm256_loadu_ps(w.f32 + index);
  }
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.f16 + 2 * index)));
}

__attribute__((target("avx2,fma,f16c"))) float reduce8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

__attribute__((target("avx2,fma,f16c"))) void columns_avx2(const float* x, std::int64_t m,
                                                           std::int64_t k, std::int64_t ldx,
                                                           const WeightMatrix& w, std::int64_t j0,
                                                           std::int64_t j1, float* y,
                                                           std::int64_t ldy, const float* bias,
                                                           bool gelu, bool accumulate) {
  const std::int64_t k8 = k / 8 * 8;
  std::int64_t j = j0;
  for (; j + kColumnBlock <= j1; j += kColumnBlock) {
    __m256 acc[kMaxGemvRows][kColumnBlock];
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t c = 0; c < kColumnBlock; ++c) {
        acc[i][c] = _mm256_setzero_ps();
      }
    }
    for (std::int64_t l = 0; l < k8; l += 8) {
      __m256 wv[kColumnBlock];
      for (std::int64_t c = 0; c < kColumnBlock; ++c) {
        wv[c] = load8_avx2(w, (j + c) * k + l);
      }
      for (std::int64_t i = 0; i < m; ++i) {
        const __m256 xv = _mm256_loadu_ps(x + i * ldx + l);
        for (std::int64_t c = 0; c < kColumnBlock; ++c) {
          acc[i][c] = _mm256_fmadd_ps(xv, wv[c], acc[i][c]);
        }
      }
    }
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t c = 0; c < kColumnBlock; ++c) {
        float sum = reduce8(acc[i][c]);
        for (std::int64_t l = k8; l < k; ++l) {
          sum += x[i * ldx + l] * load_weight(w, (j + c) * k + l);
        }
        finish(sum * column_scale(w, j + c), i, j + c, y, ldy, bias, gelu, accumulate);
      }
    }
  }
  columns_generic(x, m, k, ldx, w, j, j1, y, ldy, bias, gelu, accumulate);
}

using ColumnsKernel = void (*)(const float*, std::int64_t, std::int64_t, std::int64_t,
                               const WeightMatrix&, std::int64_t, std::int64_t, float*,
                               std::int64_t, const float*, bool, bool);

struct Dispatch {
  ColumnsKernel kernel = columns_generic;
  const char* isa = "generic";
  Dispatch() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") != 0) {
      kernel = columns_avx512;
      isa = "avx512";
    } else if (__builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0) {
      // Every CPU with AVX2 and FMA has F16C.
      kernel = columns_avx2;
      isa = "avx2";
    }
  }
};

const Dispatch& dispatch() {
  static const Dispatch d;
  return d;
}

__attribute__((target("avx512f"))) void f16_to_f32_avx512(const std::uint8_t* src,
                                                          std::int64_t count, float* dst) {
  std::int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    _mm512_storeu_ps(
        dst + i,
        _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i))));
  }
  for (; i < count; ++i) {
    std::uint16_t bits = 0;
    std::memcpy(&bits, src + 2 * i, 2);
    dst[i] = fp16_to_fp32(bits);
  }
}

}  // namespace

void gemv_linear(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
                 const WeightMatrix& w, std::int64_t n, float* y, std::int64_t ldy,
                 const float* bias, bool gelu, bool accumulate, StepWorkers& workers) {
  const ColumnsKernel kernel = dispatch().kernel;
  // One contiguous range of whole column blocks per thread: each streams its own part of
  // the weights.
  auto part = [&](int t, int nt) {
    const ItemRange r = split_items(n, kColumnBlock, t, nt);
    if (r.begin < r.end) {
      kernel(x, m, k, ldx, w, r.begin, r.end, y, ldy, bias, gelu, accumulate);
    }
  };
  workers.run(n * k >= kMinSplitWeights ? workers.threads() : 1, part);
}

void f16_to_f32(const std::uint8_t* src, std::int64_t count, float* dst) {
  if (std::string_view(dispatch().isa) == "avx512") {
    f16_to_f32_avx512(src, count, dst);
    return;
  }
  for (std::int64_t i = 0; i < count; ++i) {
    std::uint16_t bits = 0;
    std::memcpy(&bits, src + 2 * i, 2);
    dst[i] = fp16_to_fp32(bits);
  }
}

const char* gemv_isa() {
  return dispatch().isa;
}

}  // namespace earshot::whisper
