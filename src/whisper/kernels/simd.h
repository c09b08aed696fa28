#pragma once

// What the AVX-512 kernels share: the CPU check, and e^x on 16 lanes for softmaxes (an
// inline function with target("avx512f"): call it only from functions with that target, as
// the rest of the program is built for plain x86-64).

// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_*, which
// -W(maybe-)uninitialized reports wherever they are inlined: a false positive, off for every
// file that includes this one (they are the AVX-512 kernels; gemv.cpp says the same itself).
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

namespace earshot::whisper {

// Whether this CPU runs AVX-512 F (asked once).
inline bool cpu_has_avx512() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return yes;
}

// e^x for x <= 0 on 16 lanes: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor
// polynomial to r^7 (truncation below 1e-8 relative), times 2^n. Below -87.3 the result is
// flushed to 0 (e^-87.3 is 1.2e-38, a softmax weight of nothing).
__attribute__((target("avx512f"))) inline __m512 exp_nonpositive(__m512 x) {
  const __m512 low = _mm512_set1_ps(-87.3f);
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, low, _CMP_LT_OQ);
  x = _mm512_max_ps(x, low);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~tiny), _mm512_scalef_ps(p, n));
}

}  // namespace earshot::whisper
