#include "whisper/kernels/attention/blocked_attention.h"

#include <algorithm>
#include <cmath>

#include "earshot/error.h"
#include "whisper/kernels/attention/fused_attention.h"

namespace earshot::whisper {

void blocked_attention(Gemm& gemm, const float* q, std::int64_t n_q, const float* k, const float* v,
                       std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out,
                       std::span<float> scores, bool fused) {
  if (fused && fused_attention(q, n_q, k, v, n_kv, n_head, d, out, scores, gemm.threads())) {
    return;
  }
  const std::int64_t d_head = d / n_head;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d_head));
  if (static_cast<std::int64_t>(scores.size()) <
      n_head * std::min(n_q, kAttentionQueryBlock) * n_kv) {
    throw Error(ErrorCode::kInternal, "blocked_attention: scores buffer too small");
  }
  for (std::int64_t r0 = 0; r0 < n_q; r0 += kAttentionQueryBlock) {
    const std::int64_t rows = std::min(kAttentionQueryBlock, n_q - r0);
    const MatrixView q_heads{q + r0 * d, n_head, rows, d_head, d_head, d, 1};
    const MatrixView k_heads_t{k, n_head, d_head, n_kv, d_head, 1, d};
    const OutputMatrixView s{scores.data(), n_head, rows, n_kv, rows * n_kv, n_kv, 1};
    gemm.batched(q_heads, k_heads_t, s, scale);
    gemm.softmax_rows(scores.data(), n_head * rows, n_kv);
    const MatrixView p{scores.data(), n_head, rows, n_kv, rows * n_kv, n_kv, 1};
    const MatrixView v_heads{v, n_head, n_kv, d_head, d_head, d, 1};
    const OutputMatrixView o{out + r0 * d, n_head, rows, d_head, d_head, d, 1};
    gemm.batched(p, v_heads, o, 1.0f);
  }
}

}  // namespace earshot::whisper
