// Single-window decoding (DecodingTask over a WhisperState) against the reference's
// decode_*.json, and language detection against lang_probs.json (conformance README
// sections 4, 5 and 7).

#include <cmath>
#include <iostream>

#include <gtest/gtest.h>

#include "conformance/decoding_reference.h"
#include "testing/npy.h"
#include "testing/paths.h"
#include "testing/wav.h"
#include "whisper/decoding/decoding.h"
#include "whisper/engine/state_logits_source.h"
#include "whisper/model/model.h"
#include "whisper/network/state.h"
#include "whisper/text/tokenizer.h"

namespace earshot::whisper {
namespace {

using earshot::testing::Agreement;
using earshot::testing::compare_tokens;
using earshot::testing::load_reference_json;
using earshot::testing::micro_model;
using earshot::testing::min_margin;
using nlohmann::json;

constexpr int kThreads = 2;

struct DecodeCase {
  std::string model_file;  // micro.ggml.bin or micro.ggml-f16.bin
  std::string prefix;      // "" (hello) or "long45_"
  std::string name;        // decode_nots, decode_ts, decode_nots_full, decode_ts_full
};

std::string case_name(const ::testing::TestParamInfo<DecodeCase>& info) {
  std::string n = (info.param.model_file.find("f16") != std::string::npos ? "f16_" : "f32_") +
                  (info.param.prefix.empty() ? std::string("hello_") : std::string("long45_")) +
                  info.param.name;
  return n;
}

class SingleWindowDecode : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(SingleWindowDecode, MatchesTheReference) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const DecodeCase& c = GetParam();
  const auto model = micro_model(dir / c.model_file);
  const Tokenizer tokenizer = Tokenizer::for_model(*model);
  const json ref = load_reference_json(dir / "ref/micro" / (c.prefix + c.name + ".json"));
  const auto mel = earshot::testing::read_npy(dir / "ref/micro" / (c.prefix + "mel_30s.npy"));

  WhisperState state(*model, kThreads);
  state.encode(mel.data);
  StateLogitsSource source(state);

  const json& o = ref["options"];
  DecodingOptions options;
  options.language = o["language"].get<std::string>();
  options.sample_len = o["sample_len"].is_null() ? 0 : o["sample_len"].get<int>();
  options.timestamps = !o["without_timestamps"].get<bool>();
  options.record_steps = true;
  const DecodingTask task(tokenizer, model->dims().n_text_ctx, options);
  ASSERT_EQ(task.initial_tokens(), ref["initial_tokens"].get<std::vector<int>>());
  const DecodingResult r = task.run(source);

  const auto ref_tokens = ref["tokens"].get<std::vector<int>>();
  const auto agreement = compare_tokens(r.tokens, r.steps, ref_tokens, ref["steps"]);
  std::cout << "[ tokens   ] " << c.model_file << " " << c.prefix << c.name << ": "
            << agreement.compared << "/" << ref_tokens.size() << " compared, "
            << (agreement.agreement == Agreement::kIdentical ? "identical"
                : agreement.agreement == Agreement::kNearTie ? "NEAR-TIE: " + agreement.detail
                                                             : "MISMATCH: " + agreement.detail)
            << "; smallest reference margin " << min_margin(ref["steps"]) << "\n";
  ASSERT_NE(agreement.agreement, Agreement::kMismatch) << agreement.detail;
  if (agreement.agreement == Agreement::kNearTie) {
    return;  // the rest cannot be compared
  }

  // Filtered-logit margins and chosen log-probs of every decision.
  double worst_logprob = 0;
  double worst_top = 0;
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    const json& s = ref["steps"][i];
    worst_logprob = std::max(
        worst_logprob, std::abs(r.steps[i].chosen_logprob - s["chosen_logprob"].get<double>()));
    for (std::size_t k = 0; k < 5; ++k) {
      if (!s["top_logits"][k].is_number()) {
        continue;
      }
      if (r.steps[i].top_ids[k] != s["top_ids"][k].get<int>()) {
        continue;  // reordered near-tie
      }
      worst_top = std::max(worst_top,
                           std::abs(r.steps[i].top_logits[k] - s["top_logits"][k].get<double>()));
    }
  }
  std::cout << "[ measured ] max |chosen_logprob| diff " << worst_logprob
            << ", max |top logit| diff " << worst_top << ", avg_logprob diff "
            << std::abs(r.avg_logprob - ref["avg_logprob"].get<double>())
            << ", no_speech_prob rel diff "
            << std::abs(r.no_speech_prob / ref["no_speech_prob"].get<double>() - 1) << "\n";
  EXPECT_EQ(r.steps.size(), ref["steps"].size());
  EXPECT_LE(worst_top, earshot::testing::kLogitTolerance);
  EXPECT_EQ(r.ended_with_eot, ref["ended_with_eot"].get<bool>());
  EXPECT_EQ(r.text, ref["text"].get<std::string>());
  EXPECT_EQ(tokenizer.decode_with_timestamps(r.tokens),
            ref["text_with_timestamps"].get<std::string>());
  EXPECT_NEAR(r.avg_logprob, ref["avg_logprob"].get<double>(), 1e-4);
  const double ns = ref["no_speech_prob"].get<double>();
  EXPECT_NEAR(r.no_speech_prob, ns, 1e-3 * ns);
  EXPECT_EQ(r.compression_ratio, ref["compression_ratio"].get<double>());
  EXPECT_EQ(r.temperature, 0.0f);
}

std::vector<DecodeCase> all_cases() {
  std::vector<DecodeCase> cases;
  for (const char* file : {"micro.ggml.bin", "micro.ggml-f16.bin"}) {
    for (const char* prefix : {"", "long45_"}) {
      for (const char* name : {"decode_nots", "decode_ts", "decode_nots_full", "decode_ts_full"}) {
        cases.push_back({file, prefix, name});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Reference, SingleWindowDecode, ::testing::ValuesIn(all_cases()),
                         case_name);

void expect_language_probs(const std::vector<LanguageProbability>& probs, const json& ref,
                           double tol, const std::string& what) {
  ASSERT_EQ(probs.size(), ref["probs"].size());
  EXPECT_EQ(probs.front().code, ref["detected"].get<std::string>());
  double worst = 0;
  for (const auto& p : probs) {
    const double diff = std::abs(p.probability - ref["probs"][p.code].get<double>());
    worst = std::max(worst, diff);
    EXPECT_LE(diff, tol) << p.code;
  }
  std::cout << "[ measured ] " << what << ": detected " << probs.front().code
            << ", max |probability| diff " << worst << "\n";
}

TEST(LanguageDetection, FromTheReferenceMel) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir / "micro.ggml.bin");
  const auto sp = SpecialTokens::for_vocab_size(model->dims().n_vocab);
  for (const std::string prefix : {"", "long45_"}) {
    const json ref = load_reference_json(dir / "ref/micro" / (prefix + "lang_probs.json"));
    const auto mel = earshot::testing::read_npy(dir / "ref/micro" / (prefix + "mel_30s.npy"));
    WhisperState state(*model, kThreads);
    state.encode(mel.data);
    StateLogitsSource source(state);
    expect_language_probs(language_probabilities(source, sp), ref, 1e-5,
                          (prefix.empty() ? "hello" : "long45") + std::string(" reference mel"));
  }
}

TEST(LanguageDetection, PublicApiFromTheRecording) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const auto model = micro_model(dir / "micro.ggml.bin");
  for (const std::string audio : {"hello", "long45"}) {
    const json ref = load_reference_json(
        dir / "ref/micro" / ((audio == "hello" ? "" : audio + "_") + "lang_probs.json"));
    const auto wav = earshot::testing::read_wav_pcm16(dir / (audio + ".wav"));
    expect_language_probs(detect_language(*model, wav.samples, kThreads), ref, 1e-5,
                          audio + " own mel via detect_language()");
  }
}

}  // namespace
}  // namespace earshot::whisper
