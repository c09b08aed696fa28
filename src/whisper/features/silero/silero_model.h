#pragma once

// The weights of Silero VAD v5 (github.com/snakers4/silero-vad, MIT licence) for 16 kHz
// audio, read from its official ONNX export (silero_vad.onnx). The file holds two networks,
// for 8 and 16 kHz, as the two branches of an If on the sample rate; earshot reads the
// 16 kHz one, recognised by the shape of its STFT basis.
//
// The network, per chunk of 512 new samples and the 64 before them (576 in all):
//   STFT       reflect-pad 64 samples on the right, convolve with 258 filters of 256 taps
//              at a hop of 128 (4 frames), magnitude of the 129 real/imaginary pairs
//   encoder    4 x (conv1d kernel 3, padding 1, then ReLU): 129->128 stride 1, 128->64
//              stride 2, 64->64 stride 2, 64->128 stride 1 (4 -> 4 -> 2 -> 1 frames)
//   decoder    an LSTM cell (hidden 128, PyTorch gate order i, f, g, o) over the one frame,
//              then ReLU, conv1d 128->1 kernel 1, sigmoid: the speech probability
// The LSTM's h and c (the model's `state` input, [2, 1, 128]) carry from chunk to chunk.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace earshot::whisper::silero {

inline constexpr int kSampleRate = 16000;
inline constexpr int kChunkSamples = 512;   // new samples per probability (32 ms)
inline constexpr int kContextSamples = 64;  // samples of the previous chunk seen again
inline constexpr int kStftTaps = 256;       // filter_length
inline constexpr int kStftHop = 128;        // hop_length
inline constexpr int kStftBins = 129;       // kStftTaps / 2 + 1
inline constexpr int kStftFrames = 4;       // (576 + 64 - 256) / 128 + 1
inline constexpr int kHidden = 128;         // LSTM size

class SileroModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One conv1d layer: weight [out][in][kernel], bias [out].
struct ConvLayer {
  int in = 0;
  int out = 0;
  int kernel = 0;
  int stride = 1;
  std::vector<float> weight;
  std::vector<float> bias;
};

struct SileroModel {
  std::string source;             // the file it was read from
  std::vector<float> stft_basis;  // [2 * kStftBins][kStftTaps]: real rows, then imaginary
  ConvLayer encoder[4];
  std::vector<float> lstm_w_ih;   // [4 * kHidden][kHidden]
  std::vector<float> lstm_w_hh;   // [4 * kHidden][kHidden]
  std::vector<float> lstm_b_ih;   // [4 * kHidden]
  std::vector<float> lstm_b_hh;   // [4 * kHidden]
  std::vector<float> out_weight;  // [kHidden] (conv1d 128 -> 1, kernel 1)
  float out_bias = 0.0F;
};

// Reads the 16 kHz network from an ONNX file. Throws SileroModelError (naming the file and
// what is missing or misshapen) on anything else: a file of another network, the 8 kHz-only
// export, or a corrupt file.
std::shared_ptr<const SileroModel> load_silero_model(const std::filesystem::path& path);

}  // namespace earshot::whisper::silero
