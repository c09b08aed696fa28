#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "whisper/decoding.h"

namespace earshot::whisper {

class WhisperState;

// Decoder logits from a WhisperState that has encoded the window: the self-attention cache
// holds the fed tokens, so each step costs one position.
class StateLogitsSource final : public LogitsSource {
 public:
  explicit StateLogitsSource(WhisperState& state) : state_(state) {}
  void reset() override;
  std::span<const float> feed(std::span<const int> tokens) override;

 private:
  WhisperState& state_;
  std::vector<std::int32_t> ids_;
  std::vector<float> logits_;
};

}  // namespace earshot::whisper
