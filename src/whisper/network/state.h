#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace earshot {
class Model;
}

namespace earshot::whisper {

class StepBatcher;

// Per-transcription inference state over one shared, immutable Model: encoder output,
// cross-attention K/V (computed once per window) and the decoder's self-attention cache.
// Not thread-safe; one per concurrent transcription.
class WhisperState {
 public:
  // With `batcher` (shared by the states of one model, step_batcher.h), decoder steps of a
  // few rows run together with other states' concurrent steps; results are the same.
  WhisperState(const Model& model, int threads, StepBatcher* batcher = nullptr);
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

  // The state stops stepping for a while (between windows, or between transcriptions): the
  // step batcher's leaders stop waiting for its steps. encode() does this itself.
  void leave_batch();

  // Number of positions in the self-attention cache.
  int n_past() const;

  // Forgets cached positions >= n (n <= n_past()).
  void truncate(int n);

  const Model& model() const;

  // Batched decoding of n sequences that all continue the positions cached now (the prompt
  // and start sequence), over this window's cross-attention K/V. fork() starts them, with room
  // for `max_steps` tokens each; decode_batch() appends one token to each sequence and writes
  // their next logits [n x n_vocab]; reorder() makes sequence i continue sequence sources[i]
  // (beam search). The sequences' K/V rows live in a shared pool and each sequence lists its
  // rows, so a reorder moves row indices, never K/V. decode()/truncate() leave them alone.
  void fork(int n, int max_steps);
  void decode_batch(std::span<const std::int32_t> tokens, std::vector<float>& logits);
  void reorder(std::span<const int> sources);
  int n_sequences() const;

  // A fresh pass (the cache is cleared first) over `tokens` that returns the raw
  // cross-attention scores q k^T / sqrt(d_head) of each (layer, head) in `heads`, laid out
  // [head][token][n_audio_ctx], and writes every row's logits [n x n_vocab] (word timestamps,
  // timing.py's find_alignment).
  std::vector<float> cross_attention_scores(std::span<const std::int32_t> tokens,
                                            std::span<const std::pair<int, int>> heads,
                                            std::vector<float>& logits);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::whisper
