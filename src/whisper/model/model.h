#pragma once

// The loaded model (the public API's opaque earshot::Model). Immutable after load and shared
// read-only by any number of WhisperStates.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "earshot/whisper.h"
#include "whisper/model/weight_matrix.h"

namespace earshot {

namespace whisper {

// A weight tensor, row-major in PyTorch's dimension order: a Linear weight of PyTorch shape
// [out, in] is `out` rows of `in` values (the ggml file's ne = {in, out}). Held as f32, except
// the matrices of an f16 file (Linear weights and the token embedding), which stay binary16:
// inside the memory-mapped file when the model owns its mapping, else in `half`.
struct Tensor {
  std::vector<std::int64_t> shape;    // PyTorch order, outermost first
  std::vector<float> data;            // f32 values; empty when the tensor is kept as f16
  std::vector<std::uint16_t> half;    // f16 values copied out of a file the model does not own
  const std::uint8_t* f16 = nullptr;  // f16 values (unaligned, little-endian), or nullptr
  // Precision::kInt8 only, for the matrices the products use: each row's values divided by
  // q8_scale[row] (its max |value| / 127) and rounded. Empty otherwise.
  std::vector<std::int8_t> q8;
  std::vector<float> q8_scale;

  // The f32 values; only for tensors held as f32 (vectors, biases, conv weights, f32 files).
  const float* ptr() const { return data.data(); }
  bool is_f16() const { return f16 != nullptr; }
  std::int64_t elements() const;
  // The matrix as the products use it (gemm.h): int8 when quantized, else as stored.
  WeightMatrix matrix() const {
    if (!q8.empty()) {
      return {.s8 = q8.data(), .s8_scale = q8_scale.data()};
    }
    return {.f32 = data.empty() ? nullptr : data.data(), .f16 = f16};
  }
  // Row `row` of a 2-D tensor as f32 into `out` (shape[1] values).
  void row_to_f32(std::int64_t row, float* out) const;
  // Every value as f32, whatever the storage (tests, scalar references).
  std::vector<float> to_f32() const;
};

struct LayerNormWeights {
  Tensor weight;  // [d]
  Tensor bias;    // [d]
};

struct LinearWeights {
  Tensor weight;  // [out, in]
  Tensor bias;    // [out]; empty for the key projection, which has none
};

struct AttentionWeights {
  LinearWeights query;
  LinearWeights key;  // bias empty
  LinearWeights value;
  LinearWeights out;
};

struct EncoderBlockWeights {
  LayerNormWeights attn_ln;
  AttentionWeights attn;
  LayerNormWeights mlp_ln;
  LinearWeights mlp_fc1;  // mlp.0: [4d, d]
  LinearWeights mlp_fc2;  // mlp.2: [d, 4d]
};

struct DecoderBlockWeights {
  LayerNormWeights attn_ln;
  AttentionWeights attn;
  LayerNormWeights cross_attn_ln;
  AttentionWeights cross_attn;
  LayerNormWeights mlp_ln;
  LinearWeights mlp_fc1;
  LinearWeights mlp_fc2;
};

struct EncoderWeights {
  Tensor conv1_weight;          // [d, n_mels, 3]
  Tensor conv1_bias;            // [d]
  Tensor conv2_weight;          // [d, d, 3]
  Tensor conv2_bias;            // [d]
  Tensor positional_embedding;  // [n_audio_ctx, d]
  std::vector<EncoderBlockWeights> blocks;
  LayerNormWeights ln_post;
};

struct DecoderWeights {
  Tensor token_embedding;       // [n_vocab, d]; also the output projection (logits)
  Tensor positional_embedding;  // [n_text_ctx, d]
  std::vector<DecoderBlockWeights> blocks;
  LayerNormWeights ln;
};

struct ModelWeights {
  EncoderWeights encoder;
  DecoderWeights decoder;
};

// Parses and validates a ggml Whisper file held in memory (what load_model does after
// mapping the file); `label` names the source in error messages. Throws
// Error(kModelFormat, "<label>: <what is wrong>"). With `owner` (something that keeps `bytes`
// alive, such as the file's mapping), f16 matrices are used in place and the model keeps
// `owner`; without it they are copied.
// With Precision::kInt8 the products' matrices are quantized (Tensor::q8) after parsing, and
// `release_bytes`, if set, is given each quantized binary16 matrix's bytes in `bytes` (which
// the caller may then drop from memory: a memory-mapped file's pages).
std::shared_ptr<const Model> parse_model(
    std::span<const std::uint8_t> bytes, const std::string& label,
    std::shared_ptr<const void> owner = nullptr, Precision precision = Precision::kFp32,
    const std::function<void(const std::uint8_t*, std::size_t)>& release_bytes = {});

// Quantizes a [rows x cols] matrix to int8 per row (symmetric: scale = max |row| / 127).
void quantize_rows_int8(Tensor& tensor);

}  // namespace whisper

class Model {
 public:
  // `storage` keeps alive the bytes that f16 tensors point into (nullptr when none do).
  Model(ModelDims dims, std::vector<float> mel_filters, std::vector<std::string> vocab,
        whisper::ModelWeights weights, std::shared_ptr<const void> storage = nullptr,
        Precision precision = Precision::kFp32)
      : dims_(dims),
        precision_(precision),
        mel_filters_(std::move(mel_filters)),
        vocab_(std::move(vocab)),
        weights_(std::move(weights)),
        storage_(std::move(storage)) {}

  const ModelDims& dims() const { return dims_; }
  Precision precision() const { return precision_; }
  bool multilingual() const { return dims_.n_vocab >= 51865; }
  // The file's mel filter bank, band-major [n_mels x 201].
  const std::vector<float>& mel_filters() const { return mel_filters_; }
  // Raw bytes of each stored token; entry i is token id i (special tokens are not stored).
  const std::vector<std::string>& vocab() const { return vocab_; }

  // Every weight, f32 or (matrices of an f16 file) binary16; see model.cpp.
  const whisper::ModelWeights& weights() const { return weights_; }

  // An object made from this model once, on first use, and shared by every transcription
  // of it: its tokenizer (text/tokenizer.h's tokenizer_of), its step batcher
  // (network/step_batcher.h's step_batcher_of). The layer that defines T makes it, so the
  // model depends on none of them. `make` returns a std::unique_ptr<T> and must not ask
  // this model for another shared object. Safe to call from any thread.
  template <typename T, typename Make>
  T& shared(Make make) const {
    std::lock_guard lock(shared_mutex_);
    std::shared_ptr<void>& slot = shared_[std::type_index(typeid(T))];
    if (!slot) {
      slot = std::shared_ptr<T>(make());
    }
    return *static_cast<T*>(slot.get());
  }

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

 private:
  ModelDims dims_;
  Precision precision_;
  std::vector<float> mel_filters_;
  std::vector<std::string> vocab_;
  whisper::ModelWeights weights_;
  std::shared_ptr<const void> storage_;
  mutable std::mutex shared_mutex_;
  mutable std::map<std::type_index, std::shared_ptr<void>> shared_;
};

}  // namespace earshot
