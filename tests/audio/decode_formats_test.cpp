// Every container/codec the audio stage promises, encoded from one tone by `ffmpeg` and
// decoded from memory and from the file: same samples both ways, the tone's duration,
// pitch and energy intact.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <numbers>

#include <gtest/gtest.h>

#include "audio/audio_fixtures.h"
#include "earshot/audio.h"

namespace earshot::audio_test {
namespace {

// Codec frame lengths (samples at the source rate) bound how much padding a lossy
// codec may leave at the ends of a stream.
constexpr double frames(int samples, int rate) {
  return static_cast<double>(samples) / rate;
}

const EncodedFixture kFixtures[] = {
    {"tone_u8.wav", "-c:a pcm_u8", 16000, 1, 1.0 / 16000, 0.02},
    {"tone_s16_44100.wav", "-c:a pcm_s16le", 44100, 1},
    {"tone_s24.wav", "-c:a pcm_s24le", 48000, 1},
    {"tone_s32.wav", "-c:a pcm_s32le", 22050, 1},
    {"tone_f32.wav", "-c:a pcm_f32le", 16000, 1},
    {"tone.flac", "-c:a flac", 44100, 1},
    // LAME itself lowers this tone's level by about 0.5 dB (`ffmpeg -af volumedetect` on the
    // file reports the same), hence the wider energy tolerance.
    {"tone.mp3", "-c:a libmp3lame -b:a 128k", 44100, 1, frames(1152, 44100), 0.08},
    {"tone.ogg", "-c:a libvorbis -q:a 4", 44100, 1, frames(2048, 44100), 0.03},
    {"tone.opus", "-c:a libopus -b:a 64k", 48000, 1, frames(960, 48000), 0.03},
    {"tone.webm", "-c:a libopus -b:a 64k", 48000, 2, frames(960, 48000), 0.03},
    {"tone.m4a", "-c:a aac -b:a 128k", 44100, 1, frames(1024, 44100), 0.03},
    {"tone_stereo.m4a", "-c:a aac -b:a 128k", 48000, 2, frames(1024, 48000), 0.03},
};

class DecodeFormatTest : public ::testing::TestWithParam<EncodedFixture> {};

TEST_P(DecodeFormatTest, DecodesToneFromMemoryAndFile) {
  const EncodedFixture& fixture = GetParam();
  const auto path = make_fixture(fixture);
  const auto bytes = read_bytes(path);
  ASSERT_FALSE(bytes.empty()) << path;

  const std::vector<float> from_memory = decode_audio(bytes);
  const std::vector<float> from_file = decode_audio_file(path);
  EXPECT_EQ(from_memory, from_file) << "memory and file paths must decode identically";

  const double seconds = static_cast<double>(from_memory.size()) / kSampleRate;
  EXPECT_NEAR(seconds, kToneSeconds, fixture.duration_tolerance_s + 1e-9) << fixture.name;

  const auto body = middle(from_memory);
  EXPECT_NEAR(zero_crossing_rate_hz(body, kSampleRate), kToneHz, kToneHz * 0.01) << fixture.name;
  const double expected_rms = kToneAmplitude / std::numbers::sqrt2;
  EXPECT_NEAR(rms(body), expected_rms, expected_rms * fixture.rms_tolerance) << fixture.name;
  for (float s : from_memory) {
    ASSERT_TRUE(s >= -1.0f && s <= 1.0f) << s;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, DecodeFormatTest, ::testing::ValuesIn(kFixtures),
                         [](const auto& param_info) {
                           std::string name = param_info.param.name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// An MP4 with a video track first and the audio second: the audio stream is found and the
// video never decoded.
TEST(DecodeContainerTest, PicksTheAudioTrackOfAVideo) {
  const auto path = make_with_ffmpeg(
      "-f lavfi -i testsrc=size=64x48:rate=10:duration=2 " + tone_source(44100, {tone_expr()}),
      "-map 0:v -map 1:a -c:v mpeg4 -c:a aac -b:a 128k -shortest", "tone_with_video.mp4");
  const std::vector<float> samples = decode_audio(read_bytes(path));
  EXPECT_NEAR(static_cast<double>(samples.size()) / kSampleRate, kToneSeconds, 0.05);
  EXPECT_NEAR(zero_crossing_rate_hz(middle(samples), kSampleRate), kToneHz, kToneHz * 0.01);
}

// Of several audio tracks the one the container marks as default is decoded, wherever it
// sits: here a 6-channel tone (whose downmix still carries the tone) after a silent track.
TEST(DecodeContainerTest, PicksTheDefaultOfSeveralAudioTracks) {
  const auto path = make_with_ffmpeg(
      tone_source(16000, {"0"}) + " " +
          tone_source(48000, std::vector<std::string>(6, tone_expr())),
      "-map 0:a -map 1:a -c:a pcm_s16le -disposition:a:0 0 -disposition:a:1 default -f matroska",
      "two_tracks_second_default.mka");
  const std::vector<float> samples = decode_audio(read_bytes(path));
  EXPECT_NEAR(static_cast<double>(samples.size()) / kSampleRate, kToneSeconds, 1.0 / 16000);
  EXPECT_NEAR(rms(middle(samples)), kToneAmplitude / std::numbers::sqrt2, 0.01)
      << "the silent track was chosen";

  const auto reversed = make_with_ffmpeg(
      tone_source(48000, std::vector<std::string>(6, tone_expr())) + " " +
          tone_source(16000, {"0"}),
      "-map 0:a -map 1:a -c:a pcm_s16le -disposition:a:0 0 -disposition:a:1 default -f matroska",
      "two_tracks_second_default_silent.mka");
  EXPECT_EQ(rms(decode_audio(read_bytes(reversed))), 0.0)
      << "the default (silent) track was not chosen";
}

// For mono inputs the samples agree with what the `ffmpeg` tool itself produces with
// `-ac 1 -ar 16000` (OpenAI's loader, up to its final s16 rounding).
TEST(DecodeContainerTest, AgreesWithTheFfmpegTool) {
  for (const char* name : {"tone.mp3", "tone.ogg", "tone.flac", "tone_s24.wav", "tone.opus"}) {
    const auto it = std::find_if(std::begin(kFixtures), std::end(kFixtures),
                                 [&](const EncodedFixture& f) { return f.name == name; });
    ASSERT_NE(it, std::end(kFixtures));
    const auto path = make_fixture(*it);
    const auto reference_path = make_with_ffmpeg(
        "-i '" + path.string() + "'", "-ac 1 -ar 16000 -f f32le", std::string(name) + ".f32");
    const auto raw = read_bytes(reference_path);
    std::vector<float> reference(raw.size() / sizeof(float));
    std::memcpy(reference.data(), raw.data(), reference.size() * sizeof(float));

    const std::vector<float> samples = decode_audio(read_bytes(path));
    ASSERT_EQ(samples.size(), reference.size()) << name;
    float worst = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      worst = std::max(worst, std::abs(samples[i] - reference[i]));
    }
    EXPECT_LT(worst, 1e-6f) << name;
  }
}

}  // namespace
}  // namespace earshot::audio_test
