#include "whisper/features/silero/speech_timestamps.h"

#include <vector>

#include <gtest/gtest.h>

#include "whisper/features/silero/silero_model.h"

namespace earshot::whisper::silero {
namespace {

// Chunk probabilities from runs of (value, chunks).
std::vector<float> runs(std::initializer_list<std::pair<float, int>> parts) {
  std::vector<float> out;
  for (const auto& [value, count] : parts) out.insert(out.end(), count, value);
  return out;
}

std::size_t samples_of(const std::vector<float>& p) {
  return p.size() * kChunkSamples;
}

TEST(SpeechTimestamps, ASegmentEndsAfterTheMinimumSilenceAndIsPadded) {
  const auto p = runs({{0.9F, 10}, {0.0F, 10}});
  const auto r = speech_timestamps(p, samples_of(p));
  ASSERT_EQ(r.size(), 1U);
  EXPECT_EQ(r[0].begin, 0U);
  EXPECT_EQ(r[0].end, 5120U + 480U);  // the first silent chunk, plus 30 ms
}

TEST(SpeechTimestamps, BurstsShorterThanTheMinimumSpeechAreDropped) {
  const auto p = runs({{0.0F, 4}, {0.9F, 5}, {0.0F, 20}});
  EXPECT_TRUE(speech_timestamps(p, samples_of(p)).empty());
  SpeechTimestampOptions o;
  o.min_speech_ms = 100;
  EXPECT_EQ(speech_timestamps(p, samples_of(p), o).size(), 1U);
}

TEST(SpeechTimestamps, ProbabilitiesBetweenTheThresholdsKeepSpeechGoing) {
  const auto p = runs({{0.9F, 10}, {0.4F, 10}, {0.0F, 10}});
  auto r = speech_timestamps(p, samples_of(p));
  ASSERT_EQ(r.size(), 1U);
  EXPECT_EQ(r[0].end, 20U * 512U + 480U);
  // 0.4 does not start speech either.
  EXPECT_TRUE(speech_timestamps(runs({{0.4F, 30}}), 30 * 512).empty());
  SpeechTimestampOptions o;
  o.neg_threshold = 0.45;
  r = speech_timestamps(p, samples_of(p), o);
  ASSERT_EQ(r.size(), 1U);
  EXPECT_EQ(r[0].end, 10U * 512U + 480U);
}

TEST(SpeechTimestamps, TwoSegmentsArePaddedApartOrShareACloseGap) {
  const auto p = runs({{0.9F, 10}, {0.0F, 5}, {0.9F, 10}, {0.0F, 10}});
  auto r = speech_timestamps(p, samples_of(p));
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[0].begin, 0U);
  EXPECT_EQ(r[0].end, 5120U + 480U);
  EXPECT_EQ(r[1].begin, 7680U - 480U);
  EXPECT_EQ(r[1].end, 12800U + 480U);
  // A gap shorter than twice the padding is split in the middle.
  SpeechTimestampOptions o;
  o.speech_pad_ms = 100;  // 1600 samples; the gap is 2560
  r = speech_timestamps(p, samples_of(p), o);
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[0].end, 5120U + 1280U);
  EXPECT_EQ(r[1].begin, 7680U - 1280U);
}

TEST(SpeechTimestamps, SpeechRunningToTheEndEndsWithTheAudio) {
  const auto p = runs({{0.0F, 3}, {0.9F, 20}});
  const std::size_t total = samples_of(p) - 100;  // the last chunk was padded
  const auto r = speech_timestamps(p, total);
  ASSERT_EQ(r.size(), 1U);
  EXPECT_EQ(r[0].begin, 3U * 512U - 480U);
  EXPECT_EQ(r[0].end, total);
}

TEST(SpeechTimestamps, OverlongSpeechIsSplitAtItsPauseElseCut) {
  // 1 s at most (16000 - 512 - 2 * 480 = 14528 samples before padding); a 5-chunk dip at
  // chunk 20 is a pause of 98 ms or more, though too short to end the segment.
  const auto p = runs({{0.9F, 20}, {0.2F, 5}, {0.9F, 35}});
  SpeechTimestampOptions o;
  o.max_speech_s = 1.0;
  o.min_silence_ms = 3000;
  const auto r = speech_timestamps(p, samples_of(p), o);
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[0].begin, 0U);
  EXPECT_EQ(r[0].end, 10240U + 480U);    // split where the pause began
  EXPECT_EQ(r[1].begin, 12800U - 480U);  // and went on where speech resumed
  EXPECT_EQ(r[1].end, 27648U + 480U);    // then cut (no pause): what follows is too short
}

TEST(SpeechTimestamps, NothingFromSilenceOrNoProbabilities) {
  EXPECT_TRUE(speech_timestamps({}, 0).empty());
  EXPECT_TRUE(speech_timestamps(runs({{0.1F, 50}}), 50 * 512).empty());
}

}  // namespace
}  // namespace earshot::whisper::silero
