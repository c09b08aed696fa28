#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace earshot {
class Model;
}

namespace earshot::whisper {

// Per-transcription inference state over one shared, immutable Model: encoder output,
// cross-attention K/V (computed once per window) and the decoder's self-attention cache.
// Not thread-safe; one per concurrent transcription.
class WhisperState {
 public:
  WhisperState(const Model& model, int threads);
  ~WhisperState();
  WhisperState(const WhisperState&) = delete;
  WhisperState& operator=(const WhisperState&) = delete;

  // Runs the encoder on one window, mel band-major [n_mels x 3000], then computes every decoder
  // layer's cross-attention K/V. Resets the self-attention cache.
  void encode(std::span<const float> mel);

  // The encoder output of the last encode(), [n_audio_ctx x n_audio_state] row-major.
  std::span<const float> encoder_output() const;

  // Feeds `tokens` at positions n_past() .. n_past()+n-1, appending to the self-attention
  // cache. Writes logits to `logits`: all rows [n x n_vocab] if all_rows, else the last row
  // only [n_vocab].
  void decode(std::span<const std::int32_t> tokens, bool all_rows, std::vector<float>& logits);

  // Number of positions in the self-attention cache.
  int n_past() const;

  // Forgets cached positions >= n (n <= n_past()).
  void truncate(int n);

  const Model& model() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::whisper
