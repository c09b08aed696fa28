#include "whisper/network/state.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "earshot/error.h"
#include "whisper/kernels/attention/attention.h"
#include "whisper/kernels/attention/blocked_attention.h"
#include "whisper/kernels/attention/fused_attention.h"
#include "whisper/kernels/attention/gathered_attention.h"
#include "whisper/kernels/attention/half_attention.h"
#include "whisper/kernels/attention/int8_attention.h"
#include "whisper/kernels/gemm/gemm.h"
#include "whisper/kernels/kernels.h"
#include "whisper/model/model.h"
#include "whisper/network/step_batcher.h"

namespace earshot::whisper {
namespace {

std::size_t size(std::int64_t a, std::int64_t b) {
  return static_cast<std::size_t>(a) * static_cast<std::size_t>(b);
}

// Floats whose memory is not written when allocated: the pages of rows a window never
// reaches (most of a 448-position cache: a window decodes tens of tokens) are never touched
// and cost no resident memory (small's self-attention cache alone is 33 MB). Every row is
// written before it is read. resize() drops the contents.
class RowBuffer {
 public:
  void resize(std::size_t count) {
    if (count == count_) return;
    data_.reset(new float[count]);  // default-initialised: not written
    count_ = count;
  }
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }

 private:
  std::unique_ptr<float[]> data_;
  std::size_t count_ = 0;
};

}  // namespace

struct WhisperState::Impl {
  Impl(const Model& m, int n_threads, StepBatcher* step_batcher)
      : model(m),
        dims(m.dims()),
        // Never more than OMP_THREAD_LIMIT allows: oneDNN splits a product for the threads it
        // asks for, and getting fewer gave wrong results (seen with OMP_THREAD_LIMIT=1).
        threads(std::min(n_threads > 0 ? n_threads : std::max(1, omp_get_num_procs()),
                         std::max(1, omp_get_thread_limit()))),
        half_cross(m.precision() == Precision::kInt8),
        gemm(threads),
        batcher(step_batcher) {
    const std::int64_t d = dims.n_audio_state;
    const std::int64_t ctx = dims.n_audio_ctx;
    const std::int64_t dt = dims.n_text_state;
    const std::int64_t text_ctx = dims.n_text_ctx;
    // The convolutions' buffers, the MLP's hidden layer and the attention scores are never
    // live at the same time: one allocation serves them all (small: 27 MB less per state).
    const std::size_t columns = std::max(size(2 * ctx, 3 * dims.n_mels), size(ctx, 3 * d));
    const std::int64_t heads = std::max(dims.n_audio_head, dims.n_text_head);
    // Either blocked_attention's scores or fused_attention's (int8_attention's) packed K/V
    // and score rows.
    const std::size_t score_count =
        std::max({size(heads * kAttentionQueryBlock, ctx),
                  static_cast<std::size_t>(fused_attention_scratch(ctx, std::max(d, dt), threads)),
                  static_cast<std::size_t>(int8_attention_scratch(ctx, d, threads))});
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
  // Attention of n query rows q over layer l's cross K/V, into out (rows of n_text_state).
  void cross_attention(std::size_t l, const float* q, float* out, std::int64_t n,
                       std::span<float> scratch, StepWorkers& workers);
  // Layer l of cross K or V as f32: as stored, or converted into `converted` when binary16.
  const float* cross_f32(const std::vector<float>& f32, const std::vector<std::uint16_t>& f16,
                         std::size_t l, std::vector<float>& converted);
  RowBuffer self_k, self_v;
  int n_past = 0;

  // Decoder activations for up to n_text_ctx tokens at once.
  RowBuffer dec_x, dec_h, dec_q, dec_attn, dec_mlp;
  std::vector<float> attention_scratch;

  // Batched decoding (fork / decode_batch / reorder): every sequence's K/V rows in one pool per
  // layer, [layer][pool_capacity x d]; each sequence lists the pool rows of its positions, so
  // a beam reorder copies row indices, never K/V.
  void fork(int n, int max_steps);
  void decode_batch(std::span<const std::int32_t> tokens, std::vector<float>& logits);
  RowBuffer pool_k, pool_v;
  std::int64_t pool_capacity = 0;
  std::int64_t pool_used = 0;
  std::vector<std::vector<std::int32_t>> sequence_rows;
  std::vector<std::int32_t> gathered_rows;

  // Raw cross-attention scores q k^T / sqrt(d_head) of chosen (layer, head) pairs, captured by
  // decode() when set: [pair][token][n_audio_ctx] (word timestamps).
  std::span<const std::pair<int, int>> capture_heads;
  std::vector<float>* captured_scores = nullptr;
  void capture_cross_scores(std::size_t layer, std::int64_t n, const float* q_rows);

  // A decoder step: one state's (decode(), decode_batch()) or several states' at once (the
  // StepBatcher's batches). Each row is computed as it would be alone.
  struct StepRows {
    Impl* state = nullptr;
    std::span<const std::int32_t> tokens;
    bool batch = false;     // decode_batch(): the forked sequences, one token each
    bool all_rows = false;  // decode(): the logits of every row, not only the last
    std::vector<float>* logits = nullptr;
  };
  // Where a step computes: rows of n_text_state floats (mlp: 4x), attention scratch for the
  // workers' threads, and the products through `gemm` (one state's, any row count) or, when
  // null, gemv_linear on `workers` (a batch: at most kMaxGemvRows rows). k, v and logits are
  // a batch's only (one state writes into its own cache and logits).
  struct StepSpace {
    float* x = nullptr;
    float* h = nullptr;
    float* q = nullptr;
    float* k = nullptr;
    float* v = nullptr;
    float* attn = nullptr;
    float* mlp = nullptr;
    float* logits = nullptr;
    std::span<float> scratch;
    StepWorkers* workers = nullptr;
    Gemm* gemm = nullptr;
    int threads = 1;  // layer_norm's
  };
  // Runs the step through the batcher when there is one and the step is a few rows.
  void run_step(StepRows& part);
  void leave_batch();
  StepSpace own_space();
  static void step(std::span<StepRows* const> parts, const StepSpace& space);
  static void execute_batch(std::span<StepBatcher::Item* const> items,
                            StepBatcher::Resources& resources);
  // Layer `layer`'s rows for this step's keys (else values): in self_k/self_v, or in
  // pool_k/pool_v when batch.
  float* cache_rows(bool keys, bool batch, std::size_t layer);
  void self_attention(std::size_t layer, const StepRows& part, const float* q, float* out,
                      std::span<float> scratch, StepWorkers& workers);
  // decode_batch(): the step's position, and each sequence's row list grown by this step's.
  std::int64_t batch_position() const;
  void add_sequence_rows();
  StepBatcher* const batcher;
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
    // The int8 path's self-attention runs on VNNI where the CPU has it.
    if (model.precision() != Precision::kInt8 ||
        !int8_attention(enc_q.data(), ctx, enc_k.data(), enc_v.data(), ctx, dims.n_audio_head, d,
                        enc_h.data(), scores, threads)) {
      full_attention(enc_q.data(), ctx, enc_k.data(), enc_v.data(), ctx, dims.n_audio_head, d,
                     enc_h.data());
    }
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
  StepRows part{
      .state = this, .tokens = tokens, .batch = false, .all_rows = all_rows, .logits = &logits};
  run_step(part);
}

void WhisperState::Impl::run_step(StepRows& part) {
  const auto rows = static_cast<std::int64_t>(part.tokens.size());
  if (batcher != nullptr && rows <= kMaxGemvRows && captured_scores == nullptr) {
    StepBatcher::Item item{.member = this,
                           .rows = rows,
                           .threads = threads,
                           .payload = &part,
                           .done = false,
                           .error = {}};
    batcher->submit(item, &Impl::execute_batch);
    return;
  }
  leave_batch();
  StepRows* parts[] = {&part};
  step(parts, own_space());
}

void WhisperState::Impl::leave_batch() {
  if (batcher != nullptr) batcher->leave(this);
}

WhisperState::Impl::StepSpace WhisperState::Impl::own_space() {
  return {.x = dec_x.data(),
          .h = dec_h.data(),
          .q = dec_q.data(),
          .k = nullptr,  // one state: K/V straight into its cache
          .v = nullptr,
          .attn = dec_attn.data(),
          .mlp = dec_mlp.data(),
          .logits = nullptr,  // one state: logits straight into its vector
          .scratch = attention_scratch,
          .workers = &gemm.step_workers(),
          .gemm = &gemm,
          .threads = threads};
}

void WhisperState::Impl::execute_batch(std::span<StepBatcher::Item* const> items,
                                       StepBatcher::Resources& resources) {
  std::array<StepRows*, kMaxGemvRows> parts{};
  for (std::size_t i = 0; i < items.size(); ++i) {
    parts[i] = static_cast<StepRows*>(items[i]->payload);
  }
  Impl& first = *parts[0]->state;
  if (items.size() == 1) {
    // Alone: the state's own buffers and workers.
    first.step(std::span(parts).first(1), first.own_space());
    return;
  }
  const ModelDims& dims = first.dims;
  const std::size_t d = static_cast<std::size_t>(dims.n_text_state);
  const std::size_t rows = kMaxGemvRows;
  const std::size_t scratch =
      size(resources.workers.threads(), std::max<std::int64_t>(dims.n_text_ctx, dims.n_audio_ctx));
  auto& buffer = resources.buffer;
  const std::size_t need =
      rows * (6 * d + 4 * d + static_cast<std::size_t>(dims.n_vocab)) + scratch;
  if (buffer.size() < need) buffer.resize(need);
  float* at = buffer.data();
  const auto next = [&at](std::size_t count) {
    float* p = at;
    at += count;
    return p;
  };
  StepSpace space{.x = next(rows * d),
                  .h = next(rows * d),
                  .q = next(rows * d),
                  .k = next(rows * d),
                  .v = next(rows * d),
                  .attn = next(rows * d),
                  .mlp = next(rows * 4 * d),
                  .logits = next(rows * static_cast<std::size_t>(dims.n_vocab)),
                  .scratch = std::span(next(scratch), scratch),
                  .workers = &resources.workers,
                  .gemm = nullptr,
                  .threads = 1};
  first.step(std::span(parts).first(items.size()), space);
}

float* WhisperState::Impl::cache_rows(bool keys, bool batch, std::size_t layer) {
  const std::int64_t d = dims.n_text_state;
  if (batch) {
    return (keys ? pool_k : pool_v).data() + layer * size(pool_capacity, d) + pool_used * d;
  }
  return (keys ? self_k : self_v).data() + layer * size(dims.n_text_ctx, d) + n_past * d;
}

void WhisperState::Impl::step(std::span<StepRows* const> parts, const StepSpace& space) {
  const ModelDims& dims = parts[0]->state->dims;
  const auto& w = parts[0]->state->model.weights().decoder;
  const std::int64_t d = dims.n_text_state;
  const std::int64_t n_vocab = dims.n_vocab;
  const bool alone = parts.size() == 1;
  // Part p's rows are [offset[p], offset[p + 1]) of the step's buffers.
  std::array<std::int64_t, kMaxGemvRows + 1> offset{};
  for (std::size_t p = 0; p < parts.size(); ++p) {
    offset[p + 1] = offset[p] + static_cast<std::int64_t>(parts[p]->tokens.size());
  }
  const std::int64_t total = offset[parts.size()];
  StepWorkers& workers = *space.workers;
  const auto linear = [&](const float* x, std::int64_t m, std::int64_t k, const WeightMatrix& wm,
                          std::int64_t n, float* y, const Epilogue& e) {
    if (space.gemm != nullptr) {
      space.gemm->linear(x, m, k, k, wm, n, y, n, e);
    } else {
      gemv_linear(x, m, k, k, wm, n, y, n, e.bias, e.gelu, e.accumulate, workers);
    }
  };

  float* x = space.x;
  float* h = space.h;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    Impl& s = *parts[p]->state;
    const auto n = static_cast<std::int64_t>(parts[p]->tokens.size());
    if (parts[p]->batch) s.add_sequence_rows();
    for (std::int64_t i = 0; i < n; ++i) {
      // decode(): positions n_past + i; decode_batch(): every sequence at the same position.
      const std::int64_t position = parts[p]->batch ? s.batch_position() : s.n_past + i;
      float* row = x + (offset[p] + i) * d;
      w.token_embedding.row_to_f32(parts[p]->tokens[static_cast<std::size_t>(i)], row);
      add_in_place(row, w.positional_embedding.ptr() + size(position, d), d);
    }
  }

  for (std::size_t l = 0; l < w.blocks.size(); ++l) {
    const auto& block = w.blocks[l];
    layer_norm(x, total, d, block.attn_ln.weight.ptr(), block.attn_ln.bias.ptr(), h, space.threads);
    linear(h, total, d, block.attn.query.weight.matrix(), d, space.q,
           {.bias = block.attn.query.bias.ptr()});
    // One state writes its new K/V rows straight into its cache; a batch copies them there.
    Impl& s0 = *parts[0]->state;
    float* k = alone ? s0.cache_rows(true, parts[0]->batch, l) : space.k;
    float* v = alone ? s0.cache_rows(false, parts[0]->batch, l) : space.v;
    linear(h, total, d, block.attn.key.weight.matrix(), d, k, {});
    linear(h, total, d, block.attn.value.weight.matrix(), d, v,
           {.bias = block.attn.value.bias.ptr()});
    for (std::size_t p = 0; p < parts.size(); ++p) {
      Impl& s = *parts[p]->state;
      const bool batch = parts[p]->batch;
      const std::int64_t first = offset[p] * d;
      const std::int64_t count = (offset[p + 1] - offset[p]) * d;
      if (!alone) {
        std::copy_n(k + first, count, s.cache_rows(true, batch, l));
        std::copy_n(v + first, count, s.cache_rows(false, batch, l));
      }
      s.self_attention(l, *parts[p], space.q + first, space.attn + first, space.scratch, workers);
    }
    linear(space.attn, total, d, block.attn.out.weight.matrix(), d, x,
           {.bias = block.attn.out.bias.ptr(), .accumulate = true});

    layer_norm(x, total, d, block.cross_attn_ln.weight.ptr(), block.cross_attn_ln.bias.ptr(), h,
               space.threads);
    linear(h, total, d, block.cross_attn.query.weight.matrix(), d, space.q,
           {.bias = block.cross_attn.query.bias.ptr()});
    for (std::size_t p = 0; p < parts.size(); ++p) {
      Impl& s = *parts[p]->state;
      const std::int64_t n = offset[p + 1] - offset[p];
      const float* q = space.q + offset[p] * d;
      if (s.captured_scores != nullptr) {
        s.capture_cross_scores(l, n, q);
      }
      s.cross_attention(l, q, space.attn + offset[p] * d, n, space.scratch, workers);
    }
    linear(space.attn, total, d, block.cross_attn.out.weight.matrix(), d, x,
           {.bias = block.cross_attn.out.bias.ptr(), .accumulate = true});

    layer_norm(x, total, d, block.mlp_ln.weight.ptr(), block.mlp_ln.bias.ptr(), h, space.threads);
    linear(h, total, d, block.mlp_fc1.weight.matrix(), 4 * d, space.mlp,
           {.bias = block.mlp_fc1.bias.ptr(), .gelu = true});
    linear(space.mlp, total, 4 * d, block.mlp_fc2.weight.matrix(), d, x,
           {.bias = block.mlp_fc2.bias.ptr(), .accumulate = true});
  }

  // Logits = ln(x) @ token_embedding^T, for the rows each caller wants (decode(): the last
  // row unless all_rows), gathered in h.
  std::array<std::int64_t, kMaxGemvRows + 1> out_offset{};
  std::int64_t out_rows = 0;
  for (std::size_t p = 0; p < parts.size(); ++p) {
    Impl& s = *parts[p]->state;
    const std::int64_t n = offset[p + 1] - offset[p];
    if (parts[p]->batch) {
      s.pool_used += n;
    } else {
      s.n_past += static_cast<int>(n);
    }
    const std::int64_t first = (parts[p]->batch || parts[p]->all_rows) ? 0 : n - 1;
    const std::int64_t rows = n - first;
    out_offset[p] = out_rows;
    layer_norm(x + (offset[p] + first) * d, rows, d, w.ln.weight.ptr(), w.ln.bias.ptr(),
               h + out_rows * d, space.threads);
    out_rows += rows;
  }
  out_offset[parts.size()] = out_rows;
  if (alone) {
    auto& logits = *parts[0]->logits;
    logits.resize(size(out_rows, n_vocab));
    linear(h, out_rows, d, w.token_embedding.matrix(), n_vocab, logits.data(), {});
    return;
  }
  linear(h, out_rows, d, w.token_embedding.matrix(), n_vocab, space.logits, {});
  for (std::size_t p = 0; p < parts.size(); ++p) {
    parts[p]->logits->assign(space.logits + out_offset[p] * n_vocab,
                             space.logits + out_offset[p + 1] * n_vocab);
  }
}

void WhisperState::Impl::self_attention(std::size_t layer, const StepRows& part, const float* q,
                                        float* out, std::span<float> scratch,
                                        StepWorkers& workers) {
  const std::int64_t d = dims.n_text_state;
  const auto n = static_cast<std::int64_t>(part.tokens.size());
  if (part.batch) {
    const std::int64_t n_keys = batch_position() + 1;
    const GatheredAttentionShape shape{.n_seq = n,
                                       .n_keys = n_keys,
                                       .n_head = dims.n_text_head,
                                       .d_head = d / dims.n_text_head,
                                       .ld = d};
    gathered_attention(q, pool_k.data() + layer * size(pool_capacity, d),
                       pool_v.data() + layer * size(pool_capacity, d), gathered_rows, out, shape,
                       scratch, workers);
    return;
  }
  const AttentionShape shape{.n_q = n,
                             .n_kv = n_past + n,
                             .n_head = dims.n_text_head,
                             .d_head = d / dims.n_text_head,
                             .causal_offset = n_past};
  const float* k = self_k.data() + layer * size(dims.n_text_ctx, d);
  const float* v = self_v.data() + layer * size(dims.n_text_ctx, d);
  attention(q, d, k, d, v, d, out, d, shape, scratch, workers);
}

WhisperState::WhisperState(const Model& model, int threads, StepBatcher* batcher)
    : impl_(std::make_unique<Impl>(model, threads, batcher)) {}

WhisperState::~WhisperState() {
  impl_->leave_batch();
}

void WhisperState::leave_batch() {
  impl_->leave_batch();
}

void WhisperState::encode(std::span<const float> mel) {
  impl_->leave_batch();
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
  impl_->leave_batch();
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

void WhisperState::Impl::cross_attention(std::size_t l, const float* q, float* out, std::int64_t n,
                                         std::span<float> scratch, StepWorkers& workers) {
  const std::int64_t d = dims.n_text_state;
  const std::int64_t ctx = dims.n_audio_ctx;
  if (n > kMaxGemvRows) {
    // Many query rows (a prompt): the backend's batched products over f32 K/V.
    const float* k = cross_f32(cross_k, cross_k16, l, enc_k);
    const float* v = cross_f32(cross_v, cross_v16, l, enc_v);
    full_attention(q, n, k, v, ctx, dims.n_text_head, d, out);
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
    attention_f16_kv(q, d, cross_k16.data() + l * size(ctx, d), d,
                     cross_v16.data() + l * size(ctx, d), d, out, d, shape, scratch, workers);
  } else {
    attention(q, d, cross_k.data() + l * size(ctx, d), d, cross_v.data() + l * size(ctx, d), d, out,
              d, shape, scratch, workers);
  }
}

void WhisperState::Impl::capture_cross_scores(std::size_t layer, std::int64_t n,
                                              const float* q_rows) {
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
      const float* q = q_rows + i * d + column;
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
    std::copy_n(self_k.data() + from, n_past * d, pool_k.data() + to);
    std::copy_n(self_v.data() + from, n_past * d, pool_v.data() + to);
  }
  pool_used = n_past;
  std::vector<std::int32_t> prefix(static_cast<std::size_t>(n_past));
  for (int i = 0; i < n_past; ++i) {
    prefix[static_cast<std::size_t>(i)] = i;
  }
  sequence_rows.assign(static_cast<std::size_t>(n), prefix);
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
  StepRows part{
      .state = this, .tokens = tokens, .batch = true, .all_rows = true, .logits = &logits};
  run_step(part);
}

std::int64_t WhisperState::Impl::batch_position() const {
  // Each sequence lists its rows, this step's included (add_sequence_rows).
  return static_cast<std::int64_t>(sequence_rows.front().size()) - 1;
}

void WhisperState::Impl::add_sequence_rows() {
  // This step's K/V rows: pool_used + i for sequence i.
  const auto n = static_cast<std::int64_t>(sequence_rows.size());
  const auto n_keys = static_cast<std::int64_t>(sequence_rows.front().size()) + 1;
  gathered_rows.resize(size(n, n_keys));
  for (std::int64_t i = 0; i < n; ++i) {
    auto& rows = sequence_rows[static_cast<std::size_t>(i)];
    rows.push_back(static_cast<std::int32_t>(pool_used + i));
    std::copy(rows.begin(), rows.end(), gathered_rows.begin() + i * n_keys);
  }
}

void WhisperState::fork(int n, int max_steps) {
  impl_->leave_batch();
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
