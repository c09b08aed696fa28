#pragma once

// The loaded model (the public API's opaque earshot::Model). Immutable after load and shared
// read-only by any number of WhisperStates.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "earshot/whisper.h"

namespace earshot {

namespace whisper {

// A weight tensor converted to f32, row-major in PyTorch's dimension order: a Linear weight
// of PyTorch shape [out, in] is `out` rows of `in` values (the ggml file's ne = {in, out}).
struct Tensor {
  std::vector<std::int64_t> shape;  // PyTorch order, outermost first
  std::vector<float> data;
  const float* ptr() const { return data.data(); }
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
// Error(kModelFormat, "<label>: <what is wrong>").
std::shared_ptr<const Model> parse_model(std::span<const std::uint8_t> bytes,
                                         const std::string& label);

}  // namespace whisper

class Model {
 public:
  Model(ModelDims dims, std::vector<float> mel_filters, std::vector<std::string> vocab,
        whisper::ModelWeights weights)
      : dims_(dims),
        mel_filters_(std::move(mel_filters)),
        vocab_(std::move(vocab)),
        weights_(std::move(weights)) {}

  const ModelDims& dims() const { return dims_; }
  bool multilingual() const { return dims_.n_vocab >= 51865; }
  // The file's mel filter bank, band-major [n_mels x 201].
  const std::vector<float>& mel_filters() const { return mel_filters_; }
  // Raw bytes of each stored token; entry i is token id i (special tokens are not stored).
  const std::vector<std::string>& vocab() const { return vocab_; }

  // Every weight as f32 (see model.cpp for why f32 and what it costs).
  const whisper::ModelWeights& weights() const { return weights_; }

 private:
  ModelDims dims_;
  std::vector<float> mel_filters_;
  std::vector<std::string> vocab_;
  whisper::ModelWeights weights_;
};

}  // namespace earshot
