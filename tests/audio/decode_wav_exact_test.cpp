// The path Whisper's reference takes: 16 kHz mono s16 WAV must reach the engine as exactly
// sample / 32768, with no resampler or dither touching it.

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "audio/audio_fixtures.h"
#include "earshot/audio.h"
#include "earshot/error.h"

namespace earshot::audio_test {
namespace {

void expect_exact(std::span<const std::int16_t> expected, std::span<const float> actual) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(actual[i], static_cast<float>(expected[i]) / 32768.0f) << "sample " << i;
  }
}

TEST(DecodeWavExactTest, HandWrittenWavIsBitExactIncludingExtremes) {
  std::vector<std::int16_t> samples = {0, 1, -1, 32767, -32768, 12345, -12345};
  std::mt19937 random(7);
  std::uniform_int_distribution<int> any_s16(-32768, 32767);
  for (int i = 0; i < 48000; ++i) {
    samples.push_back(static_cast<std::int16_t>(any_s16(random)));
  }
  const auto wav = make_wav_s16(samples, 16000);

  const std::vector<float> decoded = decode_audio(wav);
  expect_exact(samples, decoded);
  EXPECT_EQ(decoded[4], -1.0f);
}

// ffmpeg's own WAV writer adds a LIST chunk before "data"; the samples still match a parse
// of the RIFF chunks done here, from memory and from the file.
TEST(DecodeWavExactTest, FfmpegWrittenWavMatchesOwnRiffParse) {
  const auto path = make_with_ffmpeg("-f lavfi -i 'anoisesrc=r=16000:a=0.8:d=3:seed=11'",
                                     "-c:a pcm_s16le -ac 1", "noise_s16_16000.wav");
  const auto bytes = read_bytes(path);
  const std::vector<std::int16_t> expected = parse_wav_s16(bytes);
  ASSERT_EQ(expected.size(), 48000u);
  expect_exact(expected, decode_audio(bytes));
  expect_exact(expected, decode_audio_file(path));
}

// The conformance recording the reference outputs were computed from.
TEST(DecodeWavExactTest, ConformanceRecordingIsBitExact) {
  EARSHOT_REQUIRE_CONFORMANCE(conformance);
  const auto bytes = read_bytes(conformance / "hello.wav");
  const std::vector<std::int16_t> expected = parse_wav_s16(bytes);
  ASSERT_EQ(expected.size(), 132370u);  // the README's sample count
  expect_exact(expected, decode_audio_file(conformance / "hello.wav"));
}

TEST(DecodeWavExactTest, HeaderWithZeroSamplesGivesEmptyAudio) {
  EXPECT_TRUE(decode_audio(make_wav_s16({}, 16000)).empty());
  EXPECT_TRUE(decode_audio(make_wav_s16({}, 44100, 2)).empty());
}

TEST(DecodeWavExactTest, FloatWavNonFiniteAndOvershootAreTamed) {
  const float values[] = {0.25f,
                          std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          2.5f,
                          -1.5f,
                          -0.75f};
  std::vector<std::uint8_t> data(sizeof values);
  std::memcpy(data.data(), values, sizeof values);
  const std::vector<float> decoded = decode_audio(make_wav(3, 1, 16000, 32, data));
  const std::vector<float> expected = {0.25f, 0.0f, 1.0f, -1.0f, 1.0f, -1.0f, -0.75f};
  EXPECT_EQ(decoded, expected);
}

}  // namespace
}  // namespace earshot::audio_test
