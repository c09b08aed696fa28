// Channel downmix and sample-rate conversion: stereo and surround become the average of
// the channels, every rate becomes 16 kHz without changing duration or pitch.

#include <cmath>
#include <numbers>

#include <gtest/gtest.h>

#include "audio/audio_fixtures.h"
#include "earshot/audio.h"

namespace earshot::audio_test {
namespace {

std::vector<float> decode_generated(const std::vector<std::string>& channels, int rate,
                                    const std::string& name) {
  return decode_audio(
      read_bytes(make_with_ffmpeg(tone_source(rate, channels), "-c:a pcm_f32le", name)));
}

TEST(DownmixTest, StereoBecomesTheAverageOfTheChannels) {
  // Tone on the left only: half the amplitude. Opposite phases: silence.
  const auto left_only = decode_generated({tone_expr(), "0"}, 16000, "left_only.wav");
  ASSERT_EQ(left_only.size(), 32000u);
  for (std::size_t i = 0; i < left_only.size(); ++i) {
    const double t = static_cast<double>(i) / 16000;
    ASSERT_NEAR(left_only[i], 0.5 * kToneAmplitude * std::sin(2 * std::numbers::pi * kToneHz * t),
                1e-6)
        << i;
  }

  const auto cancelling =
      decode_generated({tone_expr(), tone_expr(kToneHz, -kToneAmplitude)}, 16000, "opposed.wav");
  ASSERT_EQ(cancelling.size(), 32000u);
  EXPECT_LT(rms(cancelling), 1e-6);
}

TEST(DownmixTest, FullScaleStereoStaysInRange) {
  const auto loud = decode_generated({tone_expr(kToneHz, 1.0), tone_expr(kToneHz, 1.0)}, 16000,
                                     "full_scale_stereo.wav");
  float peak = 0;
  for (float s : loud) {
    peak = std::max(peak, std::abs(s));
  }
  EXPECT_NEAR(peak, 1.0f, 1e-3f);
}

TEST(DownmixTest, SurroundKeepsTheTone) {
  const auto surround =
      decode_generated(std::vector<std::string>(6, tone_expr()), 48000, "tone_5_1.wav");
  EXPECT_EQ(surround.size(), 32000u);
  EXPECT_NEAR(zero_crossing_rate_hz(middle(surround), kSampleRate), kToneHz, kToneHz * 0.01);
  EXPECT_GT(rms(middle(surround)), 0.05);
}

// Each source rate lands on exactly 2 s of 16 kHz samples, and away from the edges the
// samples follow the ideal 16 kHz sine closely (the resampler keeps timing and phase).
class ResampleTest : public ::testing::TestWithParam<int> {};

TEST_P(ResampleTest, KeepsDurationPitchAndPhase) {
  const int rate = GetParam();
  const auto samples =
      decode_generated({tone_expr()}, rate, "tone_f32_" + std::to_string(rate) + ".wav");
  EXPECT_EQ(samples.size(), 32000u);
  double worst = 0;
  for (std::size_t i = 1600; i + 1600 < samples.size(); ++i) {
    const double t = static_cast<double>(i) / kSampleRate;
    const double ideal = kToneAmplitude * std::sin(2 * std::numbers::pi * kToneHz * t);
    worst = std::max(worst, std::abs(samples[i] - ideal));
  }
  EXPECT_LT(worst, 2e-3) << rate << " Hz";
}

INSTANTIATE_TEST_SUITE_P(Rates, ResampleTest, ::testing::Values(8000, 22050, 44100, 48000, 96000));

// Above 8 kHz nothing of the original survives at 16 kHz: the resampler filters instead of
// folding a 12 kHz tone down to 4 kHz.
TEST(ResampleFilterTest, RemovesContentAboveTheNewNyquist) {
  const auto samples = decode_generated({tone_expr(12000.0)}, 48000, "tone_12k_48000.wav");
  EXPECT_LT(rms(middle(samples)), 0.01);
}

}  // namespace
}  // namespace earshot::audio_test
