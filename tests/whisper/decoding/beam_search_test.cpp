// Beam search and best_of sampling (decoding.py's BeamSearchDecoder, MaximumLikelihoodRanker,
// GreedyDecoder with n_group > 1) over scripted logits, against an exhaustive search.

#include "whisper/decoding/beam_search.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "testing/byte_tokenizer.h"
#include "testing/replay_logits_source.h"
#include "whisper/decoding/decoding.h"

namespace earshot::whisper {
namespace {

using earshot::testing::ScriptedLogitsSource;

constexpr int kTextCtx = 448;
constexpr float kMasked = -std::numeric_limits<float>::infinity();

// A tiny random "model": only `alphabet` and eot are possible; their logits are a hash of the
// whole sequence, so every prefix has its own distribution.
class RandomScript {
 public:
  RandomScript(std::vector<int> alphabet, int eot, int n_vocab, std::uint64_t seed)
      : alphabet_(std::move(alphabet)), eot_(eot), n_vocab_(n_vocab), seed_(seed) {}

  std::vector<float> operator()(const std::vector<int>& sequence) const {
    std::vector<float> logits(static_cast<std::size_t>(n_vocab_), kMasked);
    std::uint64_t h = seed_;
    for (const int t : sequence) {
      h = (h ^ static_cast<std::uint64_t>(t)) * 0x100000001B3ull;
    }
    const auto value = [&](int token) {
      std::uint64_t x = (h ^ static_cast<std::uint64_t>(token) * 0x9E3779B97F4A7C15ull);
      x ^= x >> 29;
      x *= 0xBF58476D1CE4E5B9ull;
      x ^= x >> 32;
      return static_cast<float>(static_cast<double>(x % 10000) / 2500.0 - 2.0);  // [-2, 2)
    };
    for (const int t : alphabet_) {
      logits[static_cast<std::size_t>(t)] = value(t);
    }
    logits[static_cast<std::size_t>(eot_)] = value(eot_) - 0.5f;
    return logits;
  }

 private:
  std::vector<int> alphabet_;
  int eot_;
  int n_vocab_;
  std::uint64_t seed_;
};

// log_softmax over the finite entries, float32 as the decoder keeps it.
float logprob_of(const std::vector<float>& logits, int token) {
  double max = kMasked;
  for (const float x : logits) {
    max = std::max(max, static_cast<double>(x));
  }
  double sum = 0.0;
  for (const float x : logits) {
    sum += std::exp(static_cast<double>(x) - max);
  }
  return static_cast<float>(static_cast<double>(logits[static_cast<std::size_t>(token)]) - max -
                            std::log(sum));
}

class BeamSearchTest : public ::testing::TestWithParam<std::uint64_t> {
 protected:
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const SpecialTokens& sp = tokenizer.special();

  DecodingOptions options() const {
    DecodingOptions o;
    o.timestamps = false;
    o.suppress_tokens = {};
    return o;
  }
};

// With as many beams as live sequences nothing is pruned, and with a patience that never
// completes early every ending is collected (the last step finishes all 27 beams): the result must
// be the best of all sequences under the ranking, found here by enumeration.
TEST_P(BeamSearchTest, ExhaustiveBeamsFindTheBestSequenceOfAll) {
  const std::vector<int> alphabet{'a', 'b', 'c'};
  const RandomScript random(alphabet, sp.eot, sp.n_vocab, GetParam());
  const std::size_t n_start = DecodingTask(tokenizer, kTextCtx, options()).initial_tokens().size();
  // At most three text tokens: after them only eot is possible.
  const auto script = [&](const std::vector<int>& seq) {
    if (seq.size() < n_start + 3) {
      return random(seq);
    }
    std::vector<float> logits(static_cast<std::size_t>(sp.n_vocab), kMasked);
    logits[static_cast<std::size_t>(sp.eot)] = 0.0f;
    return logits;
  };
  for (const std::optional<float> penalty : {std::optional<float>{}, std::optional<float>{0.6f}}) {
    DecodingOptions o = options();
    o.beam_size = 27;  // 3^3 live sequences at the last step
    o.patience = 10.0f;
    o.sample_len = 4;
    o.length_penalty = penalty;
    const DecodingTask task(tokenizer, kTextCtx, o);
    ScriptedLogitsSource source(script);
    const DecodingResult r = task.run(source);

    // Enumerate every text of 1..3 tokens followed by eot (eot cannot come first: blank
    // suppression), scoring as the reference does.
    const std::vector<int> start = task.initial_tokens();
    double best_score = -std::numeric_limits<double>::infinity();
    std::vector<int> best;
    float best_sum = 0;
    std::vector<int> text;
    const auto visit = [&](auto&& self, float sum) -> void {
      std::vector<int> seq = start;
      seq.insert(seq.end(), text.begin(), text.end());
      std::vector<float> logits = script(seq);
      if (text.empty()) {
        logits[static_cast<std::size_t>(sp.eot)] = kMasked;
      } else {
        const float with_eot = sum + logprob_of(logits, sp.eot);
        const auto length = static_cast<double>(text.size());
        const double score =
            with_eot / (penalty ? std::pow((5.0 + length) / 6.0, *penalty) : length);
        if (score > best_score) {
          best_score = score;
          best = text;
          best_sum = with_eot;
        }
      }
      if (text.size() == 3) {
        return;
      }
      for (const int t : alphabet) {
        text.push_back(t);
        self(self, sum + logprob_of(logits, t));
        text.pop_back();
      }
    };
    visit(visit, 0.0f);
    EXPECT_EQ(r.tokens, best) << "length penalty " << penalty.value_or(-1);
    EXPECT_TRUE(r.ended_with_eot);
    EXPECT_FLOAT_EQ(static_cast<float>(r.avg_logprob),
                    static_cast<float>(best_sum / static_cast<double>(best.size() + 1)));
  }
}

TEST_P(BeamSearchTest, OneBeamIsGreedy) {
  std::vector<int> alphabet;
  for (int c = 'a'; c <= 'z'; ++c) {
    alphabet.push_back(c);
  }
  const RandomScript script(alphabet, sp.eot, sp.n_vocab, GetParam());
  DecodingOptions greedy = options();
  greedy.sample_len = 40;
  DecodingOptions beam = greedy;
  beam.beam_size = 1;
  ScriptedLogitsSource a(script);
  ScriptedLogitsSource b(script);
  const DecodingResult g = DecodingTask(tokenizer, kTextCtx, greedy).run(a);
  const DecodingResult s = DecodingTask(tokenizer, kTextCtx, beam).run(b);
  EXPECT_EQ(s.tokens, g.tokens);
  EXPECT_EQ(s.avg_logprob, g.avg_logprob);
  EXPECT_EQ(s.ended_with_eot, g.ended_with_eot);
  EXPECT_EQ(s.text, g.text);
}

INSTANTIATE_TEST_SUITE_P(Seeds, BeamSearchTest, ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));

TEST(BeamSearchDecoder, FirstStepProposesFromIdenticalRowsOnce) {
  // Two identical rows over a 4-token vocabulary: the candidates are the row's top 3, each
  // once; eot (id 3) among the best two finishes a hypothesis instead of taking a beam.
  BeamSearchDecoder decoder(2, /*eot=*/3, 1.0f);
  std::vector<std::vector<int>> sequences{{9}, {9}};
  const std::vector<float> row{std::log(0.5f), std::log(0.1f), std::log(0.15f), std::log(0.25f)};
  std::vector<float> logprobs = row;
  logprobs.insert(logprobs.end(), row.begin(), row.end());
  std::vector<float> sums{0.0f, 0.0f};
  const auto step = decoder.update(sequences, logprobs, sums);
  EXPECT_EQ(sequences, (std::vector<std::vector<int>>{{9, 0}, {9, 2}}));
  EXPECT_EQ(step.sources, (std::vector<int>{1, 1}));  // the last row proposing it, as a dict
  EXPECT_FALSE(step.completed);
  EXPECT_EQ(decoder.finished_count(), 1u);
  EXPECT_FLOAT_EQ(sums[0], std::log(0.5f));
  // Second step: row 0 prefers eot, which completes the search (max_candidates 2).
  const std::vector<float> r0{std::log(0.1f), std::log(0.1f), std::log(0.1f), std::log(0.7f)};
  const std::vector<float> r1{std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  logprobs = r0;
  logprobs.insert(logprobs.end(), r1.begin(), r1.end());
  EXPECT_TRUE(decoder.update(sequences, logprobs, sums).completed);
  const auto candidates = decoder.finalize(sequences, sums);
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_EQ(candidates[0].tokens, (std::vector<int>{9, 3}));
  EXPECT_EQ(candidates[1].tokens, (std::vector<int>{9, 0, 3}));
}

TEST(BeamSearchDecoder, PatienceSetsTheCandidateCount) {
  EXPECT_EQ(BeamSearchDecoder(5, 0, 1.0f).max_candidates(), 5);
  EXPECT_EQ(BeamSearchDecoder(5, 0, 2.0f).max_candidates(), 10);
  EXPECT_EQ(BeamSearchDecoder(5, 0, 0.5f).max_candidates(), 2);  // round(2.5) = 2, to even
  EXPECT_THROW(BeamSearchDecoder(0, 0, 1.0f), Error);
  EXPECT_THROW(BeamSearchDecoder(1, 0, 0.1f), Error);
}

TEST(RankCandidates, LengthNormalisedOrGoogleNmtPenalty) {
  const std::vector<std::vector<int>> tokens{{1, 2}, {1, 2, 3, 4}};
  const std::vector<float> sums{-2.0f, -3.0f};
  EXPECT_EQ(rank_candidates(tokens, sums, std::nullopt), 1u);  // -1.0 vs -0.75
  // alpha 0: penalty 1, raw sums compare.
  EXPECT_EQ(rank_candidates(tokens, sums, 0.0f), 0u);
  // Ties keep the first.
  EXPECT_EQ(rank_candidates(tokens, std::vector<float>{-2.0f, -4.0f}, std::nullopt), 0u);
}

TEST(BestOf, SamplesAreSeededAndTheBestIsKept) {
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const SpecialTokens& sp = tokenizer.special();
  std::vector<int> alphabet;
  for (int c = 'a'; c <= 'h'; ++c) {
    alphabet.push_back(c);
  }
  const RandomScript script(alphabet, sp.eot, sp.n_vocab, 99);
  DecodingOptions o;
  o.timestamps = false;
  o.suppress_tokens = {};
  o.temperature = 1.0f;
  o.sample_len = 12;
  o.seed = 5;
  o.best_of = 5;
  ScriptedLogitsSource a(script);
  ScriptedLogitsSource b(script);
  const DecodingResult r1 = DecodingTask(tokenizer, kTextCtx, o).run(a);
  const DecodingResult r2 = DecodingTask(tokenizer, kTextCtx, o).run(b);
  EXPECT_EQ(r1.tokens, r2.tokens);
  EXPECT_EQ(r1.avg_logprob, r2.avg_logprob);
  // Each candidate is the single sample of its own seed; the kept one ranks best among them.
  double best = -std::numeric_limits<double>::infinity();
  for (std::uint64_t i = 0; i < 5; ++i) {
    DecodingOptions single = o;
    single.best_of = 1;
    single.seed = o.seed + 0x9E3779B97F4A7C15ull * i;
    ScriptedLogitsSource s(script);
    const DecodingResult c = DecodingTask(tokenizer, kTextCtx, single).run(s);
    const double sum = c.avg_logprob * static_cast<double>(c.tokens.size() + 1);
    best = std::max(best, sum / static_cast<double>(c.tokens.size()));
  }
  const double kept = r1.avg_logprob * static_cast<double>(r1.tokens.size() + 1) /
                      static_cast<double>(r1.tokens.size());
  EXPECT_NEAR(kept, best, 1e-5);
}

}  // namespace
}  // namespace earshot::whisper
