#include "whisper/state_logits_source.h"

#include "whisper/state.h"

namespace earshot::whisper {

void StateLogitsSource::set_window(std::span<const float> mel) {
  state_.encode(mel);
}

void StateLogitsSource::reset() {
  state_.truncate(0);
}

std::span<const float> StateLogitsSource::feed(std::span<const int> tokens) {
  ids_.assign(tokens.begin(), tokens.end());
  state_.decode(ids_, /*all_rows=*/false, logits_);
  return logits_;
}

}  // namespace earshot::whisper
