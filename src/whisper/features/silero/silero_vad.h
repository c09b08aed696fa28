#pragma once

// Silero VAD run on earshot's kernels: a speech probability for every 512 samples of 16 kHz
// audio, with the network's state carried from one chunk to the next, as onnxruntime runs
// the official ONNX file (silero_model.h describes the network).

#include <array>
#include <memory>
#include <span>
#include <vector>

#include "whisper/features/silero/silero_model.h"
#include "whisper/kernels/step_workers.h"

namespace earshot::whisper::silero {

// One stream's detector: one per concurrent stream (it holds the stream's state and
// scratch), sharing the read-only model.
class SileroVad {
 public:
  explicit SileroVad(std::shared_ptr<const SileroModel> model);

  // The speech probability of the next kChunkSamples samples (16 kHz mono, [-1, 1]).
  float process(std::span<const float, kChunkSamples> chunk);
  // A new stream: zero LSTM state and zero context, as the model's first call sees.
  void reset();

  const SileroModel& model() const { return *model_; }

 private:
  void conv_relu(const ConvLayer& layer, const float* x, int frames, float* y);

  std::shared_ptr<const SileroModel> model_;
  StepWorkers workers_{1};
  // The chunk with the context before it and the 64 reflected samples after it.
  std::array<float, kContextSamples + kChunkSamples + kStftTaps / 4> input_{};
  std::array<float, kHidden> h_{};
  std::array<float, kHidden> c_{};
  std::vector<float> stft_, magnitude_, columns_, act_a_, act_b_, gates_;
};

// The probability of every chunk of `samples` (16 kHz mono) from a fresh state; the last,
// partial chunk is padded with zeros, as Silero's get_speech_timestamps pads it.
std::vector<float> speech_probabilities(std::shared_ptr<const SileroModel> model,
                                        std::span<const float> samples);

}  // namespace earshot::whisper::silero
