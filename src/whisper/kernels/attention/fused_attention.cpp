#include "whisper/kernels/attention/fused_attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "whisper/kernels/attention/attention_blocks.h"
#include "whisper/kernels/simd.h"

namespace earshot::whisper {
namespace {

constexpr std::int64_t kHeadSize = 64;  // every Whisper model's d_head
constexpr int kDc = kHeadSize / 16;     // vectors per head row
constexpr int kRows = 6;                // query rows per block: 6 x 4 accumulators
constexpr std::int64_t kKeyBlock = 64;  // keys per score tile (4 vectors)

std::int64_t padded(std::int64_t n_kv) {
  return (n_kv + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
}

// Per head, in blocks of 64 keys: kt[h][c][j] = k[j][h * 64 + c] (keys n_kv .. n_pad - 1
// zero), and vp[h][j][c] = v[j][h * 64 + c]: each head's keys and values contiguous, so that
// the blocks below stream them (rows of k and v are d floats apart, several KB for the
// bigger models, which defeats the hardware prefetcher).
void pack_keys_values(const float* k, const float* v, std::int64_t n_kv, std::int64_t n_head,
                      std::int64_t d, float* kt, float* vp, int threads) {
  const std::int64_t n_pad = padded(n_kv);
  const std::int64_t blocks = n_pad / kKeyBlock;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t task = 0; task < n_head * blocks; ++task) {
    const std::int64_t h = task / blocks;
    const std::int64_t j0 = (task % blocks) * kKeyBlock;
    float* kt_head = kt + h * kHeadSize * n_pad;
    float* vp_head = vp + h * n_kv * kHeadSize;
    for (std::int64_t j = j0; j < j0 + kKeyBlock; ++j) {
      if (j >= n_kv) {
        for (std::int64_t c = 0; c < kHeadSize; ++c) kt_head[c * n_pad + j] = 0.0f;
        continue;
      }
      const float* k_row = k + j * d + h * kHeadSize;
      for (std::int64_t c = 0; c < kHeadSize; ++c) kt_head[c * n_pad + j] = k_row[c];
      std::copy_n(v + j * d + h * kHeadSize, kHeadSize, vp_head + j * kHeadSize);
    }
  }
}

// R query rows (starting at q, rows d apart) of one head: kt is the head's [64][n_pad]
// transposed keys, v its [n_kv][64] values; s is R x n_pad scratch.
template <int R>
__attribute__((target("avx512f"))) void attend_block(const float* q, const float* kt,
                                                     const float* v, std::int64_t n_kv,
                                                     std::int64_t d, float scale, float* s,
                                                     float* out) {
  const std::int64_t n_pad = padded(n_kv);
  // Scores, 64 keys at a time: acc[r][c] += q[r][e] * kt[e][j + 16c].
  for (std::int64_t j = 0; j < n_pad; j += kKeyBlock) {
    __m512 acc[R][4];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
    }
    const float* col = kt + j;
    for (std::int64_t e = 0; e < kHeadSize; ++e) {
      __m512 kv[4];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) kv[c] = _mm512_loadu_ps(col + e * n_pad + 16 * c);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512 qb = _mm512_set1_ps(q[r * d + e]);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_fmadd_ps(qb, kv[c], acc[r][c]);
      }
    }
    const __m512 sv = _mm512_set1_ps(scale);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        _mm512_storeu_ps(s + r * n_pad + j + 16 * c, _mm512_mul_ps(acc[r][c], sv));
      }
    }
  }

  // Softmax weights (unnormalised) and 1 / their total, per row.
  float inv_total[R];
  const std::int64_t full = n_kv / 16 * 16;
  const auto tail = static_cast<__mmask16>((1u << (n_kv - full)) - 1u);
  for (int r = 0; r < R; ++r) {
    float* row = s + r * n_pad;
    __m512 vmax = _mm512_set1_ps(-__builtin_inff());
    for (std::int64_t j = 0; j < full; j += 16)
      vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(row + j));
    if (full < n_kv) {
      vmax = _mm512_mask_max_ps(vmax, tail, vmax, _mm512_loadu_ps(row + full));
    }
    const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vtotal = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < full; j += 16) {
      const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + j), mv));
      _mm512_storeu_ps(row + j, e);
      vtotal = _mm512_add_ps(vtotal, e);
    }
    if (full < n_kv) {
      const __m512 e = _mm512_maskz_mov_ps(
          tail, exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + full), mv)));
      _mm512_storeu_ps(row + full, e);
      vtotal = _mm512_add_ps(vtotal, e);
    }
    inv_total[r] = 1.0f / _mm512_reduce_add_ps(vtotal);
  }

  // out[r] = sum_j p[r][j] v[j]: R x 4 accumulators over every key.
  __m512 acc[R][kDc];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int c = 0; c < kDc; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (std::int64_t j = 0; j < n_kv; ++j) {
    const float* vr = v + j * kHeadSize;
    __m512 vv[kDc];
#pragma GCC unroll 4
    for (int c = 0; c < kDc; ++c) vv[c] = _mm512_loadu_ps(vr + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 p = _mm512_set1_ps(s[r * n_pad + j]);
#pragma GCC unroll 4
      for (int c = 0; c < kDc; ++c) acc[r][c] = _mm512_fmadd_ps(p, vv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 it = _mm512_set1_ps(inv_total[r]);
#pragma GCC unroll 4
    for (int c = 0; c < kDc; ++c) {
      _mm512_storeu_ps(out + r * d + 16 * c, _mm512_mul_ps(acc[r][c], it));
    }
  }
}

using BlockKernel = void (*)(const float*, const float*, const float*, std::int64_t, std::int64_t,
                             float, float*, float*);

// attend_block for 1 .. kRows rows (a last block of fewer rows than kRows).
template <int... Rs>
constexpr std::array<BlockKernel, kRows> block_table(std::integer_sequence<int, Rs...> /*r*/) {
  return {&attend_block<Rs + 1>...};
}

void attend_rows(int rows, const float* q, const float* kt, const float* v, std::int64_t n_kv,
                 std::int64_t d, float scale, float* s, float* out) {
  static constexpr auto kTable = block_table(std::make_integer_sequence<int, kRows>{});
  kTable[static_cast<std::size_t>(rows - 1)](q, kt, v, n_kv, d, scale, s, out);
}

}  // namespace

std::int64_t fused_attention_scratch(std::int64_t n_kv, std::int64_t d, int threads) {
  const std::int64_t n_pad = padded(n_kv);
  return d * n_pad + d * n_kv + static_cast<std::int64_t>(std::max(threads, 1)) * kRows * n_pad;
}

bool fused_attention(const float* q, std::int64_t n_q, const float* k, const float* v,
                     std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out,
                     std::span<float> scratch, int threads) {
  threads = std::max(threads, 1);
  if (!cpu_has_avx512() || n_head <= 0 || d != n_head * kHeadSize || n_q <= 0 || n_kv <= 0 ||
      static_cast<std::int64_t>(scratch.size()) < fused_attention_scratch(n_kv, d, threads)) {
    return false;
  }
  const std::int64_t n_pad = padded(n_kv);
  float* kt = scratch.data();
  float* vp = kt + d * n_pad;
  float* scores = vp + d * n_kv;
  pack_keys_values(k, v, n_kv, n_head, d, kt, vp, threads);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadSize));
  for_each_head_block(n_head, n_q, kRows, threads,
                      [&](std::int64_t h, std::int64_t i0, int rows, int thread) {
                        attend_rows(rows, q + i0 * d + h * kHeadSize, kt + h * kHeadSize * n_pad,
                                    vp + h * n_kv * kHeadSize, n_kv, d, scale,
                                    scores + static_cast<std::int64_t>(thread) * kRows * n_pad,
                                    out + i0 * d + h * kHeadSize);
                      });
  return true;
}

}  // namespace earshot::whisper
