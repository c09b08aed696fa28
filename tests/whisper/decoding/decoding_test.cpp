#include "whisper/decoding/decoding.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "testing/byte_tokenizer.h"
#include "testing/replay_logits_source.h"

namespace earshot::whisper {
namespace {

using earshot::testing::ScriptedLogitsSource;

constexpr int kTextCtx = 448;

class DecodingTaskTest : public ::testing::Test {
 protected:
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const SpecialTokens& sp = tokenizer.special();

  std::vector<float> flat(float v = 0.0f) const {
    return std::vector<float>(static_cast<std::size_t>(sp.n_vocab), v);
  }
  static DecodingOptions no_timestamps() {
    DecodingOptions o;
    o.timestamps = false;
    return o;
  }
};

TEST_F(DecodingTaskTest, GreedyStopsAtEotAndAveragesOverTokensPlusOne) {
  // Spells "hi" then ends; the logits depend only on how many tokens were sampled.
  const std::vector<int> script{'h', 'i', sp.eot};
  ScriptedLogitsSource source([&](const std::vector<int>& seq) {
    auto l = flat(0.0f);
    const std::size_t sampled = seq.size() < 4 ? 0 : seq.size() - 4;
    l[static_cast<std::size_t>(script[std::min(sampled, script.size() - 1)])] = 5.0f;
    l[static_cast<std::size_t>(sp.no_speech)] = 1.0f;
    return l;
  });
  auto options = no_timestamps();
  options.record_steps = true;
  const DecodingTask task(tokenizer, kTextCtx, options);
  EXPECT_EQ(task.initial_tokens(),
            (std::vector<int>{sp.sot, sp.first_language, sp.transcribe, sp.no_timestamps}));
  const DecodingResult r = task.run(source);
  EXPECT_EQ(r.tokens, (std::vector<int>{'h', 'i'}));
  EXPECT_TRUE(r.ended_with_eot);
  EXPECT_EQ(r.text, "hi");
  ASSERT_EQ(r.steps.size(), 3u);
  // Each step's log-prob is over the filtered logits: suppress_tokens masked 88-ish ids and
  // suppress blank masked " " and eot at the first step only.
  double sum = 0;
  for (const auto& step : r.steps) {
    sum += step.chosen_logprob;
  }
  EXPECT_NEAR(r.avg_logprob, sum / 3.0, 1e-6);
  EXPECT_EQ(r.steps[0].pos, 4);
  EXPECT_EQ(r.steps[2].chosen, sp.eot);
  EXPECT_EQ(r.steps[0].top_ids[0], 'h');
  EXPECT_FLOAT_EQ(r.steps[0].top_logits[0], 5.0f);
  // Feeding: through sot, the rest of the start sequence, then one token per step.
  ASSERT_EQ(source.feeds.size(), 4u);
  EXPECT_EQ(source.feeds[0], (std::vector<int>{sp.sot}));
  EXPECT_EQ(source.feeds[1],
            (std::vector<int>{sp.first_language, sp.transcribe, sp.no_timestamps}));
  EXPECT_EQ(source.feeds[2], (std::vector<int>{'h'}));
  EXPECT_EQ(source.feeds[3], (std::vector<int>{'i'}));
  // no_speech_prob is read from the unfiltered logits at sot: e^1 / (e^5 + e^1 + (n - 2)).
  const double expected = std::exp(1.0) / (std::exp(5.0) + std::exp(1.0) + (sp.n_vocab - 2));
  EXPECT_NEAR(r.no_speech_prob, expected, 1e-9);
  EXPECT_NEAR(r.compression_ratio, compression_ratio("hi"), 0);
}

TEST_F(DecodingTaskTest, SampleLenCapsWithoutAnEotTerm) {
  ScriptedLogitsSource source([&](const std::vector<int>&) {
    auto l = flat(0.0f);
    l['a'] = 3.0f;
    return l;
  });
  auto options = no_timestamps();
  options.sample_len = 7;
  options.record_steps = true;
  const DecodingResult r = DecodingTask(tokenizer, kTextCtx, options).run(source);
  EXPECT_EQ(r.tokens, std::vector<int>(7, 'a'));
  EXPECT_FALSE(r.ended_with_eot);
  double sum = 0;
  for (const auto& step : r.steps) {
    sum += step.chosen_logprob;
  }
  EXPECT_NEAR(r.avg_logprob, sum / 8.0, 1e-6) << "denominator len(tokens) + 1 even without eot";
}

TEST_F(DecodingTaskTest, DefaultSampleLenIsHalfTheTextContext) {
  ScriptedLogitsSource source([&](const std::vector<int>&) {
    auto l = flat(0.0f);
    l['a'] = 3.0f;
    return l;
  });
  const DecodingTask task(tokenizer, kTextCtx, no_timestamps());
  EXPECT_EQ(task.sample_len(), 224);
  EXPECT_EQ(task.run(source).tokens.size(), 224u);
}

TEST_F(DecodingTaskTest, PromptIsTruncatedAndTheTextContextStopsDecoding) {  // B6
  std::vector<int> prompt(300);
  std::iota(prompt.begin(), prompt.end(), 1000);
  ScriptedLogitsSource source([&](const std::vector<int>& seq) {
    EXPECT_LE(seq.size(), static_cast<std::size_t>(kTextCtx)) << "fed beyond the text context";
    auto l = flat(0.0f);
    l['a'] = 3.0f;
    return l;
  });
  DecodingOptions options;  // timestamps on: start sequence of 3
  options.prompt = prompt;
  const DecodingTask task(tokenizer, kTextCtx, options);
  const auto& initial = task.initial_tokens();
  ASSERT_EQ(initial.size(), 1u + 223u + 3u);
  EXPECT_EQ(initial.front(), sp.start_of_prev);
  EXPECT_EQ(initial[1], 1000 + 300 - 223) << "the last n_text_ctx/2 - 1 prompt tokens";
  EXPECT_EQ(initial[223], 1299);
  EXPECT_EQ(initial[224], sp.sot);
  const DecodingResult r = task.run(source);
  // Stops once the sequence is longer than 448: 449 - 227 sampled tokens.
  EXPECT_EQ(r.tokens.size(), 449u - 227u);
  EXPECT_FALSE(r.ended_with_eot);
  EXPECT_EQ(source.feeds[0].size(), 225u) << "prompt and sot in the first call";
  EXPECT_EQ(source.feeds[0].back(), sp.sot);
}

TEST_F(DecodingTaskTest, NoSpeechProbIsReadAtSotAfterThePrompt) {  // B8
  ScriptedLogitsSource source([&](const std::vector<int>& seq) {
    auto l = flat(0.0f);
    // Only the output at the sot position has a strong <|nospeech|>.
    if (seq.back() == sp.sot) {
      l[static_cast<std::size_t>(sp.no_speech)] = 20.0f;
    }
    l[static_cast<std::size_t>(sp.eot)] = 10.0f;
    l['a'] = 9.0f;
    return l;
  });
  auto options = no_timestamps();
  options.prompt = {'x', 'y'};
  const DecodingResult r = DecodingTask(tokenizer, kTextCtx, options).run(source);
  EXPECT_GT(r.no_speech_prob, 0.99);
  EXPECT_EQ(source.feeds[0], (std::vector<int>{sp.start_of_prev, 'x', 'y', sp.sot}));
  // First step: eot is blank-suppressed, 'a' wins; then eot.
  EXPECT_EQ(r.tokens, (std::vector<int>{'a'}));
}

TEST_F(DecodingTaskTest, EmptyPromptAddsNoStartOfPrev) {
  DecodingOptions options;
  options.prompt = {};
  EXPECT_EQ(DecodingTask(tokenizer, kTextCtx, options).initial_tokens().front(), sp.sot);
}

TEST_F(DecodingTaskTest, FiltersRunInReferenceOrder) {
  // A suppressed token with the highest logit does not keep rule B4 from forcing timestamps:
  // SuppressTokens runs before TimestampRules.
  ScriptedLogitsSource source([&](const std::vector<int>& seq) {
    auto l = flat(-30.0f);
    std::fill(l.begin() + sp.timestamp_begin, l.end(), 0.0f);
    l[static_cast<std::size_t>(sp.start_of_lm)] = 100.0f;  // always suppressed
    l['a'] = 7.0f;                                         // below log(1500) = 7.31
    if (seq.size() == 4) {                                 // after the first timestamp: text
      l['a'] = -30.0f;
      l['b'] = 5.0f;
    }
    return l;
  });
  DecodingOptions options;
  options.sample_len = 3;
  const DecodingResult r = DecodingTask(tokenizer, kTextCtx, options).run(source);
  ASSERT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens[0], sp.timestamp_begin) << "B2: the first token is a timestamp";
  EXPECT_EQ(r.tokens[1], 'b');
  EXPECT_TRUE(sp.is_timestamp(r.tokens[2])) << "B4 forced a timestamp over 'a'";
  EXPECT_GT(r.tokens[2], sp.timestamp_begin) << "strictly later after text";
}

TEST_F(DecodingTaskTest, TimestampsOffLeavesTimestampTokensAllowed) {  // B5
  ScriptedLogitsSource source([&](const std::vector<int>&) {
    auto l = flat(0.0f);
    const int late_timestamp = sp.timestamp_begin + 7;
    l[static_cast<std::size_t>(late_timestamp)] = 5.0f;
    return l;
  });
  auto options = no_timestamps();
  options.sample_len = 1;
  EXPECT_EQ(DecodingTask(tokenizer, kTextCtx, options).run(source).tokens,
            (std::vector<int>{sp.timestamp_begin + 7}));
}

TEST_F(DecodingTaskTest, CancellationIsCheckedBetweenSteps) {
  std::atomic<bool> cancel{false};
  int calls = 0;
  ScriptedLogitsSource source([&](const std::vector<int>&) {
    if (++calls == 5) {
      cancel = true;
    }
    auto l = flat(0.0f);
    l['a'] = 3.0f;
    return l;
  });
  auto options = no_timestamps();
  options.cancel = &cancel;
  try {
    (void)DecodingTask(tokenizer, kTextCtx, options).run(source);
    ADD_FAILURE() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_EQ(calls, 5) << "no forward pass after the flag was raised";
}

TEST_F(DecodingTaskTest, RejectsBadOptions) {
  DecodingOptions negative;
  negative.sample_len = -1;
  EXPECT_THROW(DecodingTask(tokenizer, kTextCtx, negative), Error);
  DecodingOptions language;
  language.language = "xx";
  EXPECT_THROW(DecodingTask(tokenizer, kTextCtx, language), Error);
  DecodingOptions token;
  token.prompt = {sp.n_vocab};
  EXPECT_THROW(DecodingTask(tokenizer, kTextCtx, token), Error);
}

TEST_F(DecodingTaskTest, SamplingIsSeededAndRespectsMasks) {
  const auto script = [&](const std::vector<int>&) {
    auto l = flat(-1e9f);
    l['a'] = 1.0f;
    l['b'] = 1.0f;
    l['c'] = 1.0f;
    l[static_cast<std::size_t>(sp.no_speech)] = 50.0f;  // suppressed: never drawn
    return l;
  };
  auto options = no_timestamps();
  options.temperature = 1.0f;
  options.sample_len = 60;
  options.seed = 42;
  ScriptedLogitsSource s1(script);
  ScriptedLogitsSource s2(script);
  const auto r1 = DecodingTask(tokenizer, kTextCtx, options).run(s1);
  const auto r2 = DecodingTask(tokenizer, kTextCtx, options).run(s2);
  EXPECT_EQ(r1.tokens, r2.tokens);
  EXPECT_EQ(r1.temperature, 1.0f);
  std::set<int> drawn(r1.tokens.begin(), r1.tokens.end());
  EXPECT_EQ(drawn, (std::set<int>{'a', 'b', 'c'}));
}

TEST(GreedyDecoder, FirstMaximumWins) {
  GreedyDecoder greedy;
  const std::vector<float> l{1.0f, 3.0f, 3.0f, -2.0f};
  EXPECT_EQ(greedy.choose(l), 1);
}

TEST(CompressionRatio, MatchesPythonZlib) {
  // len(b) / len(zlib.compress(b)) computed with Python's zlib.
  EXPECT_DOUBLE_EQ(compression_ratio(""), 0.0);
  EXPECT_DOUBLE_EQ(compression_ratio("a"), 1.0 / 9.0);
  EXPECT_DOUBLE_EQ(compression_ratio("hello hello hello hello hello hello hello hello"),
                   2.764705882352941);
  EXPECT_DOUBLE_EQ(compression_ratio("pedir pedir pedir pedir pedir pedir pedir غчес 기"), 1.8);
}

TEST(LanguageProbabilities, SoftmaxOverLanguageTokensOnly) {
  const auto sp = SpecialTokens::for_vocab_size(51865);
  std::vector<float> logits(51865, 0.0f);
  logits[static_cast<std::size_t>(sp.eot)] = 100.0f;  // ignored: not a language
  const int sv = sp.first_language + 14;
  logits[static_cast<std::size_t>(sv)] = std::log(2.0f);
  const auto probs = language_probabilities(logits, sp);
  ASSERT_EQ(probs.size(), 99u);
  EXPECT_EQ(probs[0].code, "sv");
  EXPECT_NEAR(probs[0].probability, 2.0 / 100.0, 1e-7);
  EXPECT_EQ(probs[1].code, "en") << "ties keep token order";
  EXPECT_NEAR(probs[1].probability, 1.0 / 100.0, 1e-7);
  double total = 0;
  for (const auto& p : probs) {
    total += p.probability;
  }
  EXPECT_NEAR(total, 1.0, 1e-6);
}

}  // namespace
}  // namespace earshot::whisper
