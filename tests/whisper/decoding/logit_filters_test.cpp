#include "whisper/decoding/logit_filters.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "testing/byte_tokenizer.h"
#include "whisper/text/tokenizer.h"

namespace earshot::whisper {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

class LogitFilterTest : public ::testing::Test {
 protected:
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const SpecialTokens& sp = tokenizer.special();
  const std::vector<int> start{sp.sot, sp.first_language, sp.transcribe};
  const int sample_begin = static_cast<int>(start.size());

  std::vector<float> flat(float value = 0.0f) const {
    return std::vector<float>(static_cast<std::size_t>(sp.n_vocab), value);
  }
  std::vector<int> seq(std::initializer_list<int> sampled) const {
    std::vector<int> s = start;
    s.insert(s.end(), sampled);
    return s;
  }
  int ts(int index) const { return sp.timestamp_begin + index; }
  static bool masked(const std::vector<float>& l, int id) {
    return l[static_cast<std::size_t>(id)] == -kInf;
  }
  // Ids in [begin, end) that are not masked.
  static int allowed_in(const std::vector<float>& l, int begin, int end) {
    int n = 0;
    for (int i = begin; i < end; ++i) {
      n += masked(l, i) ? 0 : 1;
    }
    return n;
  }
};

TEST_F(LogitFilterTest, SuppressBlankOnlyAtTheFirstSampledPosition) {
  const SuppressBlank filter(tokenizer, sample_begin);
  auto logits = flat(1.0f);
  filter.apply(logits, seq({}));
  EXPECT_TRUE(masked(logits, ' '));
  EXPECT_TRUE(masked(logits, sp.eot));
  EXPECT_EQ(allowed_in(logits, 0, sp.n_vocab), sp.n_vocab - 2);

  auto later = flat(1.0f);
  filter.apply(later, seq({'a'}));
  EXPECT_EQ(allowed_in(later, 0, sp.n_vocab), sp.n_vocab);
}

TEST_F(LogitFilterTest, SuppressTokensMasksExactlyItsIds) {
  const SuppressTokens filter({5, 7, sp.no_speech});
  auto logits = flat(1.0f);
  filter.apply(logits, seq({}));
  EXPECT_TRUE(masked(logits, 5));
  EXPECT_TRUE(masked(logits, 7));
  EXPECT_TRUE(masked(logits, sp.no_speech));
  EXPECT_EQ(allowed_in(logits, 0, sp.n_vocab), sp.n_vocab - 3);
}

TEST_F(LogitFilterTest, ExpandSuppressTokensAddsTaskAndControlTokensButNoLanguages) {
  const auto ids = expand_suppress_tokens(std::vector<int>{9, 5, 9}, tokenizer);
  EXPECT_EQ(ids, (std::vector<int>{5, 9, sp.sot, sp.translate, sp.transcribe, sp.start_of_lm,
                                   sp.start_of_prev, sp.no_speech}));
  EXPECT_THROW((void)expand_suppress_tokens(std::vector<int>{-2}, tokenizer), Error);
  EXPECT_THROW((void)expand_suppress_tokens(std::vector<int>{sp.n_vocab}, tokenizer), Error);
}

TEST_F(LogitFilterTest, FirstTokenIsATimestampNoLaterThanMaxInitial) {  // B2
  const TimestampRules rules(sp, sample_begin, 50);
  auto logits = flat(0.0f);
  logits[100] = 50.0f;  // an overwhelming text token still cannot come first
  logits[static_cast<std::size_t>(sp.eot)] = 50.0f;
  rules.apply(logits, seq({}));
  EXPECT_EQ(allowed_in(logits, 0, sp.timestamp_begin), 0);
  EXPECT_EQ(allowed_in(logits, ts(0), ts(51)), 51);
  EXPECT_EQ(allowed_in(logits, ts(51), sp.n_vocab), 0);

  const TimestampRules unlimited(sp, sample_begin, std::nullopt);
  auto open = flat(0.0f);
  unlimited.apply(open, seq({}));
  EXPECT_EQ(allowed_in(open, ts(0), sp.n_vocab), 1501);
}

TEST_F(LogitFilterTest, NoTimestampsTokenIsAlwaysMasked) {
  const TimestampRules rules(sp, sample_begin, 50);
  auto logits = flat(0.0f);
  logits[static_cast<std::size_t>(sp.no_timestamps)] = 30.0f;
  rules.apply(logits, seq({ts(3), 'a'}));
  EXPECT_TRUE(masked(logits, sp.no_timestamps));
}

TEST_F(LogitFilterTest, TextFollowsACompletedPair) {  // B3, last && penultimate
  const TimestampRules rules(sp, sample_begin, 50);
  // Right after the first timestamp (fewer than two sampled counts as "penultimate").
  auto after_first = flat(0.0f);
  after_first[100] = 20.0f;  // keeps rule B4 from forcing anything
  rules.apply(after_first, seq({ts(4)}));
  EXPECT_EQ(allowed_in(after_first, sp.timestamp_begin, sp.n_vocab), 0);
  EXPECT_FALSE(masked(after_first, 100));
  EXPECT_FALSE(masked(after_first, sp.eot));

  auto after_pair = flat(0.0f);
  after_pair[100] = 20.0f;
  rules.apply(after_pair, seq({ts(4), 'a', ts(9), ts(9)}));
  EXPECT_EQ(allowed_in(after_pair, sp.timestamp_begin, sp.n_vocab), 0);
}

TEST_F(LogitFilterTest, OpenSegmentClosesWithATimestampOrEnds) {  // B3, last && !penultimate
  const TimestampRules rules(sp, sample_begin, 50);
  auto logits = flat(0.0f);
  logits[static_cast<std::size_t>(sp.eot)] = 20.0f;  // keeps rule B4 from firing
  rules.apply(logits, seq({ts(4), 'a', ts(9)}));
  EXPECT_EQ(allowed_in(logits, 0, sp.eot), 0) << "no text after a closing timestamp";
  EXPECT_FALSE(masked(logits, sp.eot));
  EXPECT_FALSE(masked(logits, sp.first_language)) << "specials not suppressed stay allowed";
  // The next segment may open at the same time: <|0.18|><|0.18|> is allowed.
  EXPECT_EQ(allowed_in(logits, ts(0), ts(9)), 0);
  EXPECT_FALSE(masked(logits, ts(9)));
  EXPECT_EQ(allowed_in(logits, ts(9), sp.n_vocab), 1501 - 9);
}

TEST_F(LogitFilterTest, TimestampAfterTextIsStrictlyLater) {  // B3 monotonicity
  const TimestampRules rules(sp, sample_begin, 50);
  auto logits = flat(0.0f);
  logits[100] = 20.0f;
  rules.apply(logits, seq({ts(4), 'a', ts(9), ts(9), 'b'}));
  EXPECT_EQ(allowed_in(logits, ts(0), ts(10)), 0) << "<|0.18|> would close a zero-length segment";
  EXPECT_EQ(allowed_in(logits, ts(10), sp.n_vocab), 1501 - 10);
  EXPECT_FALSE(masked(logits, 'c'));
}

TEST_F(LogitFilterTest, PromptTokensDoNotCountAsSampled) {
  // A prompt with timestamps precedes the start sequence; only sampled tokens matter.
  const std::vector<int> tokens{sp.start_of_prev,  ts(700),       'x',   ts(800), sp.sot,
                                sp.first_language, sp.transcribe, ts(2), 'a'};
  const TimestampRules rules(sp, 7, 50);
  auto logits = flat(0.0f);
  logits[100] = 20.0f;
  rules.apply(logits, tokens);
  EXPECT_EQ(allowed_in(logits, ts(0), ts(3)), 0);
  EXPECT_FALSE(masked(logits, ts(3)));
}

TEST_F(LogitFilterTest, TimestampsForcedWhenTheirTotalProbabilityWins) {  // B4
  const TimestampRules rules(sp, sample_begin, 50);
  // 1501 timestamps at logit 0: logsumexp = log(1501) = 7.31 > 7.0.
  auto logits = flat(-30.0f);
  std::fill(logits.begin() + sp.timestamp_begin, logits.end(), 0.0f);
  logits[100] = 7.0f;
  rules.apply(logits, seq({ts(0), 'a'}));
  EXPECT_EQ(allowed_in(logits, 0, sp.timestamp_begin), 0);

  // 7.5 beats log(1500 allowed timestamps) = 7.31: text stays possible.
  auto text_wins = flat(-30.0f);
  std::fill(text_wins.begin() + sp.timestamp_begin, text_wins.end(), 0.0f);
  text_wins[100] = 7.5f;
  rules.apply(text_wins, seq({ts(0), 'a'}));
  EXPECT_FALSE(masked(text_wins, 100));

  // The comparison is against every id below timestamp_begin, eot included.
  auto eot_wins = flat(-30.0f);
  std::fill(eot_wins.begin() + sp.timestamp_begin, eot_wins.end(), 0.0f);
  eot_wins[static_cast<std::size_t>(sp.eot)] = 7.5f;
  rules.apply(eot_wins, seq({ts(0), 'a'}));
  EXPECT_FALSE(masked(eot_wins, sp.eot));
  EXPECT_FALSE(masked(eot_wins, 100)) << "text stays allowed when eot beats the timestamps";

  // Only timestamps left unmasked by the earlier rules count: after <|0.00|> 'a' the
  // timestamp <|0.00|> is masked, leaving 1500 of them.
  auto boundary = flat(-30.0f);
  std::fill(boundary.begin() + sp.timestamp_begin, boundary.end(), 0.0f);
  boundary[100] = static_cast<float>(std::log(1500.5));
  rules.apply(boundary, seq({ts(0), 'a'}));
  EXPECT_FALSE(masked(boundary, 100));
}

}  // namespace
}  // namespace earshot::whisper
