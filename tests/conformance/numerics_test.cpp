// The engine's numerics against OpenAI's reference outputs for the `micro` model
// (../shared/conformance, README sections 4 and 7): log-mel, encoder output and decoder
// logits, with the README's tolerances.

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "earshot/audio.h"
#include "earshot/whisper.h"
#include "testing/array_compare.h"
#include "testing/npy.h"
#include "testing/paths.h"
#include "whisper/features/log_mel.h"
#include "whisper/model/model.h"
#include "whisper/network/state.h"

namespace earshot::whisper {
namespace {

using testing::ArrayDiff;
using testing::compare_arrays;
using testing::read_npy;

constexpr int kThreads = 2;

// Section 7 tolerances.
constexpr double kMelMaxAbs = 1e-4;
constexpr double kMelMeanAbs = 1e-6;
constexpr double kEncoderMaxAbs = 1e-4;
constexpr double kEncoderRelL2 = 1e-5;
constexpr double kLogitsMaxAbs = 2e-4;
constexpr double kEndToEndMaxAbs = 5e-4;

void report(const std::string& what, const ArrayDiff& d) {
  std::cout << "[ measured ] " << what << ": " << d.summary() << "\n";
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// "hello" files have no prefix; long45's start with "long45_".
std::string ref_prefix(const std::string& audio) {
  return audio == "hello" ? "" : audio + "_";
}

class NumericsConformance : public ::testing::Test {
 protected:
  static std::shared_ptr<const Model> micro_model(const std::filesystem::path& dir) {
    static std::shared_ptr<const Model> model;
    if (!model) model = load_model(dir / "micro.ggml.bin");
    return model;
  }

  // Logits rows of `expected` ([rows x n_vocab]) against ours, with the per-row argmax check.
  static void expect_logits_match(std::span<const float> actual, const testing::NpyArray& expected,
                                  double tolerance, const std::string& what) {
    ASSERT_EQ(actual.size(), expected.data.size()) << what;
    const ArrayDiff d = compare_arrays(actual, expected.data);
    report(what, d);
    EXPECT_LE(d.max_abs, tolerance) << what;
    const auto n_vocab = static_cast<std::size_t>(expected.dim(1));
    for (std::int64_t r = 0; r < expected.dim(0); ++r) {
      const auto row = static_cast<std::size_t>(r) * n_vocab;
      EXPECT_EQ(testing::argmax(actual.subspan(row, n_vocab)), testing::argmax(expected.slice(r)))
          << what << " row " << r;
    }
  }

  // Start sequence without timestamps followed by decode_nots.json's 40 sampled tokens: the
  // input of logits_teacher_forced_nots.npy.
  static std::vector<std::int32_t> teacher_forced_tokens(const std::filesystem::path& ref,
                                                         const std::string& audio) {
    const auto meta = read_json(ref / "meta.json");
    const auto decoded = read_json(ref / (ref_prefix(audio) + "decode_nots.json"));
    std::vector<std::int32_t> tokens =
        meta["sot_sequence_including_notimestamps"].get<std::vector<std::int32_t>>();
    for (int t : decoded["tokens"]) tokens.push_back(t);
    return tokens;
  }
};

TEST_F(NumericsConformance, LogMelMatchesSingleWindowReference) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  for (const std::string audio : {"hello", "long45"}) {
    const auto samples = decode_audio_file(dir / (audio + ".wav"));
    const LogMel mel = single_window_log_mel(samples, model->mel_filters(), 80, kThreads);
    const auto expected = read_npy(dir / "ref/micro" / (ref_prefix(audio) + "mel_30s.npy"));
    ASSERT_EQ(mel.n_mels, 80);
    ASSERT_EQ(mel.n_frames, 3000);
    ASSERT_EQ(mel.data.size(), expected.data.size());
    const ArrayDiff d = compare_arrays(mel.data, expected.data);
    report(audio + " mel_30s", d);
    EXPECT_LE(d.max_abs, kMelMaxAbs) << audio;
    EXPECT_LE(d.mean_abs, kMelMeanAbs) << audio;
  }
}

TEST_F(NumericsConformance, LogMelMatchesEveryTranscribeWindow) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  // Window seeks from the README's table (section 4.2).
  const std::map<std::string, std::vector<int>> windows = {{"transcribe_hello", {0}},
                                                           {"transcribe_hello_nots", {0}},
                                                           {"transcribe_long45", {0, 2478, 3344}},
                                                           {"transcribe_long45_nots", {0, 3000}}};
  for (const auto& [name, seeks] : windows) {
    const std::string audio = name.find("long45") != std::string::npos ? "long45" : "hello";
    const auto samples = decode_audio_file(dir / (audio + ".wav"));
    const LogMel whole = long_form_log_mel(samples, model->mel_filters(), 80, kThreads);
    const int content_frames = static_cast<int>(samples.size() / kHopLength);
    const auto expected = read_npy(dir / "ref/micro" / (name + "_window_mels.npy"));
    ASSERT_EQ(expected.dim(0), static_cast<std::int64_t>(seeks.size())) << name;
    for (std::size_t w = 0; w < seeks.size(); ++w) {
      const LogMel window = window_mel(whole, seeks[w], content_frames);
      ASSERT_EQ(window.data.size(), expected.slice(static_cast<std::int64_t>(w)).size());
      const ArrayDiff d = compare_arrays(window.data, expected.slice(static_cast<std::int64_t>(w)));
      report(name + " window " + std::to_string(w), d);
      EXPECT_LE(d.max_abs, kMelMaxAbs) << name << " window " << w;
      EXPECT_LE(d.mean_abs, kMelMeanAbs) << name << " window " << w;
    }
  }
}

TEST_F(NumericsConformance, EncoderOutputFromReferenceMel) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  WhisperState state(*model, kThreads);
  for (const std::string audio : {"hello", "long45"}) {
    const auto mel = read_npy(dir / "ref/micro" / (ref_prefix(audio) + "mel_30s.npy"));
    const auto expected = read_npy(dir / "ref/micro" / (ref_prefix(audio) + "encoder_out.npy"));
    state.encode(mel.data);
    ASSERT_EQ(state.encoder_output().size(), expected.data.size());
    const ArrayDiff d = compare_arrays(state.encoder_output(), expected.data);
    report(audio + " encoder_out", d);
    EXPECT_LE(d.max_abs, kEncoderMaxAbs) << audio;
    EXPECT_LE(d.rel_l2, kEncoderRelL2) << audio;
  }
}

TEST_F(NumericsConformance, StartSequenceLogits) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  const auto ref = dir / "ref/micro";
  const auto meta = read_json(ref / "meta.json");
  WhisperState state(*model, kThreads);
  std::vector<float> logits;
  for (const std::string audio : {"hello", "long45"}) {
    state.encode(read_npy(ref / (ref_prefix(audio) + "mel_30s.npy")).data);
    for (const std::string variant : {"logits_sot", "logits_sot_notimestamps"}) {
      const auto tokens =
          meta[variant == "logits_sot" ? "sot_sequence" : "sot_sequence_including_notimestamps"]
              .get<std::vector<std::int32_t>>();
      state.truncate(0);
      state.decode(tokens, /*all_rows=*/true, logits);
      EXPECT_EQ(state.n_past(), static_cast<int>(tokens.size()));
      expect_logits_match(logits, read_npy(ref / (ref_prefix(audio) + variant + ".npy")),
                          kLogitsMaxAbs, audio + " " + variant);
    }
  }
}

TEST_F(NumericsConformance, TeacherForcedLogitsOneTokenAtATimeThroughTheCache) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  const auto ref = dir / "ref/micro";
  WhisperState state(*model, kThreads);
  std::vector<float> step;
  for (const std::string audio : {"hello", "long45"}) {
    const auto tokens = teacher_forced_tokens(ref, audio);
    const auto expected = read_npy(ref / (ref_prefix(audio) + "logits_teacher_forced_nots.npy"));
    ASSERT_EQ(expected.dim(0), static_cast<std::int64_t>(tokens.size()));
    state.encode(read_npy(ref / (ref_prefix(audio) + "mel_30s.npy")).data);
    std::vector<float> rows;
    for (const std::int32_t token : tokens) {
      state.decode(std::span(&token, 1), /*all_rows=*/false, step);
      rows.insert(rows.end(), step.begin(), step.end());
    }
    expect_logits_match(rows, expected, kLogitsMaxAbs,
                        audio + " teacher-forced, one token per step");
  }
}

TEST_F(NumericsConformance, TeacherForcedLogitsInOneCall) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  const auto ref = dir / "ref/micro";
  WhisperState state(*model, kThreads);
  std::vector<float> logits;
  for (const std::string audio : {"hello", "long45"}) {
    const auto tokens = teacher_forced_tokens(ref, audio);
    state.encode(read_npy(ref / (ref_prefix(audio) + "mel_30s.npy")).data);
    state.decode(tokens, /*all_rows=*/true, logits);
    expect_logits_match(logits,
                        read_npy(ref / (ref_prefix(audio) + "logits_teacher_forced_nots.npy")),
                        kLogitsMaxAbs, audio + " teacher-forced, one call");
  }
}

TEST_F(NumericsConformance, PrefixThenStepsAfterTruncate) {
  // A prompt decoded in one call, then the rest step by step after rolling the cache back:
  // what a decoder does when it re-decodes from a shared prefix.
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  const auto ref = dir / "ref/micro";
  const auto tokens = teacher_forced_tokens(ref, "hello");
  const auto expected = read_npy(ref / "logits_teacher_forced_nots.npy");
  WhisperState state(*model, kThreads);
  state.encode(read_npy(ref / "mel_30s.npy").data);
  std::vector<float> logits;
  state.decode(std::span(tokens).first(20), /*all_rows=*/false, logits);
  state.truncate(10);
  std::vector<float> rows(expected.data.begin(), expected.data.begin() + 10 * expected.dim(1));
  for (std::size_t i = 10; i < tokens.size(); ++i) {
    state.decode(std::span(tokens).subspan(i, 1), /*all_rows=*/false, logits);
    rows.insert(rows.end(), logits.begin(), logits.end());
  }
  expect_logits_match(rows, expected, kLogitsMaxAbs, "hello teacher-forced after truncate(10)");
}

TEST_F(NumericsConformance, EndToEndFromOwnMel) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir);
  const auto ref = dir / "ref/micro";
  WhisperState state(*model, kThreads);
  std::vector<float> logits;
  for (const std::string audio : {"hello", "long45"}) {
    const auto samples = decode_audio_file(dir / (audio + ".wav"));
    const LogMel mel = single_window_log_mel(samples, model->mel_filters(), 80, kThreads);
    state.encode(mel.data);
    const ArrayDiff enc = compare_arrays(
        state.encoder_output(), read_npy(ref / (ref_prefix(audio) + "encoder_out.npy")).data);
    report(audio + " encoder_out from own mel", enc);
    state.decode(teacher_forced_tokens(ref, audio), /*all_rows=*/true, logits);
    expect_logits_match(logits,
                        read_npy(ref / (ref_prefix(audio) + "logits_teacher_forced_nots.npy")),
                        kEndToEndMaxAbs, audio + " teacher-forced from own mel");
  }
}

TEST_F(NumericsConformance, F16FileGivesTheSameResultsAsF32File) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto f32 = micro_model(dir);
  const auto f16 = load_model(dir / "micro.ggml-f16.bin");
  EXPECT_EQ(f16->dims().ftype, 1);
  // Every weight is exactly representable in f16 (README section 1): the f16 file's matrices,
  // kept as f16 and converted exactly inside the products, hold the same values, so the
  // outputs are identical too.
  EXPECT_TRUE(f16->weights().decoder.token_embedding.is_f16());
  EXPECT_TRUE(f16->weights().encoder.blocks[1].mlp_fc2.weight.is_f16());
  EXPECT_FALSE(f32->weights().decoder.token_embedding.is_f16());
  EXPECT_EQ(f32->weights().decoder.token_embedding.to_f32(),
            f16->weights().decoder.token_embedding.to_f32());
  EXPECT_EQ(f32->weights().encoder.conv1_weight.data, f16->weights().encoder.conv1_weight.data);
  EXPECT_EQ(f32->weights().encoder.blocks[1].mlp_fc2.weight.to_f32(),
            f16->weights().encoder.blocks[1].mlp_fc2.weight.to_f32());

  const auto ref = dir / "ref/micro";
  const auto mel = read_npy(ref / "mel_30s.npy");
  const auto tokens = teacher_forced_tokens(ref, "hello");
  std::vector<float> logits32;
  std::vector<float> logits16;
  WhisperState s32(*f32, kThreads);
  WhisperState s16(*f16, kThreads);
  s32.encode(mel.data);
  s16.encode(mel.data);
  const ArrayDiff enc = compare_arrays(s16.encoder_output(), s32.encoder_output());
  report("f16 vs f32 file encoder_out", enc);
  EXPECT_EQ(enc.max_abs, 0.0);
  s32.decode(tokens, true, logits32);
  s16.decode(tokens, true, logits16);
  const ArrayDiff d = compare_arrays(logits16, logits32);
  report("f16 vs f32 file logits", d);
  EXPECT_EQ(d.max_abs, 0.0);
  expect_logits_match(logits16, read_npy(ref / "logits_teacher_forced_nots.npy"), kLogitsMaxAbs,
                      "hello teacher-forced, f16 file");
}

}  // namespace
}  // namespace earshot::whisper
