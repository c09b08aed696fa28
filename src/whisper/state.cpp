#include "whisper/state.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "earshot/error.h"
#include "whisper/fused_attention.h"
#include "whisper/gathered_attention.h"
#include "whisper/gemm.h"
#include "whisper/half_attention.h"
#include "whisper/kernels.h"
#include "whisper/model.h"

namespace earshot::whisper {
namespace {

std::size_t size(std::int64_t a, std::int64_t b) {
  return static_cast<std::size_t>(a) * static_cast<std::size_t>(b);
}

}  // namespace

struct WhisperState::Impl {
  Impl(const Model& m, int n_threads)
      : model(m),
        dims(m.dims()),
        // Never more than OMP_THREAD_LIMIT allows: oneDNN splits a product for the threads it
        // asks for, and getting fewer gave wrong results (seen with OMP_THREAD_LIMIT=1).
        threads(std::min(n_threads > 0 ? n_threads : std::max(1, omp_get_num_procs()),
                         std::max(1, omp_get_thread_limit()))),
        half_cross(m.precision() == Precision::kInt8),
        gemm(threads) {
    const std::int64_t d = dims.n_audio_state;
    const std::int64_t ctx = dims.n_audio_ctx;
    const std::int64_t dt = dims.n_text_state;
    const std::int64_t text_ctx = dims.n_text_ctx;
    // The convolutions' buffers, the MLP's hidden layer and the attention scores are never
    // live at the same time: one allocation serves them all (small: 27 MB less per state).
    const std::size_t columns = std::max(size(2 * ctx, 3 * dims.n_mels), size(ctx, 3 * d));
    const std::int64_t heads = std::max(dims.n_audio_head, dims.n_text_head);
    // Either blocked_attention's scores or fused_attention's packed K/V and score rows.
    const std::size_t score_count =
        std::max(size(heads * kAttentionQueryBlock, ctx),
                 static_cast<std::size_t>(fused_attention_scratch(ctx, std::max(d, dt), threads)));
    shared_scratch.resize(std::max({columns + size(2 * ctx, d), size(ctx, 4 * d), score_count}));
    conv_columns = std::span(shared_scratch).first(columns);
    conv1_out = std::span(shared_scratch).subspan(columns, size(2 * ctx, d));
    enc_mlp = std::span(shared_scratch).first(size(ctx, 4 * d));
    scores = std::span(shared_scratch).first(score_count);
    enc_x.resize(size(ctx, d));
    enc_h.resize(size(ctx, d));
    enc_q.resize(size(ctx, d));
    enc_k.resize(size(ctx, d));
    enc_v.resize(size(ctx, d));
    encoder_out.resize(size(ctx, d));
    if (half_cross) {
      cross_k16.resize(size(dims.n_text_layer, ctx * dt));
      cross_v16.resize(size(dims.n_text_layer, ctx * dt));
    } else {
      cross_k.resize(size(dims.n_text_layer, ctx * dt));
      cross_v.resize(size(dims.n_text_layer, ctx * dt));
    }
    self_k.resize(size(dims.n_text_layer, text_ctx * dt));
    self_v.resize(size(dims.n_text_layer, text_ctx * dt));
    dec_x.resize(size(text_ctx, dt));
    dec_h.resize(size(text_ctx, dt));
    dec_q.resize(size(text_ctx, dt));
    dec_attn.resize(size(text_ctx, dt));
    dec_mlp.resize(size(text_ctx, 4 * dt));
    attention_scratch.resize(size(threads, std::max(text_ctx, ctx)));
  }

  void full_attention(const float* q, std::int64_t n_q, const float* k, const float* v,
                      std::int64_t n_kv, std::int64_t n_head, std::int64_t d, float* out) {
    blocked_attention(gemm, q, n_q, k, v, n_kv, n_head, d, out, scores);
  }

  void encode(std::span<const float> mel);
  void decode(std::span<const std::int32_t> tokens, bool all_rows, std::vector<float>& logits);

  const Model& model;
  const ModelDims dims;
  const int threads;
  // Precision::kInt8 keeps the cross-attention K/V as binary16 (half_attention.h).
  const bool half_cross;
  Gemm gemm;

  // Encoder activations, [frames x width] row-major.
  std::vector<float> shared_scratch;
  std::span<float> conv_columns;  // im2col of either convolution
  std::span<float> conv1_out;
  std::span<float> enc_mlp;  // the MLP's hidden layer
  std::span<float> scores;   // attention scores of one block of queries
  // enc_h also takes the attention's output: q, k and v are made from it first.
  std::vector<float> enc_x, enc_h, enc_q, enc_k, enc_v;
  std::vector<float> encoder_out;
  bool encoded = false;

  // Per decoder layer: cross-attention K/V of the current window (f32, or binary16 when
  // half_cross), self-attention cache.
  std::vector<float> cross_k, cross_v;
  std::vector<std::uint16_t> cross_k16, cross_v16;
  // Attention of n query rows (dec_q) over layer l's cross K/V, into dec_attn.
  void cross_attention(std::size_t l, std::int64_t n, std::span<float> scratch);
  // Layer l of cross K or V as f32: as stored, or converted into `converted` when binary16.
  const float* cross_f32(const std::vector<float>& f32, const std::vector<std::uint16_t>& f16,
                         std::size_t l, std::vector<float>& converted);
  std::vector<float> self_k, self_v;
  int n_past = 0;

  // Decoder activations for up to n_text_ctx tokens at once.
  std::vector<float> dec_x, dec_h, dec_q, dec_attn, dec_mlp;
  std::vector<float> attention_scratch;

  // Batched decoding (fork / decode_batch / reorder): every sequence's K/V rows in one pool per
  // layer, [layer][pool_capacity x d]; each sequence lists the pool rows of its positions, so
  // a beam reorder copies row indices, never K/V.
  void fork(int n, int max_steps);
  void decode_batch(std::span<const std::int32_t> tokens, std::vector<float>& logits);
  std::vector<float> pool_k, pool_v;
  std::int64_t pool_capacity = 0;
  std::int64_t pool_used = 0;
  std::vector<std::vector<std::int32_t>> sequence_rows;
  std::vector<std::int32_t> gathered_rows;
  std::vector<float> batch_scratch;

  // Raw cross-attention scores q k^T / sqrt(d_head) of chosen (layer, head) pairs, captured by
  // decode() when set: [pair][token][n_audio_ctx] (word timestamps).
  std::span<const std::pair<int, int>> capture_heads;
  std::vector<float>* captured_scores = nullptr;
  void capture_cross_scores(std::size_t layer, std::int64_t n);
};

void WhisperState::Impl::encode(std::span<const float> mel) {
  const std::int64_t ctx = dims.n_audio_ctx;
  const std::int64_t frames = 2 * ctx;
  const std::int64_t n_mels = dims.n_mels;
  const std::int64_t d = dims.n_audio_state;
  if (mel.size() != size(n_mels, frames)) {
    throw Error(ErrorCode::kInvalidArgument, "encode: mel of " + std::to_string(mel.size()) +
                                                 " values, expected " + std::to_string(n_mels) +
                                                 " x " + std::to_string(frames));
  }
  const auto& w = model.weights().encoder;
  float* cols = conv_columns.data();

  // conv1 (kernel 3, padding 1) as a product: row t holds mel[c][t + j - 1] at column c*3 + j,
  // matching the weight's PyTorch layout [out][in][kernel].
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t t = 0; t < frames; ++t) {
    float* row = cols + t * 3 * n_mels;
    for (std::int64_t c = 0; c < n_mels; ++c) {
      for (std::int64_t j = 0; j < 3; ++j) {
        const std::int64_t src = t + j - 1;
        row[c * 3 + j] = (src >= 0 && src < frames) ? mel[size(c, frames) + src] : 0.0f;
      }
    }
  }
  gemm.linear(cols, frames, 3 * n_mels, 3 * n_mels, w.conv1_weight.ptr(), d, conv1_out.data(), d,
              {.bias = w.conv1_bias.ptr(), .gelu = true});

  // conv2 (kernel 3, stride 2, padding 1) over conv1's [frames x d] output.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t t = 0; t < ctx; ++t) {
    float* row = cols + t * 3 * d;
    for (std::int64_t c = 0; c < d; ++c) {
      for (std::int64_t j = 0; j < 3; ++j) {
        const std::int64_t src = 2 * t + j - 1;
        row[c * 3 + j] = (src >= 0 && src < frames) ? conv1_out[size(src, d) + c] : 0.0f;
      }
    }
  }
  float* x = enc_x.data();
  gemm.linear(cols, ctx, 3 * d, 3 * d, w.conv2_weight.ptr(), d, x, d,
              {.bias = w.conv2_bias.ptr(), .gelu = true});
  add_in_place(x, w.positional_embedding.ptr(), ctx * d);

  for (const auto& block : w.blocks) {
    layer_norm(x, ctx, d, block.attn_ln.weight.ptr(), block.attn_ln.bias.ptr(), enc_h.data(),
               threads);
    gemm.linear(enc_h.data(), ctx, d, d, block.attn.query.weight.matrix(), d, enc_q.data(), d,
                {.bias = block.attn.query.bias.ptr()});
    gemm.linear(enc_h.data(), ctx, d, d, block.attn.key.weight.matrix(), d, enc_k.data(), d);
    gemm.linear(enc_h.data(), ctx, d, d, block.attn.value.weight.matrix(), d, enc_v.data(), d,
                {.bias = block.attn.value.bias.ptr()});
    full_attention(enc_q.data(), ctx, enc_k.data(), enc_v.data(), ctx, dims.n_audio_head, d,
                   enc_h.data());
    gemm.linear(enc_h.data(), ctx, d, d, block.attn.out.weight.matrix(), d, x, d,
                {.bias = block.attn.out.bias.ptr(), .accumulate = true});

    layer_norm(x, ctx, d, block.mlp_ln.weight.ptr(), block.mlp_ln.bias.ptr(), enc_h.data(),
               threads);
    gemm.linear(enc_h.data(), ctx, d, d, block.mlp_fc1.weight.matrix(), 4 * d, enc_mlp.data(),
                4 * d, {.bias = block.mlp_fc1.bias.ptr(), .gelu = true});
    gemm.linear(enc_mlp.data(), ctx, 4 * d, 4 * d, block.mlp_fc2.weight.matrix(), d, x, d,
                {.bias = block.mlp_fc2.bias.ptr(), .accumulate = true});
  }
  layer_norm(x, ctx, d, w.ln_post.weight.ptr(), w.ln_post.bias.ptr(), encoder_out.data(), threads);

  // Cross-attention keys and values depend only on the encoder output: once per window.
  const std::int64_t dt = dims.n_text_state;
  const auto& dec = model.weights().decoder;
  for (std::size_t l = 0; l < dec.blocks.size(); ++l) {
    const auto& attn = dec.blocks[l].cross_attn;
    float* k = half_cross ? enc_k.data() : cross_k.data() + l * size(ctx, dt);
    float* v = half_cross ? enc_v.data() : cross_v.data() + l * size(ctx, dt);
    gemm.linear(encoder_out.data(), ctx, dt, dt, attn.key.weight.matrix(), dt, k, dt);
    gemm.linear(encoder_out.data(), ctx, dt, dt, attn.value.weight.matrix(), dt, v, dt,
                {.bias = attn.value.bias.ptr()});
    if (half_cross) {
      f32_to_f16(k, ctx * dt, cross_k16.data() + l * size(ctx, dt));
      f32_to_f16(v, ctx * dt, cross_v16.data() + l * size(ctx, dt));
    }
  }
  encoded = true;
  n_past = 0;
}

void WhisperState::Impl::decode(std::span<const std::int32_t> tokens, bool all_rows,
                                std::vector<float>& logits) {
  if (!encoded) {
    throw Error(ErrorCode::kInvalidArgument, "decode: no window encoded yet");
  }
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (n == 0) {
    throw Error(ErrorCode::kInvalidArgument, "decode: no tokens");
  }
  if (n_past + n > dims.n_text_ctx) {
    throw Error(ErrorCode::kInvalidArgument,
                "decode: " + std::to_string(n_past) + " cached + " + std::to_string(n) +
                    " new tokens exceed n_text_ctx " + std::to_string(dims.n_text_ctx));
  }
  for (const std::int32_t token : tokens) {
    if (token < 0 || token >= dims.n_vocab) {
      throw Error(ErrorCode::kInvalidArgument,
                  "decode: token " + std::to_string(token) + " outside the vocabulary");
    }
  }
  const auto& w = model.weights().decoder;
  const std::int64_t d = dims.n_text_state;
  const std::int64_t text_ctx = dims.n_text_ctx;
  float* x = dec_x.data();
  float* h = dec_h.data();
  for (std::int64_t i = 0; i < n; ++i) {
    w.token_embedding.row_to_f32(tokens[static_cast<std::size_t>(i)], x + i * d);
    add_in_place(x + i * d, w.positional_embedding.ptr() + size(n_past + i, d), d);
  }

  const AttentionShape self_shape{.n_q = n,
                                  .n_kv = n_past + n,
                                  .n_head = dims.n_text_head,
                                  .d_head = d / dims.n_text_head,
                                  .causal_offset = n_past};
  for (std::size_t l = 0; l < w.blocks.size(); ++l) {
    const auto& block = w.blocks[l];
    float* layer_k = self_k.data() + l * size(text_ctx, d);
    float* layer_v = self_v.data() + l * size(text_ctx, d);
    layer_norm(x, n, d, block.attn_ln.weight.ptr(), block.attn_ln.bias.ptr(), h, threads);
    gemm.linear(h, n, d, d, block.attn.query.weight.matrix(), d, dec_q.data(), d,
                {.bias = block.attn.query.bias.ptr()});
    gemm.linear(h, n, d, d, block.attn.key.weight.matrix(), d, layer_k + n_past * d, d);
    gemm.linear(h, n, d, d, block.attn.value.weight.matrix(), d, layer_v + n_past * d, d,
                {.bias = block.attn.value.bias.ptr()});
    attention(dec_q.data(), d, layer_k, d, layer_v, d, dec_attn.data(), d, self_shape,
              attention_scratch, gemm.step_workers());
    gemm.linear(dec_attn.data(), n, d, d, block.attn.out.weight.matrix(), d, x, d,
                {.bias = block.attn.out.bias.ptr(), .accumulate = true});

    layer_norm(x, n, d, block.cross_attn_ln.weight.ptr(), block.cross_attn_ln.bias.ptr(), h,
               threads);
    gemm.linear(h, n, d, d, block.cross_attn.query.weight.matrix(), d, dec_q.data(), d,
                {.bias = block.cross_attn.query.bias.ptr()});
    if (captured_scores != nullptr) {
      capture_cross_scores(l, n);
    }
    cross_attention(l, n, attention_scratch);
    gemm.linear(dec_attn.data(), n, d, d, block.cross_attn.out.weight.matrix(), d, x, d,
                {.bias = block.cross_attn.out.bias.ptr(), .accumulate = true});

    layer_norm(x, n, d, block.mlp_ln.weight.ptr(), block.mlp_ln.bias.ptr(), h, threads);
    gemm.linear(h, n, d, d, block.mlp_fc1.weight.matrix(), 4 * d, dec_mlp.data(), 4 * d,
                {.bias = block.mlp_fc1.bias.ptr(), .gelu = true});
    gemm.linear(dec_mlp.data(), n, 4 * d, 4 * d, block.mlp_fc2.weight.matrix(), d, x, d,
                {.bias = block.mlp_fc2.bias.ptr(), .accumulate = true});
  }
  n_past += static_cast<int>(n);

  // Logits = ln(x) @ token_embedding^T, only for the rows the caller wants.
  const std::int64_t first = all_rows ? 0 : n - 1;
  const std::int64_t rows = n - first;
  layer_norm(x + first * d, rows, d, w.ln.weight.ptr(), w.ln.bias.ptr(), h, threads);
  logits.resize(size(rows, dims.n_vocab));
  gemm.linear(h, rows, d, d, w.token_embedding.matrix(), dims.n_vocab, logits.data(), dims.n_vocab);
}

WhisperState::WhisperState(const Model& model, int threads)
    : impl_(std::make_unique<Impl>(model, threads)) {}

WhisperState::~WhisperState() = default;

void WhisperState::encode(std::span<const float> mel) {
  impl_->encode(mel);
}

std::span<const float> WhisperState::encoder_output() const {
  return impl_->encoder_out;
}

void WhisperState::decode(std::span<const std::int32_t> tokens, bool all_rows,
                          std::vector<float>& logits) {
  impl_->decode(tokens, all_rows, logits);
}

int WhisperState::n_past() const {
  return impl_->n_past;
}

void WhisperState::truncate(int n) {
  if (n < 0 || n > impl_->n_past) {
    throw Error(ErrorCode::kInvalidArgument, "truncate: " + std::to_string(n) + " is outside [0, " +
                                                 std::to_string(impl_->n_past) + "]");
  }
  impl_->n_past = n;
}

const Model& WhisperState::model() const {
  return impl_->model;
}

const float* WhisperState::Impl::cross_f32(const std::vector<float>& f32,
                                           const std::vector<std::uint16_t>& f16, std::size_t l,
                                           std::vector<float>& converted) {
  const std::size_t count = size(dims.n_audio_ctx, dims.n_text_state);
  if (!half_cross) {
    return f32.data() + l * count;
  }
  f16_to_f32(reinterpret_cast<const std::uint8_t*>(f16.data() + l * count),
             static_cast<std::int64_t>(count), converted.data());
  return converted.data();
}

void WhisperState::Impl::cross_attention(std::size_t l, std::int64_t n, std::span<float> scratch) {
  const std::int64_t d = dims.n_text_state;
  const std::int64_t ctx = dims.n_audio_ctx;
  if (n > kMaxGemvRows) {
    // Many query rows (a prompt): the backend's batched products over f32 K/V.
    const float* k = cross_f32(cross_k, cross_k16, l, enc_k);
    const float* v = cross_f32(cross_v, cross_v16, l, enc_v);
    full_attention(dec_q.data(), n, k, v, ctx, dims.n_text_head, d, dec_attn.data());
    return;
  }
  // A decoder step's few query rows: the direct kernel reads K and V once, where the
  // backend's strided batched products (K addressed transposed) cost several times more.
  const AttentionShape shape{.n_q = n,
                             .n_kv = ctx,
                             .n_head = dims.n_text_head,
                             .d_head = d / dims.n_text_head,
                             .causal_offset = -1};
  if (half_cross) {
    attention_f16_kv(dec_q.data(), d, cross_k16.data() + l * size(ctx, d), d,
                     cross_v16.data() + l * size(ctx, d), d, dec_attn.data(), d, shape, scratch,
                     gemm.step_workers());
  } else {
    attention(dec_q.data(), d, cross_k.data() + l * size(ctx, d), d,
              cross_v.data() + l * size(ctx, d), d, dec_attn.data(), d, shape, scratch,
              gemm.step_workers());
  }
}

void WhisperState::Impl::capture_cross_scores(std::size_t layer, std::int64_t n) {
  const std::int64_t d = dims.n_text_state;
  const std::int64_t ctx = dims.n_audio_ctx;
  const std::int64_t d_head = d / dims.n_text_head;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d_head));
  const float* k = cross_f32(cross_k, cross_k16, layer, enc_k);
  for (std::size_t p = 0; p < capture_heads.size(); ++p) {
    if (capture_heads[p].first != static_cast<int>(layer)) {
      continue;
    }
    const std::int64_t column = capture_heads[p].second * d_head;
    float* out = captured_scores->data() + p * size(n, ctx);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const float* q = dec_q.data() + i * d + column;
      for (std::int64_t j = 0; j < ctx; ++j) {
        const float* kj = k + j * d + column;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (std::int64_t c = 0; c < d_head; ++c) {
          dot += q[c] * kj[c];
        }
        out[i * ctx + j] = dot * scale;
      }
    }
  }
}

void WhisperState::Impl::fork(int n, int max_steps) {
  if (!encoded) {
    throw Error(ErrorCode::kInvalidArgument, "fork: no window encoded yet");
  }
  if (n < 1 || n > dims.n_text_ctx) {
    throw Error(ErrorCode::kInvalidArgument, "fork: " + std::to_string(n) + " sequences");
  }
  const std::int64_t d = dims.n_text_state;
  const std::int64_t layers = dims.n_text_layer;
  const std::int64_t steps = std::clamp<std::int64_t>(max_steps, 1, dims.n_text_ctx - n_past);
  const std::int64_t capacity = n_past + n * steps;
  if (capacity > pool_capacity) {
    pool_k.resize(size(layers * capacity, d));
    pool_v.resize(size(layers * capacity, d));
    pool_capacity = capacity;
  }
  // The shared prefix (prompt and start sequence) is copied once per window.
  for (std::int64_t l = 0; l < layers; ++l) {
    const std::size_t from = l * size(dims.n_text_ctx, d);
    const std::size_t to = l * size(pool_capacity, d);
    std::copy_n(self_k.begin() + static_cast<std::ptrdiff_t>(from), n_past * d,
                pool_k.begin() + static_cast<std::ptrdiff_t>(to));
    std::copy_n(self_v.begin() + static_cast<std::ptrdiff_t>(from), n_past * d,
                pool_v.begin() + static_cast<std::ptrdiff_t>(to));
  }
  pool_used = n_past;
  std::vector<std::int32_t> prefix(static_cast<std::size_t>(n_past));
  for (int i = 0; i < n_past; ++i) {
    prefix[static_cast<std::size_t>(i)] = i;
  }
  sequence_rows.assign(static_cast<std::size_t>(n), prefix);
  batch_scratch.resize(size(threads, std::max<std::int64_t>(dims.n_text_ctx, dims.n_audio_ctx)));
}

void WhisperState::Impl::decode_batch(std::span<const std::int32_t> tokens,
                                      std::vector<float>& logits) {
  const auto n = static_cast<std::int64_t>(tokens.size());
  if (sequence_rows.empty() || n != static_cast<std::int64_t>(sequence_rows.size())) {
    throw Error(ErrorCode::kInvalidArgument, "decode_batch: one token per forked sequence needed");
  }
  const auto position = static_cast<std::int64_t>(sequence_rows.front().size());
  if (position >= dims.n_text_ctx || pool_used + n > pool_capacity) {
    throw Error(ErrorCode::kInvalidArgument, "decode_batch: the sequences are full");
  }
  for (const std::int32_t token : tokens) {
    if (token < 0 || token >= dims.n_vocab) {
      throw Error(ErrorCode::kInvalidArgument,
                  "decode_batch: token " + std::to_string(token) + " outside the vocabulary");
    }
  }
  const auto& w = model.weights().decoder;
  const std::int64_t d = dims.n_text_state;
  float* x = dec_x.data();
  float* h = dec_h.data();
  for (std::int64_t i = 0; i < n; ++i) {
    w.token_embedding.row_to_f32(tokens[static_cast<std::size_t>(i)], x + i * d);
    add_in_place(x + i * d, w.positional_embedding.ptr() + size(position, d), d);
  }
  // This step's K/V rows: pool_used + i for sequence i.
  const std::int64_t n_keys = position + 1;
  gathered_rows.resize(size(n, n_keys));
  for (std::int64_t i = 0; i < n; ++i) {
    auto& rows = sequence_rows[static_cast<std::size_t>(i)];
    rows.push_back(static_cast<std::int32_t>(pool_used + i));
    std::copy(rows.begin(), rows.end(), gathered_rows.begin() + i * n_keys);
  }
  const GatheredAttentionShape self_shape{.n_seq = n,
                                          .n_keys = n_keys,
                                          .n_head = dims.n_text_head,
                                          .d_head = d / dims.n_text_head,
                                          .ld = d};
  for (std::size_t l = 0; l < w.blocks.size(); ++l) {
    const auto& block = w.blocks[l];
    float* layer_k = pool_k.data() + l * size(pool_capacity, d);
    float* layer_v = pool_v.data() + l * size(pool_capacity, d);
    layer_norm(x, n, d, block.attn_ln.weight.ptr(), block.attn_ln.bias.ptr(), h, threads);
    gemm.linear(h, n, d, d, block.attn.query.weight.matrix(), d, dec_q.data(), d,
                {.bias = block.attn.query.bias.ptr()});
    gemm.linear(h, n, d, d, block.attn.key.weight.matrix(), d, layer_k + pool_used * d, d);
    gemm.linear(h, n, d, d, block.attn.value.weight.matrix(), d, layer_v + pool_used * d, d,
                {.bias = block.attn.value.bias.ptr()});
    gathered_attention(dec_q.data(), layer_k, layer_v, gathered_rows, dec_attn.data(), self_shape,
                       batch_scratch, gemm.step_workers());
    gemm.linear(dec_attn.data(), n, d, d, block.attn.out.weight.matrix(), d, x, d,
                {.bias = block.attn.out.bias.ptr(), .accumulate = true});

    layer_norm(x, n, d, block.cross_attn_ln.weight.ptr(), block.cross_attn_ln.bias.ptr(), h,
               threads);
    gemm.linear(h, n, d, d, block.cross_attn.query.weight.matrix(), d, dec_q.data(), d,
                {.bias = block.cross_attn.query.bias.ptr()});
    cross_attention(l, n, batch_scratch);
    gemm.linear(dec_attn.data(), n, d, d, block.cross_attn.out.weight.matrix(), d, x, d,
                {.bias = block.cross_attn.out.bias.ptr(), .accumulate = true});

    layer_norm(x, n, d, block.mlp_ln.weight.ptr(), block.mlp_ln.bias.ptr(), h, threads);
    gemm.linear(h, n, d, d, block.mlp_fc1.weight.matrix(), 4 * d, dec_mlp.data(), 4 * d,
                {.bias = block.mlp_fc1.bias.ptr(), .gelu = true});
    gemm.linear(dec_mlp.data(), n, 4 * d, 4 * d, block.mlp_fc2.weight.matrix(), d, x, d,
                {.bias = block.mlp_fc2.bias.ptr(), .accumulate = true});
  }
  pool_used += n;

  layer_norm(x, n, d, w.ln.weight.ptr(), w.ln.bias.ptr(), h, threads);
  logits.resize(size(n, dims.n_vocab));
  gemm.linear(h, n, d, d, w.token_embedding.matrix(), dims.n_vocab, logits.data(), dims.n_vocab);
}

void WhisperState::fork(int n, int max_steps) {
  impl_->fork(n, max_steps);
}

void WhisperState::decode_batch(std::span<const std::int32_t> tokens, std::vector<float>& logits) {
  impl_->decode_batch(tokens, logits);
}

void WhisperState::reorder(std::span<const int> sources) {
  auto& rows = impl_->sequence_rows;
  std::vector<std::vector<std::int32_t>> next;
  next.reserve(sources.size());
  for (const int s : sources) {
    if (s < 0 || static_cast<std::size_t>(s) >= rows.size()) {
      throw Error(ErrorCode::kInvalidArgument, "reorder: no sequence " + std::to_string(s));
    }
    next.push_back(rows[static_cast<std::size_t>(s)]);
  }
  rows = std::move(next);
}

int WhisperState::n_sequences() const {
  return static_cast<int>(impl_->sequence_rows.size());
}

std::vector<float> WhisperState::cross_attention_scores(std::span<const std::int32_t> tokens,
                                                        std::span<const std::pair<int, int>> heads,
                                                        std::vector<float>& logits) {
  for (const auto& [layer, head] : heads) {
    if (layer < 0 || layer >= impl_->dims.n_text_layer || head < 0 ||
        head >= impl_->dims.n_text_head) {
      throw Error(
          ErrorCode::kInvalidArgument,
          "cross_attention_scores: no head " + std::to_string(layer) + "/" + std::to_string(head));
    }
  }
  std::vector<float> scores(heads.size() * tokens.size() *
                            static_cast<std::size_t>(impl_->dims.n_audio_ctx));
  impl_->capture_heads = heads;
  impl_->captured_scores = &scores;
  truncate(0);
  try {
    impl_->decode(tokens, /*all_rows=*/true, logits);
  } catch (...) {
    impl_->captured_scores = nullptr;
    throw;
  }
  impl_->captured_scores = nullptr;
  return scores;
}

}  // namespace earshot::whisper
