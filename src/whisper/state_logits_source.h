#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "whisper/decoding.h"

namespace earshot::whisper {

class WhisperState;

// Decoder logits from a WhisperState: set_window() runs the encoder; the self-attention cache
// holds the fed tokens, so each step costs one position.
class StateLogitsSource final : public WindowLogitsSource {
 public:
  explicit StateLogitsSource(WhisperState& state) : state_(state) {}
  void set_window(std::span<const float> mel) override;
  void reset() override;
  std::span<const float> feed(std::span<const int> tokens) override;

 private:
  WhisperState& state_;
  std::vector<std::int32_t> ids_;
  std::vector<float> logits_;
};

}  // namespace earshot::whisper
