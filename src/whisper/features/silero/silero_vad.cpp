#include "whisper/features/silero/silero_vad.h"

#include <algorithm>
#include <cmath>

#include "whisper/kernels/gemv.h"

namespace earshot::whisper::silero {
namespace {

constexpr int kInput = kContextSamples + kChunkSamples;  // 576
constexpr int kPadRight = kStftTaps / 4;                 // 64: (filter_length - hop) / 2

static_assert((kInput + kPadRight - kStftTaps) / kStftHop + 1 == kStftFrames);

WeightMatrix f32_matrix(const std::vector<float>& values) {
  WeightMatrix w;
  w.f32 = values.data();
  return w;
}

float sigmoid(float x) {
  return 1.0F / (1.0F + std::exp(-x));
}

}  // namespace

SileroVad::SileroVad(std::shared_ptr<const SileroModel> model) : model_(std::move(model)) {
  stft_.resize(static_cast<std::size_t>(kStftFrames) * 2 * kStftBins);
  magnitude_.resize(static_cast<std::size_t>(kStftFrames) * kStftBins);
  std::size_t widest = 0;
  for (const auto& layer : model_->encoder) {
    widest = std::max(widest, static_cast<std::size_t>(layer.in) * layer.kernel);
  }
  columns_.resize(kStftFrames * widest);
  act_a_.resize(kStftFrames * std::size_t{128});
  act_b_.resize(kStftFrames * std::size_t{128});
  gates_.resize(4 * kHidden);
}

void SileroVad::reset() {
  input_.fill(0.0F);
  h_.fill(0.0F);
  c_.fill(0.0F);
}

// y[t][o] = relu(bias[o] + sum_{c,k} w[o][c][k] x[t * stride + k - 1][c]), x and y time-major
// ([frame][channel]), zero outside the input (padding 1): the columns of each output frame
// laid out as the weight's [in][kernel] rows, so that one product computes the layer.
void SileroVad::conv_relu(const ConvLayer& layer, const float* x, int frames, float* y) {
  const int out_frames = (frames + 2 - layer.kernel) / layer.stride + 1;
  const int width = layer.in * layer.kernel;
  for (int t = 0; t < out_frames; ++t) {
    float* col = columns_.data() + static_cast<std::size_t>(t) * width;
    for (int c = 0; c < layer.in; ++c) {
      for (int k = 0; k < layer.kernel; ++k) {
        const int src = t * layer.stride + k - 1;
        col[c * layer.kernel + k] =
            src >= 0 && src < frames ? x[static_cast<std::size_t>(src) * layer.in + c] : 0.0F;
      }
    }
  }
  gemv_linear(columns_.data(), out_frames, width, width, f32_matrix(layer.weight), layer.out, y,
              layer.out, layer.bias.data(), false, false, workers_);
  for (int i = 0; i < out_frames * layer.out; ++i) y[i] = std::max(y[i], 0.0F);
}

float SileroVad::process(std::span<const float, kChunkSamples> chunk) {
  const SileroModel& m = *model_;
  // input_ holds the previous call's last kContextSamples samples at its start.
  std::copy(chunk.begin(), chunk.end(), input_.begin() + kContextSamples);
  for (int j = 0; j < kPadRight; ++j) input_[kInput + j] = input_[kInput - 2 - j];

  // STFT: frame f is input_[f * hop, f * hop + taps); the frames overlap, which a row
  // stride of one hop expresses directly.
  gemv_linear(input_.data(), kStftFrames, kStftTaps, kStftHop, f32_matrix(m.stft_basis),
              2 * kStftBins, stft_.data(), 2 * kStftBins, nullptr, false, false, workers_);
  for (int f = 0; f < kStftFrames; ++f) {
    const float* row = stft_.data() + static_cast<std::size_t>(f) * 2 * kStftBins;
    for (int b = 0; b < kStftBins; ++b) {
      const float re = row[b];
      const float im = row[kStftBins + b];
      magnitude_[static_cast<std::size_t>(f) * kStftBins + b] = std::sqrt(re * re + im * im);
    }
  }

  // Encoder: 4 -> 4 -> 2 -> 1 -> 1 frames.
  int frames = kStftFrames;
  const float* x = magnitude_.data();
  float* buffers[2] = {act_a_.data(), act_b_.data()};
  for (int i = 0; i < 4; ++i) {
    const ConvLayer& layer = m.encoder[i];
    float* y = buffers[i % 2];
    conv_relu(layer, x, frames, y);
    frames = (frames + 2 - layer.kernel) / layer.stride + 1;
    x = y;
  }

  // Decoder: one LSTM cell step on the last frame (there is one), then the output layer.
  gemv_linear(x, 1, kHidden, kHidden, f32_matrix(m.lstm_w_ih), 4 * kHidden, gates_.data(),
              4 * kHidden, m.lstm_b_ih.data(), false, false, workers_);
  gemv_linear(h_.data(), 1, kHidden, kHidden, f32_matrix(m.lstm_w_hh), 4 * kHidden, gates_.data(),
              4 * kHidden, m.lstm_b_hh.data(), false, true, workers_);
  float logit = m.out_bias;
  for (int j = 0; j < kHidden; ++j) {
    const float i_gate = sigmoid(gates_[j]);
    const float f_gate = sigmoid(gates_[kHidden + j]);
    const float g_gate = std::tanh(gates_[2 * kHidden + j]);
    const float o_gate = sigmoid(gates_[3 * kHidden + j]);
    c_[j] = f_gate * c_[j] + i_gate * g_gate;
    h_[j] = o_gate * std::tanh(c_[j]);
    logit += m.out_weight[j] * std::max(h_[j], 0.0F);
  }

  std::copy(input_.begin() + kInput - kContextSamples, input_.begin() + kInput, input_.begin());
  return sigmoid(logit);
}

std::vector<float> speech_probabilities(std::shared_ptr<const SileroModel> model,
                                        std::span<const float> samples) {
  SileroVad vad(std::move(model));
  std::vector<float> out;
  out.reserve((samples.size() + kChunkSamples - 1) / kChunkSamples);
  std::array<float, kChunkSamples> chunk{};
  for (std::size_t start = 0; start < samples.size(); start += kChunkSamples) {
    const std::size_t n = std::min<std::size_t>(kChunkSamples, samples.size() - start);
    std::copy_n(samples.begin() + static_cast<std::ptrdiff_t>(start), n, chunk.begin());
    std::fill(chunk.begin() + static_cast<std::ptrdiff_t>(n), chunk.end(), 0.0F);
    out.push_back(vad.process(chunk));
  }
  return out;
}

}  // namespace earshot::whisper::silero
