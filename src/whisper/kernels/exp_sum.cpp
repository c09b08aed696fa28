#include <cmath>

#include "whisper/kernels/kernels.h"
#include "whisper/kernels/simd.h"

namespace earshot::whisper {
namespace {

__attribute__((target("avx512f"))) double sum_exp_avx512(const float* x, std::int64_t n,
                                                         float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  // Four double accumulators of 8 lanes: 51865 terms summed in float would lose ~1e-6.
  __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                    _mm512_setzero_pd()};
  std::int64_t i = 0;
  int a = 0;
  for (; i + 16 <= n; i += 16, a = (a + 2) & 3) {
    const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    acc[a] = _mm512_add_pd(acc[a], _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    acc[a + 1] = _mm512_add_pd(
        acc[a + 1],
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  if (i < n) {
    const auto mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 e = _mm512_maskz_mov_ps(
        mask, exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + i), s)));
    acc[0] = _mm512_add_pd(acc[0], _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    acc[1] = _mm512_add_pd(
        acc[1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  }
  return _mm512_reduce_add_pd(
      _mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])));
}

}  // namespace

double sum_exp(const float* x, std::int64_t n, float shift) {
  if (cpu_has_avx512()) {
    return sum_exp_avx512(x, n, shift);
  }
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    sum += std::exp(static_cast<double>(x[i]) - shift);
  }
  return sum;
}

}  // namespace earshot::whisper
