#include "whisper/kernels/attention/int8_attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "whisper/kernels/attention/attention_blocks.h"
#include "whisper/kernels/simd.h"

#define EARSHOT_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

namespace earshot::whisper {
namespace {

// Head widths: 64 (every released Whisper model) or 32 (small test models); H below.
constexpr int kRows = 6;                // query rows per block: 6 x 4 int32 accumulators
constexpr std::int64_t kKeyBlock = 64;  // keys per score tile (4 vectors of 16)

std::int64_t padded(std::int64_t n_kv) {
  return (n_kv + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
}

// One head's packed keys and values, in the scratch:
//   kq[j / 16][g][j % 16][4]: bytes 4g .. 4g+3 of key j (s8); a vector of 64 bytes holds one
//       group of 16 keys, a vpdpbusd lane per key. Keys n_kv .. n_pad - 1 are zero.
//   k_scale[j], k_comp[j] = 128 * sum of key j's bytes (q carries an offset of 128).
//   vq[j / 2][c][2]: v[j .. j+1][c] (int16 holding [-127, 127]): a vector of 64 bytes holds
//       16 channels x 2 keys, a vpdpwssd lane per channel. Rows n_kv .. (even) are zero.
//   v_scale[c]: channel c's scale over every key.
struct HeadPack {
  std::int8_t* kq;
  float* k_scale;
  std::int32_t* k_comp;
  std::int16_t* vq;
  float* v_scale;
};

// Floats per head of the layout above, for heads of hs columns.
std::int64_t head_floats(std::int64_t n_pad, std::int64_t hs) {
  return n_pad * hs / 4    // kq
         + n_pad           // k_scale
         + n_pad           // k_comp
         + n_pad * hs / 2  // vq
         + hs;             // v_scale
}

HeadPack head_pack(float* base, std::int64_t n_pad, std::int64_t hs) {
  HeadPack p{};
  p.kq = reinterpret_cast<std::int8_t*>(base);
  p.k_scale = base + n_pad * hs / 4;
  p.k_comp = reinterpret_cast<std::int32_t*>(p.k_scale + n_pad);
  p.vq = reinterpret_cast<std::int16_t*>(p.k_scale + 2 * n_pad);
  p.v_scale = p.k_scale + 2 * n_pad + n_pad * hs / 2;
  return p;
}

// Per-thread floats: R x n_pad scores, R x n_pad int16 weights, R x hs u8 query bytes,
// R x hs float partial sums.
std::int64_t thread_floats(std::int64_t n_pad, std::int64_t hs) {
  return kRows * n_pad + kRows * n_pad / 2 + kRows * hs / 4 + kRows * hs;
}

// acc += a . b per 32-bit lane (a unsigned bytes, b signed): vpdpbusd. As inline assembly,
// because GCC 12 kept a block's 24 accumulators of the intrinsic in memory, copying each
// around every instruction (the kernel ran at half speed).
EARSHOT_VNNI inline __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// acc += a . b per 32-bit lane of int16 pairs: vpdpwssd (inline assembly, as above).
EARSHOT_VNNI inline __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// Round-to-nearest 16 floats times `inv` to int32, clamped to [-127, 127].
EARSHOT_VNNI inline __m512i quantize16(__m512 x, __m512 inv) {
  const __m512i i = _mm512_cvtps_epi32(_mm512_mul_ps(x, inv));
  return _mm512_max_epi32(_mm512_min_epi32(i, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
}

template <int H>
EARSHOT_VNNI float max_abs(const float* x) {
  __m512 m = _mm512_abs_ps(_mm512_loadu_ps(x));
  for (int c = 1; c < H / 16; ++c) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + 16 * c)));
  return _mm512_reduce_max_ps(m);
}

// Keys of one block of 16 (j0 .. j0+15) of head h: quantized per key, laid out as above.
template <int H>
EARSHOT_VNNI void pack_keys(const float* k, std::int64_t n_kv, std::int64_t d, std::int64_t h,
                            std::int64_t j0, const HeadPack& p) {
  alignas(64) std::int8_t row[H];
  std::int8_t* block = p.kq + j0 * H;  // 16 keys x H bytes
  for (std::int64_t j = j0; j < j0 + 16; ++j) {
    if (j >= n_kv) {
      for (int g = 0; g < (H / 4); ++g) std::memset(block + (g * 16 + (j - j0)) * 4, 0, 4);
      p.k_scale[j] = 0.0f;
      p.k_comp[j] = 0;
      continue;
    }
    const float* x = k + j * d + h * H;
    const float m = max_abs<H>(x);
    const float scale = m > 0.0f ? m / 127.0f : 0.0f;
    const __m512 inv = _mm512_set1_ps(m > 0.0f ? 127.0f / m : 0.0f);
    __m512i sum = _mm512_setzero_si512();
    for (int c = 0; c < H / 16; ++c) {
      const __m512i i = quantize16(_mm512_loadu_ps(x + 16 * c), inv);
      sum = _mm512_add_epi32(sum, i);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(row + 16 * c), _mm512_cvtepi32_epi8(i));
    }
    for (int g = 0; g < (H / 4); ++g) std::memcpy(block + (g * 16 + (j - j0)) * 4, row + 4 * g, 4);
    p.k_scale[j] = scale;
    p.k_comp[j] = 128 * _mm512_reduce_add_epi32(sum);
  }
}

// Values of head h: a scale per channel over every key, then v[j][c] at vq[j/2][c][j%2]
// (a last odd row's partner zero).
template <int H>
EARSHOT_VNNI void pack_values(const float* v, std::int64_t n_kv, std::int64_t d, std::int64_t h,
                              const HeadPack& p) {
  __m512 m[H / 16];
  for (int c = 0; c < H / 16; ++c) m[c] = _mm512_setzero_ps();
  for (std::int64_t j = 0; j < n_kv; ++j) {
    const float* x = v + j * d + h * H;
    for (int c = 0; c < H / 16; ++c)
      m[c] = _mm512_max_ps(m[c], _mm512_abs_ps(_mm512_loadu_ps(x + 16 * c)));
  }
  __m512 inv[H / 16];
  for (int c = 0; c < H / 16; ++c) {
    const __m512 scale = _mm512_mul_ps(m[c], _mm512_set1_ps(1.0f / 127.0f));
    _mm512_storeu_ps(p.v_scale + 16 * c, scale);
    const __mmask16 nonzero = _mm512_cmp_ps_mask(m[c], _mm512_setzero_ps(), _CMP_GT_OQ);
    inv[c] = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(127.0f), m[c]);
  }
  // Pairs of rows: lane c of a vector holds v[j][c] in its low half, v[j + 1][c] in its high.
  const std::int64_t pairs = (n_kv + 1) / 2;
  for (std::int64_t jp = 0; jp < pairs; ++jp) {
    const float* x0 = v + 2 * jp * d + h * H;
    const bool second = 2 * jp + 1 < n_kv;
    for (int c = 0; c < H / 16; ++c) {
      const __m512i lo = quantize16(_mm512_loadu_ps(x0 + 16 * c), inv[c]);
      const __m512i hi =
          second ? quantize16(_mm512_loadu_ps(x0 + d + 16 * c), inv[c]) : _mm512_setzero_si512();
      const __m512i both = _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xffff)),
                                           _mm512_slli_epi32(hi, 16));
      _mm512_storeu_si512(p.vq + (jp * H + 16 * c) * 2, both);
    }
  }
}

// 2^x for x <= 0 on 16 lanes, times `w`: x = n + f with |f| <= 1/2, 2^f by its Taylor
// polynomial to f^5 (relative error below 3e-6), times 2^n by scalef (0 far below). x is
// first clamped to 0: a row's largest score gives a * t - round(a * max), a rounding error
// above 0 that must not make its weight exceed w.
EARSHOT_VNNI inline __m512 scaled_exp2(__m512 x, float w) {
  x = _mm512_min_ps(x, _mm512_setzero_ps());
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  constexpr float l = 0.693147180559945309f;  // ln 2
  __m512 p = _mm512_set1_ps(w * l * l * l * l * l / 120.0f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(w * l * l * l * l / 24.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(w * l * l * l / 6.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(w * l * l / 2.0f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(w * l));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(w));
  return _mm512_scalef_ps(p, n);
}

// Softmax weights are quantized as round(kWeight e^(s - max)): the largest is kWeight.
constexpr float kWeight = 32767.0f;
// Keys per int32 partial sum of the weighted values: 256 x 32767 x 127 < 2^31.
constexpr std::int64_t kSumPairs = 128;

// R query rows (starting at q, rows d apart) of one head.
template <int H, int R>
EARSHOT_VNNI void attend_block(const float* q, const HeadPack& p, std::int64_t n_kv, std::int64_t d,
                               float scale, float* thread_scratch, float* out) {
  const std::int64_t n_pad = padded(n_kv);
  float* s = thread_scratch;                                     // R x n_pad scores
  auto* w = reinterpret_cast<std::int16_t*>(s + kRows * n_pad);  // R x n_pad weights
  auto* qb = reinterpret_cast<std::uint8_t*>(s + kRows * n_pad + kRows * n_pad / 2);  // R x H
  float* partial = s + kRows * n_pad + kRows * n_pad / 2 + kRows * H / 4;             // R x H

  // Query rows: u8 = round(q / scale_q) + 128. The scores below leave out scale_q and the
  // 1 / sqrt(d_head), folded into the exponent's factor a[r] (with log2 e, for exp2).
  float a[R];
  for (int r = 0; r < R; ++r) {
    const float* x = q + r * d;
    const float m = max_abs<H>(x);
    a[r] = (m > 0.0f ? m / 127.0f : 0.0f) * scale * 1.44269504088896341f;
    const __m512 inv = _mm512_set1_ps(m > 0.0f ? 127.0f / m : 0.0f);
    for (int c = 0; c < H / 16; ++c) {
      const __m512i i =
          _mm512_add_epi32(quantize16(_mm512_loadu_ps(x + 16 * c), inv), _mm512_set1_epi32(128));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + r * H + 16 * c), _mm512_cvtepi32_epi8(i));
    }
  }

  // Scores t = q.k / (scale_q), 64 keys at a time: acc[r][c] += q[r][4g .. 4g+3] .
  // k[j + 16c + lane][4g .. 4g+3]; and each row's largest (padding keys are left out).
  __m512 vmax[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) vmax[r] = _mm512_set1_ps(-__builtin_inff());
  for (std::int64_t j = 0; j < n_pad; j += kKeyBlock) {
    __m512i acc[R][4];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_si512();
    }
    const std::int8_t* kb = p.kq + j * H;
    for (int g = 0; g < (H / 4); ++g) {
      __m512i kv[4];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        kv[c] = _mm512_loadu_si512(kb + (c * (H / 4) + g) * 64);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        std::int32_t four;
        std::memcpy(&four, qb + r * H + 4 * g, 4);
        const __m512i qv = _mm512_set1_epi32(four);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) acc[r][c] = dpbusd(acc[r][c], qv, kv[c]);
      }
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m512i comp = _mm512_loadu_si512(p.k_comp + j + 16 * c);
      const __m512 ks = _mm512_loadu_ps(p.k_scale + j + 16 * c);
      const std::int64_t valid = std::clamp<std::int64_t>(n_kv - j - 16 * c, 0, 16);
      const auto real = static_cast<__mmask16>((1u << valid) - 1u);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][c], comp)), ks);
        vmax[r] = _mm512_mask_max_ps(vmax[r], real, vmax[r], t);
        _mm512_storeu_ps(s + r * n_pad + j + 16 * c, t);
      }
    }
  }

  // Weights round(kWeight 2^(a (t - max))) as int16, and their total per row. Keys past
  // n_kv get 0 up to the next multiple of 16 (so the last pair's partner is 0).
  const std::int64_t pairs = (n_kv + 1) / 2;
  const std::int64_t full = n_kv / 16 * 16;
  const auto tail = static_cast<__mmask16>((1u << (n_kv - full)) - 1u);
  float inv_total[R];
  for (int r = 0; r < R; ++r) {
    const float* row = s + r * n_pad;
    std::int16_t* wr = w + r * n_pad;
    const __m512 av = _mm512_set1_ps(a[r]);
    const __m512 bv = _mm512_set1_ps(a[r] * _mm512_reduce_max_ps(vmax[r]));
    __m512i total = _mm512_setzero_si512();
    for (std::int64_t j = 0; j < full; j += 16) {
      const __m512 e = scaled_exp2(_mm512_fmsub_ps(_mm512_loadu_ps(row + j), av, bv), kWeight);
      const __m512i i = _mm512_cvtps_epi32(e);
      total = _mm512_add_epi32(total, i);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(wr + j), _mm512_cvtsepi32_epi16(i));
    }
    if (full < n_kv) {
      const __m512 e = scaled_exp2(_mm512_fmsub_ps(_mm512_loadu_ps(row + full), av, bv), kWeight);
      const __m512i i = _mm512_maskz_cvtps_epi32(tail, e);
      total = _mm512_add_epi32(total, i);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(wr + full), _mm512_cvtsepi32_epi16(i));
    }
    inv_total[r] = 1.0f / static_cast<float>(_mm512_reduce_add_epi32(total));
  }

  // out[r][c] = sum_j w[r][j] v[j][c], 2 keys per vpdpwssd lane, in int32 over at most
  // kSumPairs pairs, then added up in float.
  for (int i = 0; i < R * H; i += 16) _mm512_storeu_ps(partial + i, _mm512_setzero_ps());
  for (std::int64_t jp0 = 0; jp0 < pairs; jp0 += kSumPairs) {
    const std::int64_t jp1 = std::min(pairs, jp0 + kSumPairs);
    __m512i acc[R][H / 16];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < H / 16; ++c) acc[r][c] = _mm512_setzero_si512();
    }
    for (std::int64_t jp = jp0; jp < jp1; ++jp) {
      const std::int16_t* vb = p.vq + jp * 2 * H;
      __m512i vv[H / 16];
#pragma GCC unroll 4
      for (int c = 0; c < H / 16; ++c) vv[c] = _mm512_loadu_si512(vb + 32 * c);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        std::int32_t two;
        std::memcpy(&two, w + r * n_pad + 2 * jp, 4);
        const __m512i wv = _mm512_set1_epi32(two);
#pragma GCC unroll 4
        for (int c = 0; c < H / 16; ++c) acc[r][c] = dpwssd(acc[r][c], wv, vv[c]);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < H / 16; ++c) {
        float* dst = partial + r * H + 16 * c;
        _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), _mm512_cvtepi32_ps(acc[r][c])));
      }
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < H / 16; ++c) {
    const __m512 vs = _mm512_loadu_ps(p.v_scale + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_mul_ps(_mm512_loadu_ps(partial + r * H + 16 * c), vs);
      _mm512_storeu_ps(out + r * d + 16 * c, _mm512_mul_ps(x, _mm512_set1_ps(inv_total[r])));
    }
  }
}

using BlockKernel = void (*)(const float*, const HeadPack&, std::int64_t, std::int64_t, float,
                             float*, float*);

// attend_block<H, 1 .. kRows> (a last block of fewer rows than kRows).
template <int H, int... Rs>
constexpr std::array<BlockKernel, kRows> block_table(std::integer_sequence<int, Rs...> /*r*/) {
  return {&attend_block<H, Rs + 1>...};
}

template <int H>
void attend_heads(const float* q, std::int64_t n_q, const float* k, const float* v,
                  std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out,
                  float* scratch, int threads) {
  const std::int64_t n_pad = padded(n_kv);
  float* heads = scratch;
  float* per_thread = heads + n_head * head_floats(n_pad, H);
  auto pack = [&](std::int64_t h) {
    return head_pack(heads + h * head_floats(n_pad, H), n_pad, H);
  };

  const std::int64_t key_blocks = n_pad / 16;
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static) nowait
    for (std::int64_t task = 0; task < n_head * key_blocks; ++task) {
      pack_keys<H>(k, n_kv, d, task / key_blocks, (task % key_blocks) * 16,
                   pack(task / key_blocks));
    }
#pragma omp for schedule(static)
    for (std::int64_t h = 0; h < n_head; ++h) pack_values<H>(v, n_kv, d, h, pack(h));
  }

  static constexpr auto kTable = block_table<H>(std::make_integer_sequence<int, kRows>{});
  const float scale = 1.0f / std::sqrt(static_cast<float>(H));
  for_each_head_block(
      n_head, n_q, kRows, threads, [&](std::int64_t h, std::int64_t i0, int rows, int thread) {
        kTable[static_cast<std::size_t>(rows - 1)](
            q + i0 * d + h * H, pack(h), n_kv, d, scale,
            per_thread + static_cast<std::int64_t>(thread) * thread_floats(n_pad, H),
            out + i0 * d + h * H);
      });
}

}  // namespace

bool int8_attention_supported() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
  }();
  return yes;
}

std::int64_t int8_attention_scratch(std::int64_t n_kv, std::int64_t d, int threads) {
  const std::int64_t n_pad = padded(n_kv);
  // Sized for 32-column heads, which need more than 64-column ones of the same width.
  return d / 32 * head_floats(n_pad, 32) +
         static_cast<std::int64_t>(std::max(threads, 1)) * thread_floats(n_pad, 64);
}

bool int8_attention(const float* q, std::int64_t n_q, const float* k, const float* v,
                    std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out,
                    std::span<float> scratch, int threads) {
  threads = std::max(threads, 1);
  const std::int64_t hs = n_head > 0 ? d / n_head : 0;
  if (!int8_attention_supported() || n_head <= 0 || d != n_head * hs || (hs != 64 && hs != 32) ||
      n_q <= 0 || n_kv <= 0 ||
      static_cast<std::int64_t>(scratch.size()) < int8_attention_scratch(n_kv, d, threads)) {
    return false;
  }
  if (hs == 64) {
    attend_heads<64>(q, n_q, k, v, n_kv, n_head, d, out, scratch.data(), threads);
  } else {
    attend_heads<32>(q, n_q, k, v, n_kv, n_head, d, out, scratch.data(), threads);
  }
  return true;
}

}  // namespace earshot::whisper
