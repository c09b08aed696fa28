#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "whisper/decoding/decoding.h"
#include "whisper/model/alignment_heads.h"

namespace earshot::whisper {

class WhisperState;

// Decoder logits from a WhisperState: set_window() runs the encoder; the self-attention cache
// holds the fed tokens, so each step costs one position.
class StateLogitsSource final : public WindowLogitsSource {
 public:
  // `alignment_heads`: the (layer, head) pairs alignment_pass() reads (alignment_heads.h).
  explicit StateLogitsSource(WhisperState& state, AlignmentHeads alignment_heads = {})
      : state_(state), alignment_heads_(std::move(alignment_heads)) {}
  void set_window(std::span<const float> mel) override;
  void reset() override;
  std::span<const float> feed(std::span<const int> tokens) override;
  void fork(std::span<const int> prefix, int n, int max_steps) override;
  std::span<const float> feed_batch(std::span<const int> tokens) override;
  void reorder(std::span<const int> sources) override;
  AlignmentPass alignment_pass(std::span<const int> tokens) override;

 private:
  WhisperState& state_;
  AlignmentHeads alignment_heads_;
  std::vector<std::int32_t> ids_;
  std::vector<float> logits_;
};

}  // namespace earshot::whisper
