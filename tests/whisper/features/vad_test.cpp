// The energy voice activity detector and the timeline that maps joined speech back.

#include "whisper/features/vad.h"

#include <cmath>
#include <cstdint>

#include <gtest/gtest.h>

namespace earshot::whisper {
namespace {

// `seconds` of a 220 Hz tone at `amplitude` (0 = near-silence: faint noise).
void append(std::vector<float>& out, double seconds, double amplitude) {
  std::uint32_t lcg = 99;
  const auto n = static_cast<std::size_t>(seconds * 16000);
  for (std::size_t i = 0; i < n; ++i) {
    lcg = lcg * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(lcg >> 8) / (1u << 24) - 0.5) * 2e-4;
    out.push_back(static_cast<float>(
        amplitude * std::sin(2 * M_PI * 220 * static_cast<double>(i) / 16000) + noise));
  }
}

TEST(Vad, KeepsSpeechAndShortPausesDropsLongSilence) {
  std::vector<float> audio;
  append(audio, 2.0, 0.0);
  append(audio, 1.0, 0.3);  // 2.0 .. 3.0
  append(audio, 0.5, 0.0);  // a short pause: kept
  append(audio, 1.0, 0.2);  // 3.5 .. 4.5
  append(audio, 6.0, 0.0);  // a long silence: dropped
  append(audio, 1.0, 0.3);  // 10.5 .. 11.5
  append(audio, 1.0, 0.0);
  const auto ranges = detect_speech(audio);
  ASSERT_EQ(ranges.size(), 2u);
  // Padded by 0.25 s on each side.
  EXPECT_NEAR(ranges[0].begin / 16000.0, 1.75, 0.03);
  EXPECT_NEAR(ranges[0].end / 16000.0, 4.75, 0.03);
  EXPECT_NEAR(ranges[1].begin / 16000.0, 10.25, 0.03);
  EXPECT_NEAR(ranges[1].end / 16000.0, 11.75, 0.03);
}

TEST(Vad, SilenceHasNoSpeechButQuietSpeechCounts) {
  std::vector<float> silence;
  append(silence, 3.0, 0.0);
  std::vector<float> zeros(48000, 0.0f);
  EXPECT_TRUE(detect_speech(zeros).empty());
  std::vector<float> quiet;
  append(quiet, 1.0, 0.0);
  append(quiet, 1.0, 0.01);  // -43 dBFS, well above the noise
  append(quiet, 1.0, 0.0);
  EXPECT_EQ(detect_speech(quiet).size(), 1u);
}

TEST(VadTimeline, MapsJoinedTimesBack) {
  const std::vector<SpeechRange> ranges{{16000, 48000}, {160000, 176000}};  // 1-3 s, 10-11 s
  const VadTimeline timeline(ranges, 16000.0);
  EXPECT_DOUBLE_EQ(timeline.to_original(0.0), 1.0);
  EXPECT_DOUBLE_EQ(timeline.to_original(1.5), 2.5);
  EXPECT_DOUBLE_EQ(timeline.to_original(2.0), 10.0);  // the join: the later piece's start
  EXPECT_DOUBLE_EQ(timeline.to_original(2.5), 10.5);
  std::vector<float> samples(200000);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = static_cast<float>(i);
  }
  const auto joined = VadTimeline::join(samples, ranges);
  ASSERT_EQ(joined.size(), 48000u);
  EXPECT_EQ(joined[0], 16000.0f);
  EXPECT_EQ(joined[32000], 160000.0f);
}

}  // namespace
}  // namespace earshot::whisper
