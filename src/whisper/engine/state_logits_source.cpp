#include "whisper/engine/state_logits_source.h"

#include "earshot/whisper.h"
#include "whisper/network/state.h"

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

// The prefix is what the state has cached since reset(): the sequences share it.
void StateLogitsSource::fork(std::span<const int> /*prefix*/, int n, int max_steps) {
  state_.fork(n, max_steps);
}

std::span<const float> StateLogitsSource::feed_batch(std::span<const int> tokens) {
  ids_.assign(tokens.begin(), tokens.end());
  state_.decode_batch(ids_, logits_);
  return logits_;
}

void StateLogitsSource::reorder(std::span<const int> sources) {
  state_.reorder(sources);
}

WindowLogitsSource::AlignmentPass StateLogitsSource::alignment_pass(std::span<const int> tokens) {
  ids_.assign(tokens.begin(), tokens.end());
  AlignmentPass pass;
  pass.scores = state_.cross_attention_scores(ids_, alignment_heads_, pass.logits);
  pass.n_heads = static_cast<int>(alignment_heads_.size());
  pass.n_tokens = static_cast<int>(tokens.size());
  pass.n_frames = model_dims(state_.model()).n_audio_ctx;
  state_.truncate(0);
  return pass;
}

}  // namespace earshot::whisper
