// WhisperState's batched decoding (fork / decode_batch / reorder) against one sequence at a
// time through decode(), on a writer-made model.

#include <cmath>

#include <gtest/gtest.h>

#include "earshot/whisper.h"
#include "model_writer/model_writer.h"
#include "testing/small_model.h"
#include "whisper/model/model.h"
#include "whisper/network/state.h"
#include "whisper/text/special_tokens.h"

namespace earshot::whisper {
namespace {

using test::micro_model;

// Logits of `sequence` fed from scratch, last row.
std::vector<float> fresh_logits(WhisperState& state, const std::vector<int>& sequence) {
  state.truncate(0);
  std::vector<float> logits;
  state.decode(sequence, false, logits);
  return logits;
}

TEST(BatchedState, ForkedSequencesMatchSequentialDecoding) {
  const auto model = micro_model();
  const ModelDims& dims = model->dims();
  WhisperState state(*model, 2);
  std::vector<float> mel(static_cast<std::size_t>(dims.n_mels) * 3000);
  for (std::size_t i = 0; i < mel.size(); ++i) {
    mel[i] = static_cast<float>(std::sin(0.001 * static_cast<double>(i)));
  }
  state.encode(mel);
  const auto sp = SpecialTokens::for_vocab_size(dims.n_vocab);
  const std::vector<int> prefix = sp.start_sequence("en", Task::kTranscribe, true);
  std::vector<float> logits;
  state.decode(prefix, false, logits);
  state.fork(3, 8);
  std::vector<std::vector<int>> sequences(3, prefix);
  const auto step = [&](const std::vector<int>& tokens) {
    for (std::size_t i = 0; i < 3; ++i) {
      sequences[i].push_back(tokens[i]);
    }
    state.decode_batch(tokens, logits);
  };
  step({100, 200, 300});
  step({101, 201, 301});
  // Sequence 0 continues the old 2, 1 and 2 the old 0.
  state.reorder(std::vector<int>{2, 0, 0});
  sequences = {sequences[2], sequences[0], sequences[0]};
  step({102, 202, 302});
  EXPECT_EQ(state.n_sequences(), 3);

  const std::vector<float> batch = logits;
  const auto n_vocab = static_cast<std::size_t>(dims.n_vocab);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::vector<float> expected = fresh_logits(state, sequences[i]);
    double max_diff = 0;
    for (std::size_t v = 0; v < n_vocab; ++v) {
      max_diff =
          std::max(max_diff, std::abs(static_cast<double>(batch[i * n_vocab + v]) - expected[v]));
    }
    EXPECT_LT(max_diff, 1e-4) << "sequence " << i;
  }
}

}  // namespace
}  // namespace earshot::whisper
