#include "whisper/kernels/gemv.h"

// GCC 12's AVX-512 headers start some intrinsics (cvtph_ps, reduce_add) from
// _mm512_undefined_*, which -W(maybe-)uninitialized reports wherever they are inlined: a false
// positive, off for this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning; clang rejects the unknown name under -Werror
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string_view>
#include <utility>

#include "whisper/model/ggml_types.h"

namespace earshot::whisper {
namespace {

// Threads split the output columns in multiples of this (a multiple of every kernel's
// column block, so that only the last range has a remainder).
constexpr std::int64_t kColumnBlock = 8;

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

// How a matrix stores its weights; the kernels are instantiated per storage type so that the
// inner loop has no branch on it.
enum class Storage { kF32, kF16, kS8 };

Storage storage_of(const WeightMatrix& w) {
  if (w.s8 != nullptr) return Storage::kS8;
  return w.f32 != nullptr ? Storage::kF32 : Storage::kF16;
}

// Bytes per weight, and the first byte of the weights, per storage type.
template <Storage S>
constexpr int kBytes = S == Storage::kF32   ? 4
                       : S == Storage::kF16 ? 2
                                            : 1;
template <Storage S>
const char* weight_bytes(const WeightMatrix& w) {
  if constexpr (S == Storage::kF32) {
    return reinterpret_cast<const char*>(w.f32);
  } else if constexpr (S == Storage::kF16) {
    return reinterpret_cast<const char*>(w.f16);
  } else {
    return reinterpret_cast<const char*>(w.s8);
  }
}
// How many column blocks ahead the AVX-512 kernel prefetches.
constexpr int kPrefetchBlocks = 1;

template <Storage S>
__attribute__((target("avx512f"))) inline __m512 load16_avx512(const WeightMatrix& w,
                                                               std::int64_t index) {
  if constexpr (S == Storage::kS8) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.s8 + index))));
  } else if constexpr (S == Storage::kF32) {
    return _mm512_loadu_ps(w.f32 + index);
  } else {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.f16 + 2 * index)));
  }
}

// Columns [j0, j1) for M rows, 16 lanes of k at a time, C columns together. M and C are
// compile-time so that the M x C accumulators live in registers (a run-time row count kept
// them on the stack, and every multiply-add became a load and a store). Each column's sum
// runs in the same order whatever M and C are, so results do not depend on the row count.
template <Storage S, int M, int C>
__attribute__((target("avx512f"))) void columns_avx512(const float* x, std::int64_t k,
                                                       std::int64_t ldx, const WeightMatrix& w,
                                                       std::int64_t j0, std::int64_t j1, float* y,
                                                       std::int64_t ldy, const float* bias,
                                                       bool gelu, bool accumulate) {
  const std::int64_t k16 = k / 16 * 16;
  std::int64_t j = j0;
  for (; j + C <= j1; j += C) {
    __m512 acc[M][C];
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) acc[i][c] = _mm512_setzero_ps();
    }
    // The next block's weights (C rows, contiguous) are prefetched as this one streams:
    // C x 16 weights' worth of cache lines per step.
    const char* ahead = weight_bytes<S>(w) + (j + C * kPrefetchBlocks) * k * kBytes<S>;
    const char* ahead_end = weight_bytes<S>(w) + j1 * k * kBytes<S>;
    for (std::int64_t l = 0; l < k16; l += 16) {
      if (ahead < ahead_end) {
#pragma GCC unroll 8
        for (int t = 0; t < C * 16 * kBytes<S> / 64; ++t) {
          _mm_prefetch(ahead + 64 * t, _MM_HINT_T0);
        }
        ahead += C * 16 * kBytes<S>;
      }
      __m512 wv[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) wv[c] = load16_avx512<S>(w, (j + c) * k + l);
#pragma GCC unroll 8
      for (int i = 0; i < M; ++i) {
        const __m512 xv = _mm512_loadu_ps(x + i * ldx + l);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[i][c] = _mm512_fmadd_ps(xv, wv[c], acc[i][c]);
      }
    }
    for (int i = 0; i < M; ++i) {
      for (int c = 0; c < C; ++c) {
        float sum = _mm512_reduce_add_ps(acc[i][c]);
        for (std::int64_t l = k16; l < k; ++l) {
          sum += x[i * ldx + l] * load_weight(w, (j + c) * k + l);
        }
        finish(sum * column_scale(w, j + c), i, j + c, y, ldy, bias, gelu, accumulate);
      }
    }
  }
  // The last columns one at a time through the same loop, so that a column's sum does not
  // depend on where the row count's column blocks end (a batched step's rows must come out
  // as they would alone).
  if constexpr (C > 1) {
    columns_avx512<S, M, 1>(x, k, ldx, w, j, j1, y, ldy, bias, gelu, accumulate);
  }
}

template <Storage S>
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8_avx2(const WeightMatrix& w,
                                                                  std::int64_t index) {
  if constexpr (S == Storage::kS8) {
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w.s8 + index))));
  } else if constexpr (S == Storage::kF32) {
    return _mm256_loadu_ps(w.f32 + index);
  } else {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.f16 + 2 * index)));
  }
}

__attribute__((target("avx2,fma,f16c"))) float reduce8(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// columns_avx512 with 8 lanes (16 registers: fewer columns together).
template <Storage S, int M, int C>
__attribute__((target("avx2,fma,f16c"))) void columns_avx2(
    const float* x, std::int64_t k, std::int64_t ldx, const WeightMatrix& w, std::int64_t j0,
    std::int64_t j1, float* y, std::int64_t ldy, const float* bias, bool gelu, bool accumulate) {
  const std::int64_t k8 = k / 8 * 8;
  std::int64_t j = j0;
  for (; j + C <= j1; j += C) {
    __m256 acc[M][C];
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) acc[i][c] = _mm256_setzero_ps();
    }
    for (std::int64_t l = 0; l < k8; l += 8) {
      __m256 wv[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) wv[c] = load8_avx2<S>(w, (j + c) * k + l);
#pragma GCC unroll 8
      for (int i = 0; i < M; ++i) {
        const __m256 xv = _mm256_loadu_ps(x + i * ldx + l);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[i][c] = _mm256_fmadd_ps(xv, wv[c], acc[i][c]);
      }
    }
    for (int i = 0; i < M; ++i) {
      for (int c = 0; c < C; ++c) {
        float sum = reduce8(acc[i][c]);
        for (std::int64_t l = k8; l < k; ++l) {
          sum += x[i * ldx + l] * load_weight(w, (j + c) * k + l);
        }
        finish(sum * column_scale(w, j + c), i, j + c, y, ldy, bias, gelu, accumulate);
      }
    }
  }
  if constexpr (C > 1) {  // as columns_avx512
    columns_avx2<S, M, 1>(x, k, ldx, w, j, j1, y, ldy, bias, gelu, accumulate);
  }
}

using ColumnsKernel = void (*)(const float*, std::int64_t, std::int64_t, const WeightMatrix&,
                               std::int64_t, std::int64_t, float*, std::int64_t, const float*, bool,
                               bool);

// Columns computed together for M rows: enough independent sums to hide the multiply-add
// latency, few enough that accumulators, weights and x fit in the 32 (AVX-512) or 16 (AVX2)
// vector registers.
constexpr int avx512_columns(int m) {
  return m <= 2 ? 8 : m <= 5 ? 4 : 2;
}
constexpr int avx2_columns(int m) {
  return m <= 1 ? 4 : m <= 4 ? 2 : 1;
}

template <Storage S, int... Ms>
constexpr std::array<ColumnsKernel, kMaxGemvRows> avx512_table(
    std::integer_sequence<int, Ms...> /*rows*/) {
  return {&columns_avx512<S, Ms + 1, avx512_columns(Ms + 1)>...};
}
template <Storage S, int... Ms>
constexpr std::array<ColumnsKernel, kMaxGemvRows> avx2_table(
    std::integer_sequence<int, Ms...> /*rows*/) {
  return {&columns_avx2<S, Ms + 1, avx2_columns(Ms + 1)>...};
}

using KernelTable = std::array<std::array<ColumnsKernel, kMaxGemvRows>, 3>;  // [storage][m-1]

struct Dispatch {
  KernelTable kernels{};
  bool vector = false;
  const char* isa = "generic";
};

constexpr auto kRows = std::make_integer_sequence<int, kMaxGemvRows>{};

bool cpu_has(std::string_view isa) {
  __builtin_cpu_init();
  if (isa == "avx512") return __builtin_cpu_supports("avx512f") != 0;
  // Every CPU with AVX2 and FMA has F16C.
  if (isa == "avx2") {
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  }
  return isa == "generic";
}

Dispatch make_dispatch(std::string_view isa) {
  if (isa == "avx512") {
    return {{avx512_table<Storage::kF32>(kRows), avx512_table<Storage::kF16>(kRows),
             avx512_table<Storage::kS8>(kRows)},
            true,
            "avx512"};
  }
  if (isa == "avx2") {
    return {{avx2_table<Storage::kF32>(kRows), avx2_table<Storage::kF16>(kRows),
             avx2_table<Storage::kS8>(kRows)},
            true,
            "avx2"};
  }
  return {};
}

// The best kernels this CPU runs.
const Dispatch& dispatch() {
  static const Dispatch d = make_dispatch(cpu_has("avx512") ? "avx512"
                                          : cpu_has("avx2") ? "avx2"
                                                            : "generic");
  return d;
}

void run_gemv(const Dispatch& d, const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
              const WeightMatrix& w, std::int64_t n, float* y, std::int64_t ldy, const float* bias,
              bool gelu, bool accumulate, StepWorkers& workers) {
  const ColumnsKernel kernel =
      d.vector && m >= 1 && m <= kMaxGemvRows
          ? d.kernels[static_cast<std::size_t>(storage_of(w))][static_cast<std::size_t>(m - 1)]
          : nullptr;
  // One contiguous range of whole column blocks per thread: each streams its own part of
  // the weights.
  auto part = [&](int t, int nt) {
    const ItemRange r = split_items(n, kColumnBlock, t, nt);
    if (r.begin >= r.end) return;
    if (kernel != nullptr) {
      kernel(x, k, ldx, w, r.begin, r.end, y, ldy, bias, gelu, accumulate);
    } else {
      columns_generic(x, m, k, ldx, w, r.begin, r.end, y, ldy, bias, gelu, accumulate);
    }
  };
  workers.run(n * k >= kMinSplitWeights ? workers.threads() : 1, part);
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
  run_gemv(dispatch(), x, m, k, ldx, w, n, y, ldy, bias, gelu, accumulate, workers);
}

bool gemv_linear_with(std::string_view isa, const float* x, std::int64_t m, std::int64_t k,
                      std::int64_t ldx, const WeightMatrix& w, std::int64_t n, float* y,
                      std::int64_t ldy, const float* bias, bool gelu, bool accumulate,
                      StepWorkers& workers) {
  if (!cpu_has(isa)) return false;
  run_gemv(make_dispatch(isa), x, m, k, ldx, w, n, y, ldy, bias, gelu, accumulate, workers);
  return true;
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
