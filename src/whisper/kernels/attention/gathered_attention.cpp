#include "whisper/kernels/attention/gathered_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "whisper/kernels/attention/attention.h"

namespace earshot::whisper {

void gathered_attention(const float* q, const float* k_pool, const float* v_pool,
                        std::span<const std::int32_t> rows, float* out,
                        const GatheredAttentionShape& shape, std::span<float> scratch,
                        StepWorkers& workers) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(shape.d_head));
  const std::int64_t tasks = shape.n_seq * shape.n_head;
  const std::int64_t work = tasks * shape.n_keys * shape.d_head;
  auto part = [&](int t, int nt) {
    float* scores = scratch.data() + static_cast<std::int64_t>(t) * shape.n_keys;
    const ItemRange range = split_items(tasks, 1, t, nt);
    for (std::int64_t task = range.begin; task < range.end; ++task) {
      const std::int64_t s = task / shape.n_head;
      const std::int64_t head = task % shape.n_head;
      const std::int64_t column = head * shape.d_head;
      const float* q_row = q + s * shape.ld + column;
      const std::int32_t* keys = rows.data() + s * shape.n_keys;
      float max_score = -std::numeric_limits<float>::infinity();
      for (std::int64_t j = 0; j < shape.n_keys; ++j) {
        const float* k_row = k_pool + static_cast<std::int64_t>(keys[j]) * shape.ld + column;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (std::int64_t c = 0; c < shape.d_head; ++c) {
          dot += q_row[c] * k_row[c];
        }
        scores[j] = dot * scale;
        max_score = std::max(max_score, scores[j]);
      }
      float total = 0.0f;
      for (std::int64_t j = 0; j < shape.n_keys; ++j) {
        scores[j] = std::exp(scores[j] - max_score);
        total += scores[j];
      }
      float* o = out + s * shape.ld + column;
      std::fill_n(o, shape.d_head, 0.0f);
      for (std::int64_t j = 0; j < shape.n_keys; ++j) {
        const float* v_row = v_pool + static_cast<std::int64_t>(keys[j]) * shape.ld + column;
        const float weight = scores[j];
#pragma omp simd
        for (std::int64_t c = 0; c < shape.d_head; ++c) {
          o[c] += weight * v_row[c];
        }
      }
      const float inv_total = 1.0f / total;
      for (std::int64_t c = 0; c < shape.d_head; ++c) {
        o[c] *= inv_total;
      }
    }
  };
  workers.run(work >= kMinSplitAttentionMacs ? workers.threads() : 1, part);
}

}  // namespace earshot::whisper
