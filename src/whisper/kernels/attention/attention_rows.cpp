#include "whisper/kernels/attention/attention_rows.h"

#include <array>
#include <type_traits>
#include <utility>

#include "whisper/kernels/simd.h"

namespace earshot::whisper {
namespace {

template <typename KV>
__attribute__((target("avx512f"))) inline __m512 load16(const KV* p) {
  if constexpr (std::is_same_v<KV, float>) {
    return _mm512_loadu_ps(p);
  } else {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
}

// Lane i of the result = the sum of the 16 lanes of a[i].
__attribute__((target("avx512f"))) inline __m512 sum_lanes16(const __m512 (&a)[16]) {
  __m512 x[8];
  for (int i = 0; i < 8; ++i) {
    // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] of a = a[2i], b = a[2i+1].
    x[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                         _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  }
  __m512 y[4];
  for (int i = 0; i < 4; ++i) {
    // Per 128-bit lane: the partial sums of keys 4i .. 4i+3, in order.
    const __m512d c = _mm512_castps_pd(x[2 * i]);
    const __m512d d = _mm512_castps_pd(x[2 * i + 1]);
    y[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(c, d)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(c, d)));
  }
  __m512 z[2];
  for (int i = 0; i < 2; ++i) {
    // 128-bit lanes: keys 8i..8i+3 (lanes 0+1, 2+3 of y), keys 8i+4..8i+7 (likewise).
    z[i] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  return _mm512_add_ps(_mm512_shuffle_f32x4(z[0], z[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(z[0], z[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// DC = d_head / 16 vectors per row.
template <typename KV, int DC>
__attribute__((target("avx512f"))) void attend(const float* q, const KV* k, std::int64_t ldk,
                                               const KV* v, std::int64_t ldv, std::int64_t n_keys,
                                               float scale, float* scores, float* out) {
  __m512 qv[DC];
  for (int c = 0; c < DC; ++c)
    qv[c] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * c), _mm512_set1_ps(scale));

  // Scores, 16 keys at a time, and their maximum.
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  std::int64_t j = 0;
  for (; j + 16 <= n_keys; j += 16) {
    __m512 acc[16];
#pragma GCC unroll 16
    for (int r = 0; r < 16; ++r) {
      const KV* row = k + (j + r) * ldk;
      acc[r] = _mm512_mul_ps(qv[0], load16(row));
#pragma GCC unroll 8
      for (int c = 1; c < DC; ++c) acc[r] = _mm512_fmadd_ps(qv[c], load16(row + 16 * c), acc[r]);
    }
    const __m512 s = sum_lanes16(acc);
    _mm512_storeu_ps(scores + j, s);
    vmax = _mm512_max_ps(vmax, s);
  }
  float max_score = _mm512_reduce_max_ps(vmax);
  for (; j < n_keys; ++j) {
    const KV* row = k + j * ldk;
    __m512 acc = _mm512_mul_ps(qv[0], load16(row));
    for (int c = 1; c < DC; ++c) acc = _mm512_fmadd_ps(qv[c], load16(row + 16 * c), acc);
    scores[j] = _mm512_reduce_add_ps(acc);
    max_score = scores[j] > max_score ? scores[j] : max_score;
  }

  // Softmax weights (unnormalised) and their total.
  const __m512 mv = _mm512_set1_ps(max_score);
  __m512 vtotal = _mm512_setzero_ps();
  j = 0;
  for (; j + 16 <= n_keys; j += 16) {
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(scores + j), mv));
    _mm512_storeu_ps(scores + j, e);
    vtotal = _mm512_add_ps(vtotal, e);
  }
  if (j < n_keys) {
    const auto mask = static_cast<__mmask16>((1u << (n_keys - j)) - 1u);
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, scores + j), mv));
    _mm512_mask_storeu_ps(scores + j, mask, e);
    vtotal = _mm512_add_ps(vtotal, _mm512_maskz_mov_ps(mask, e));
  }
  const float total = _mm512_reduce_add_ps(vtotal);

  // Weighted sum of V: two sets of accumulators (even and odd keys) to overlap the adds.
  __m512 even[DC];
  __m512 odd[DC];
  for (int c = 0; c < DC; ++c) {
    even[c] = _mm512_setzero_ps();
    odd[c] = _mm512_setzero_ps();
  }
  j = 0;
  for (; j + 2 <= n_keys; j += 2) {
    const __m512 p0 = _mm512_set1_ps(scores[j]);
    const __m512 p1 = _mm512_set1_ps(scores[j + 1]);
    const KV* r0 = v + j * ldv;
    const KV* r1 = r0 + ldv;
#pragma GCC unroll 8
    for (int c = 0; c < DC; ++c) {
      even[c] = _mm512_fmadd_ps(p0, load16(r0 + 16 * c), even[c]);
      odd[c] = _mm512_fmadd_ps(p1, load16(r1 + 16 * c), odd[c]);
    }
  }
  if (j < n_keys) {
    const __m512 p0 = _mm512_set1_ps(scores[j]);
    const KV* r0 = v + j * ldv;
    for (int c = 0; c < DC; ++c) even[c] = _mm512_fmadd_ps(p0, load16(r0 + 16 * c), even[c]);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / total);
  for (int c = 0; c < DC; ++c) {
    _mm512_storeu_ps(out + 16 * c, _mm512_mul_ps(_mm512_add_ps(even[c], odd[c]), inv));
  }
}

using AttendKernel = void (*)(const float*, const void*, std::int64_t, const void*, std::int64_t,
                              std::int64_t, float, float*, float*);

template <typename KV, int DC>
void attend_erased(const float* q, const void* k, std::int64_t ldk, const void* v, std::int64_t ldv,
                   std::int64_t n_keys, float scale, float* scores, float* out) {
  attend<KV, DC>(q, static_cast<const KV*>(k), ldk, static_cast<const KV*>(v), ldv, n_keys, scale,
                 scores, out);
}

// The kernel for d_head = 16 * (i + 1), i < 8.
template <typename KV, int... Is>
constexpr std::array<AttendKernel, 8> attend_table(std::integer_sequence<int, Is...> /*i*/) {
  return {&attend_erased<KV, Is + 1>...};
}

template <typename KV>
bool dispatch(const float* q, const KV* k, std::int64_t ldk, const KV* v, std::int64_t ldv,
              std::int64_t n_keys, std::int64_t d_head, float scale, float* scores, float* out) {
  static constexpr auto kTable = attend_table<KV>(std::make_integer_sequence<int, 8>{});
  if (!cpu_has_avx512() || n_keys <= 0 || d_head % 16 != 0 || d_head < 16 || d_head > 128) {
    return false;
  }
  kTable[static_cast<std::size_t>(d_head / 16 - 1)](q, k, ldk, v, ldv, n_keys, scale, scores, out);
  return true;
}

}  // namespace

bool attend_row(const float* q, const float* k, std::int64_t ldk, const float* v, std::int64_t ldv,
                std::int64_t n_keys, std::int64_t d_head, float scale, float* scores, float* out) {
  return dispatch(q, k, ldk, v, ldv, n_keys, d_head, scale, scores, out);
}

bool attend_row(const float* q, const std::uint16_t* k, std::int64_t ldk, const std::uint16_t* v,
                std::int64_t ldv, std::int64_t n_keys, std::int64_t d_head, float scale,
                float* scores, float* out) {
  return dispatch(q, k, ldk, v, ldv, n_keys, d_head, scale, scores, out);
}

}  // namespace earshot::whisper
