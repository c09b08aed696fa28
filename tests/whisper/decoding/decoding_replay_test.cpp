// Replays the reference's recorded decoder logits through earshot's logit filters and greedy
// strategy: every recorded decision (top 5 after the filters, chosen token, its log-prob) must
// come out the same, without running the network.

#include <cmath>

#include <gtest/gtest.h>

#include "testing/paths.h"
#include "testing/reference_files.h"
#include "testing/replay_logits_source.h"
#include "whisper/decoding/decoding.h"

namespace earshot::whisper {
namespace {

using earshot::testing::ReplayLogitsSource;
using earshot::testing::reference::NpyArray;
using earshot::testing::reference::read_ggml_vocab;
using earshot::testing::reference::read_json;
using earshot::testing::reference::read_npy;
using nlohmann::json;

Tokenizer micro_tokenizer(const std::filesystem::path& dir) {
  auto vocab = read_ggml_vocab(dir / "micro.ggml.bin");
  return Tokenizer(std::move(vocab.tokens), vocab.n_vocab);
}

DecodingOptions options_of(const json& ref) {
  const json& o = ref["options"];
  DecodingOptions options;
  options.language = o["language"].get<std::string>();
  options.temperature = o["temperature"].get<float>();
  options.sample_len = o["sample_len"].is_null() ? 0 : o["sample_len"].get<int>();
  options.timestamps = !o["without_timestamps"].get<bool>();
  options.suppress_blank = o["suppress_blank"].get<bool>();
  EXPECT_EQ(o["suppress_tokens"], "-1");
  options.max_initial_timestamp = o["max_initial_timestamp"].get<float>();
  options.record_steps = true;
  return options;
}

// Compares one recorded step with earshot's. The teacher-forced logits come from one pass
// without a kv cache while decode() used its cache, so they differ from the decode-time
// logits by float rounding (about 5e-6); the filters and the choice must not.
void expect_same_step(const json& ref, const DecodingStep& step, double logit_tol) {
  EXPECT_EQ(step.pos, ref["pos"].get<int>());
  EXPECT_EQ(step.chosen, ref["chosen"].get<int>());
  const auto ids = ref["top_ids"].get<std::vector<int>>();
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const json& logit = ref["top_logits"][k];
    if (logit.is_number()) {
      EXPECT_EQ(step.top_ids[k], ids[k]) << "rank " << k;
      EXPECT_NEAR(step.top_logits[k], logit.get<double>(), logit_tol) << "rank " << k;
    } else {
      EXPECT_TRUE(std::isinf(step.top_logits[k])) << "rank " << k << " should be masked";
    }
  }
  EXPECT_NEAR(step.chosen_logprob, ref["chosen_logprob"].get<double>(), 1e-5);
}

void replay_teacher_forced(const std::string& prefix) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const Tokenizer tokenizer = micro_tokenizer(dir);
  const auto ref = read_json(dir / "ref/micro" / (prefix + "decode_nots.json"));
  const NpyArray logits = read_npy(dir / "ref/micro" / (prefix + "logits_teacher_forced_nots.npy"));
  std::vector<int> recorded = ref["initial_tokens"].get<std::vector<int>>();
  const auto tokens = ref["tokens"].get<std::vector<int>>();
  recorded.insert(recorded.end(), tokens.begin(), tokens.end());
  ReplayLogitsSource source(logits, recorded);

  const DecodingTask task(tokenizer, 448, options_of(ref));
  ASSERT_EQ(task.initial_tokens(), ref["initial_tokens"].get<std::vector<int>>());
  const DecodingResult r = task.run(source);
  EXPECT_EQ(r.tokens, tokens);
  ASSERT_EQ(r.steps.size(), ref["steps"].size());
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    expect_same_step(ref["steps"][i], r.steps[i], 5e-5);
  }
  EXPECT_EQ(r.ended_with_eot, ref["ended_with_eot"].get<bool>());
  EXPECT_EQ(r.text, ref["text"].get<std::string>());
  EXPECT_DOUBLE_EQ(r.compression_ratio, ref["compression_ratio"].get<double>());
  EXPECT_NEAR(r.avg_logprob, ref["avg_logprob"].get<double>(), 1e-5);
  // Row 0 of the teacher-forced pass is the sot position of decode()'s own pass.
  const double ns = ref["no_speech_prob"].get<double>();
  EXPECT_NEAR(r.no_speech_prob, ns, 1e-3 * ns);
}

TEST(DecodingReplay, HelloDecodeNotsFromTeacherForcedLogits) {
  replay_teacher_forced("");
}
TEST(DecodingReplay, Long45DecodeNotsFromTeacherForcedLogits) {
  replay_teacher_forced("long45_");
}

// The first step of each decode file from logits_sot*.npy: the filters alone decide it.
void replay_first_step(const std::string& prefix, const std::string& decode_file,
                       const std::string& logits_file) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const Tokenizer tokenizer = micro_tokenizer(dir);
  const auto ref = read_json(dir / "ref/micro" / (prefix + decode_file));
  const NpyArray logits = read_npy(dir / "ref/micro" / (prefix + logits_file));
  std::vector<int> recorded = ref["initial_tokens"].get<std::vector<int>>();
  ReplayLogitsSource source(logits, recorded);
  DecodingOptions options = options_of(ref);
  options.sample_len = 1;
  const DecodingResult r = DecodingTask(tokenizer, 448, options).run(source);
  ASSERT_EQ(r.steps.size(), 1u);
  expect_same_step(ref["steps"][0], r.steps[0], 1e-6);
}

TEST(DecodingReplay, FirstTimestampStepFromSotLogits) {
  replay_first_step("", "decode_ts.json", "logits_sot.npy");
  replay_first_step("long45_", "decode_ts.json", "logits_sot.npy");
  replay_first_step("", "decode_ts_full.json", "logits_sot.npy");
}

TEST(DecodingReplay, FirstNoTimestampStepFromSotLogits) {
  replay_first_step("", "decode_nots.json", "logits_sot_notimestamps.npy");
  replay_first_step("long45_", "decode_nots_full.json", "logits_sot_notimestamps.npy");
}

TEST(DecodingReplay, LanguageProbabilitiesFromSotLogits) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  for (const std::string prefix : {"", "long45_"}) {
    SCOPED_TRACE(prefix);
    const auto ref = read_json(dir / "ref/micro" / (prefix + "lang_probs.json"));
    const NpyArray logits = read_npy(dir / "ref/micro" / (prefix + "logits_sot.npy"));
    const auto sp = SpecialTokens::for_vocab_size(51865);
    const auto probs = language_probabilities({logits.row(0), logits.row_size()}, sp);
    ASSERT_EQ(probs.size(), ref["probs"].size());
    EXPECT_EQ(probs[0].code, ref["detected"].get<std::string>());
    EXPECT_EQ(sp.language_token(probs[0].code), ref["detected_token"].get<int>());
    for (const auto& p : probs) {
      EXPECT_NEAR(p.probability, ref["probs"][p.code].get<double>(), 1e-6) << p.code;
    }
  }
}

}  // namespace
}  // namespace earshot::whisper
