#pragma once

// Attention over rows of f32 K/V, the generic kernel the decoder's steps use, and its scalar
// reference (the variants of this folder are listed in README.md).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>

#include "whisper/kernels/attention/attention_rows.h"
#include "whisper/kernels/step_workers.h"

namespace earshot::whisper {

// Scaled dot-product attention of n_q query rows over n_kv key/value rows, n_head heads of
// d_head columns side by side in each row (row strides ldq, ldk, ldv, ldo). Scores are
// scaled by d_head^-0.5 (Whisper scales q and k by d_head^-0.25 each). With causal_offset
// >= 0, query row i sits at absolute position causal_offset + i and sees keys [0, that];
// with -1 every query sees every key. `scratch` holds workers.threads() * n_kv floats. The
// (head, query) pairs are split over the workers from kMinSplitAttentionMacs on.
struct AttentionShape {
  std::int64_t n_q = 0;
  std::int64_t n_kv = 0;
  std::int64_t n_head = 0;
  std::int64_t d_head = 0;
  std::int64_t causal_offset = -1;
};
void attention(const float* q, std::int64_t ldq, const float* k, std::int64_t ldk, const float* v,
               std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape,
               std::span<float> scratch, StepWorkers& workers);

// attention() over K/V rows of any element type KV: dot(q, k_row, n) and axpy(a, v_row, o, n)
// read them (f32 here; binary16 in half_attention.cpp). Where the CPU has AVX-512, f32 and
// binary16 rows go through attend_row instead.
template <typename KV, typename Dot, typename Axpy>
void attention_over(const float* q, std::int64_t ldq, const KV* k, std::int64_t ldk, const KV* v,
                    std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape,
                    std::span<float> scratch, StepWorkers& workers, Dot dot, Axpy axpy);

// Multiply-adds (of q k^T) from which attention() is split over the workers.
inline constexpr std::int64_t kMinSplitAttentionMacs = std::int64_t{1} << 15;

template <typename KV, typename Dot, typename Axpy>
void attention_over(const float* q, std::int64_t ldq, const KV* k, std::int64_t ldk, const KV* v,
                    std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape,
                    std::span<float> scratch, StepWorkers& workers, Dot dot, Axpy axpy) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(shape.d_head));
  const std::int64_t tasks = shape.n_head * shape.n_q;
  const std::int64_t work = tasks * shape.n_kv * shape.d_head;
  auto part = [&](int t, int nt) {
    float* scores = scratch.data() + static_cast<std::int64_t>(t) * shape.n_kv;
    const ItemRange range = split_items(tasks, 1, t, nt);
    for (std::int64_t task = range.begin; task < range.end; ++task) {
      const std::int64_t head = task / shape.n_q;
      const std::int64_t i = task % shape.n_q;
      const std::int64_t n_keys =
          shape.causal_offset >= 0 ? std::min(shape.n_kv, shape.causal_offset + i + 1) : shape.n_kv;
      const std::int64_t column = head * shape.d_head;
      const float* q_row = q + i * ldq + column;
      float* o = out + i * ldo + column;
      if constexpr (std::is_same_v<KV, float> || std::is_same_v<KV, std::uint16_t>) {
        if (attend_row(q_row, k + column, ldk, v + column, ldv, n_keys, shape.d_head, scale, scores,
                       o)) {
          continue;
        }
      }
      float max_score = -std::numeric_limits<float>::infinity();
      for (std::int64_t j = 0; j < n_keys; ++j) {
        scores[j] = dot(q_row, k + j * ldk + column, shape.d_head) * scale;
        max_score = std::max(max_score, scores[j]);
      }
      float total = 0.0f;
      for (std::int64_t j = 0; j < n_keys; ++j) {
        scores[j] = std::exp(scores[j] - max_score);
        total += scores[j];
      }
      std::fill_n(o, shape.d_head, 0.0f);
      for (std::int64_t j = 0; j < n_keys; ++j) {
        axpy(scores[j], v + j * ldv + column, o, shape.d_head);
      }
      const float inv_total = 1.0f / total;
      for (std::int64_t c = 0; c < shape.d_head; ++c) {
        o[c] *= inv_total;
      }
    }
  };
  // A decoder step's cross-attention (n_head x 1500 keys) is bound by reading K and V, which
  // one core cannot do at the memory's pace.
  workers.run(work >= kMinSplitAttentionMacs ? workers.threads() : 1, part);
}

namespace reference {

// Double-precision attention(), for tests of the fast paths.
void attention(const float* q, std::int64_t ldq, const float* k, std::int64_t ldk, const float* v,
               std::int64_t ldv, float* out, std::int64_t ldo, const AttentionShape& shape);

}  // namespace reference

}  // namespace earshot::whisper
