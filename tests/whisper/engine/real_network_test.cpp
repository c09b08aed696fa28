// transcribe() through the real network of writer-made models: beam search against greedy
// decoding, and word timestamps (the cross-attention pass, DTW, the words' bounds).

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "earshot/whisper.h"
#include "model_writer/model_writer.h"
#include "testing/small_model.h"
#include "whisper/model/model.h"
#include "whisper/network/state_pool.h"

namespace earshot::whisper {
namespace {

using test::micro_model;

// `seconds` of a rising tone, 0.3 * sin(2 pi (base_hz + slope_hz * t) t), at 16 kHz.
std::vector<float> sweep(double seconds, double base_hz, double slope_hz) {
  std::vector<float> s(static_cast<std::size_t>(seconds * 16000));
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    s[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * (base_hz + slope_hz * t) * t));
  }
  return s;
}

TEST(BatchedState, OneBeamTranscribesLikeGreedy) {
  const auto model = micro_model();
  const std::vector<float> samples = sweep(8.0, 300, 30);
  TranscribeOptions o;
  o.threads = 2;
  o.language = "en";
  o.sample_len = 32;
  o.temperatures = {0.0f};
  const Transcription greedy = transcribe(*model, samples, o);
  o.beam_size = 1;
  const Transcription beam = transcribe(*model, samples, o);
  ASSERT_EQ(beam.segments.size(), greedy.segments.size());
  for (std::size_t i = 0; i < beam.segments.size(); ++i) {
    EXPECT_EQ(beam.segments[i].tokens, greedy.segments[i].tokens);
    EXPECT_NEAR(beam.segments[i].avg_logprob, greedy.segments[i].avg_logprob, 1e-4);
  }
  // Five beams: a valid transcription whose windows score at least as well as greedy's
  // is not guaranteed, but it must run through the batched pass and end cleanly.
  o.beam_size = 5;
  const Transcription five = transcribe(*model, samples, o);
  EXPECT_FALSE(five.segments.empty());
}

TEST(StateReuse, AReusedStateTranscribesLikeAFreshOne) {
  const auto model = micro_model(13);
  const std::vector<float> samples = sweep(8.0, 250, 20);
  TranscribeOptions o;
  o.threads = 2;
  o.language = "en";
  o.sample_len = 24;
  o.temperatures = {0.0f};
  const Transcription fresh = transcribe(*model, samples, o);
  EXPECT_EQ(state_pool_of(*model).idle(), 1u);
  // Beams and word timestamps leave their sequences and a cross-attention pass in the state.
  TranscribeOptions busy = o;
  busy.beam_size = 5;
  busy.word_timestamps = true;
  transcribe(*model, samples, busy);
  const Transcription reused = transcribe(*model, samples, o);
  EXPECT_EQ(state_pool_of(*model).idle(), 1u);
  ASSERT_EQ(reused.segments.size(), fresh.segments.size());
  for (std::size_t i = 0; i < fresh.segments.size(); ++i) {
    EXPECT_EQ(reused.segments[i].tokens, fresh.segments[i].tokens);
    EXPECT_DOUBLE_EQ(reused.segments[i].avg_logprob, fresh.segments[i].avg_logprob);
  }
}

TEST(WordTimestamps, TranscribeFillsWordsThatSpellTheSegments) {
  const auto model = micro_model(11);
  TranscribeOptions o;
  o.threads = 2;
  o.language = "en";
  o.sample_len = 24;
  o.temperatures = {0.0f};
  o.word_timestamps = true;
  const Transcription t = transcribe(*model, sweep(12.0, 200, 40), o);
  std::string from_words;
  std::string from_segments;
  int words = 0;
  for (const Segment& s : t.segments) {
    from_segments += s.text;
    double previous_end = 0;
    for (const Word& w : s.words) {
      from_words += w.word;
      EXPECT_LE(w.start, w.end);
      EXPECT_GE(w.start, previous_end - 1e-9);
      EXPECT_GE(w.probability, 0.0);
      EXPECT_LE(w.probability, 1.0);
      previous_end = w.end;
      ++words;
    }
    if (!s.words.empty()) {
      // The segment's bounds come from its words unless a word is too long.
      EXPECT_LE(s.start, s.words.front().end);
      EXPECT_GE(s.end, s.words.back().start);
    }
  }
  EXPECT_GT(words, 0);
  // This vocabulary's words have no leading spaces, so one "word" may run over the next
  // segments' tokens (the reference assigns it to the segment it starts in): a segment's words
  // spell at least its own text.
  for (const Segment& s : t.segments) {
    std::string joined;
    for (const Word& w : s.words) {
      joined += w.word;
    }
    if (!s.words.empty()) {
      EXPECT_EQ(joined.substr(0, s.text.size()), s.text);
    }
  }
}

}  // namespace
}  // namespace earshot::whisper
