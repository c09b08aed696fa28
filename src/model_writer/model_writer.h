#pragma once

// Writes Whisper models with random weights in exactly the ggml file format (docs/engine.md,
// "Model files"), for any dimensions, vocabulary size and storage type, deterministically from a
// seed. Tests use it to get real model files without downloading anything; they can also edit
// the contents (drop a tensor, change a shape, hand-craft quantized blocks) before writing.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "earshot/whisper.h"

namespace earshot::tools {

// ggml type ids (ggml.h) the writer can produce.
inline constexpr std::int32_t kTypeF32 = 0;
inline constexpr std::int32_t kTypeF16 = 1;
inline constexpr std::int32_t kTypeQ4_0 = 2;
inline constexpr std::int32_t kTypeQ4_1 = 3;
inline constexpr std::int32_t kTypeQ5_0 = 6;
inline constexpr std::int32_t kTypeQ5_1 = 7;
inline constexpr std::int32_t kTypeQ8_0 = 8;

// The ggml file type (ggml.h `enum ggml_ftype`) that the official converter and quantizer
// write in the header of a file whose matrices are of tensor type `type` (a type id above):
// f32 0, f16 1, q4_0 2, q4_1 3, q8_0 7, q5_0 8, q5_1 9.
std::int32_t file_type_of(std::int32_t type);

struct ModelSpec {
  ModelDims dims;                  // dims.ftype: the weight matrices' tensor type (an id above)
  std::uint64_t seed = 0;          // same seed, same bytes
  std::vector<std::string> vocab;  // token bytes, entry i = id i; empty = generated
};

// Dimensions of a named size: tiny, base, small, medium, large (v2), micro (the conformance
// model's 64-wide, 2+2 layers), with n_vocab 51865, n_mels 80, ftype f32.
std::optional<ModelDims> preset_dims(std::string_view name);

// The type id for "f32", "f16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0".
std::optional<std::int32_t> type_from_name(std::string_view name);

struct TensorRecord {
  std::string name;
  std::vector<std::int64_t> shape;  // PyTorch order (outermost first); written reversed as ne
  std::int32_t type = kTypeF32;     // ggml type id
  std::vector<float> values;        // encoded as `type` when written
  std::vector<std::uint8_t> raw;    // if non-empty, written as the data instead of `values`
};

// Everything a ggml Whisper file holds, in file order.
struct ModelContents {
  std::uint32_t magic = 0x67676d6c;
  ModelDims dims;
  std::int32_t ftype_field = 0;  // hparam as written: file type + 1000 * quantization version
  std::int32_t filters_n_mel = 0;
  std::int32_t filters_n_fft = 201;
  std::vector<float> mel_filters;  // [n_mel x n_fft], band-major
  std::vector<std::string> vocab;
  std::vector<TensorRecord> tensors;
};

// Random weights shaped like OpenAI's Whisper (fan-in scaled linear and conv weights, LayerNorm
// weights near 1, Whisper's sinusoid table as encoder positional embedding). Like the official
// converters: 1-D tensors, conv biases and positional embeddings are f32; conv weights f16
// (quantized files included); every other matrix is stored as spec.dims.ftype.
ModelContents make_model(const ModelSpec& spec);

// The file's bytes.
std::vector<std::uint8_t> serialize(const ModelContents& contents);

// Writes serialize(contents) to `path`. Throws std::runtime_error when it cannot.
void write_model_file(const ModelContents& contents, const std::filesystem::path& path);

// The generated vocabulary for n_vocab: the 256 single bytes, then merges of lower-ranked
// tokens into lowercase words (with or without a leading space). Stores as many tokens as a
// Whisper file would: 50256 (.en, n_vocab 51864) or 50257 (n_vocab >= 51865), else n_vocab.
std::vector<std::string> generated_vocab(int n_vocab, std::uint64_t seed);

// librosa.filters.mel(sr=16000, n_fft=400, n_mels) with Slaney scale and norm, as OpenAI's
// mel_filters.npz holds it: [n_mels x 201], band-major.
std::vector<float> mel_filter_bank(int n_mels);

// IEEE binary32 -> binary16, round to nearest even.
std::uint16_t fp32_to_fp16(float value);

// `values` (a multiple of 32 values for block types) in ggml's encoding of `type`.
std::vector<std::uint8_t> encode_values(std::int32_t type, std::span<const float> values);

}  // namespace earshot::tools
