// Word-level timestamps (timing.py): DTW and the median filter against hand-computed
// examples, word splitting, punctuation merging, and find_alignment over given attention.

#include "whisper/transcribe/word_timing.h"

#include <cmath>

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "model_writer/model_writer.h"
#include "testing/byte_tokenizer.h"
#include "whisper/model/model.h"

namespace earshot::whisper {
namespace {

TEST(Dtw, FollowsTheCheapestMonotonicPath) {
  // Worked by hand: cost[1][1] = 0 (diagonal from the origin), cost[2][2] = 0 (diagonal),
  // cost[2][3] = 0 (right); every other route crosses a 5.
  const std::vector<double> x{0, 5, 5,  //
                              5, 0, 0};
  const DtwPath path = dtw(x, 2, 3);
  EXPECT_EQ(path.text_indices, (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(path.time_indices, (std::vector<int>{0, 1, 2}));
}

TEST(Dtw, TiesStepAlongTimeFirst) {
  // All costs equal: at (2, 2) diagonal, down and right tie and the reference takes right
  // (trace 2), then down at (2, 1), then the diagonal into the origin.
  const std::vector<double> x(4, 0.0);
  const DtwPath path = dtw(x, 2, 2);
  EXPECT_EQ(path.text_indices, (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(path.time_indices, (std::vector<int>{0, 0, 1}));
}

TEST(MedianFilter, ReflectPaddedMedianAlongRows) {
  // Width 3 over 1 5 2 8 3, padded by reflection to 5 1 5 2 8 3 8.
  std::vector<float> x{1, 5, 2, 8, 3, 4, 4, 4, 4, 4};
  median_filter(x, 2, 5, 3);
  EXPECT_EQ(x, (std::vector<float>{5, 2, 5, 3, 8, 4, 4, 4, 4, 4}));
  std::vector<float> short_row{3, 1, 2};
  median_filter(short_row, 1, 3, 7);  // 3 values <= 7 / 2: unchanged, as the reference
  EXPECT_EQ(short_row, (std::vector<float>{3, 1, 2}));
}

TEST(SplitToWordTokens, AtSpacesAndPunctuation) {
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const int eot = tokenizer.special().eot;
  const std::vector<int> tokens{' ', 'h', 'i', ',', ' ', 'y', 'o', eot};
  const WordTokens w = split_to_word_tokens(tokenizer, tokens, "en");
  EXPECT_EQ(w.words, (std::vector<std::string>{" hi", ",", " yo", "<|endoftext|>"}));
  EXPECT_EQ(w.tokens[0], (std::vector<int>{' ', 'h', 'i'}));
  // Without spaces (ja): each complete character, a split UTF-8 sequence waiting for its end.
  const std::vector<int> e_acute{' ', 0xC3, 0xA9};
  const WordTokens c = split_to_word_tokens(tokenizer, e_acute, "ja");
  EXPECT_EQ(c.words, (std::vector<std::string>{" ", "\xC3\xA9"}));
  EXPECT_EQ(c.tokens[1], (std::vector<int>{0xC3, 0xA9}));
}

TEST(MergePunctuations, PrependedJoinTheNextWordAppendedThePrevious) {
  std::vector<WordTiming> words;
  for (const char* w : {" (", "hi", ")", " there", "."}) {
    words.push_back({w, {static_cast<int>(words.size())}, 0, 0, 1});
  }
  merge_punctuations(words, "\"'\u201c\u00bf([{-",
                     "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001");
  std::vector<std::string> text;
  for (const auto& w : words) {
    text.push_back(w.word);
  }
  EXPECT_EQ(text, (std::vector<std::string>{"", " (hi)", "", " there.", ""}));
  EXPECT_EQ(words[1].tokens, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(words[3].tokens, (std::vector<int>{3, 4}));
}

TEST(FindAlignment, DiagonalAttentionGivesWordTimes) {
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const SpecialTokens& sp = tokenizer.special();
  const std::vector<int> text{' ', 'h', 'i', ' ', 'y', 'o'};
  std::vector<int> tokens = sp.start_sequence("en", Task::kTranscribe, true);
  const int n_sot = static_cast<int>(tokens.size());
  tokens.push_back(sp.no_timestamps);
  tokens.insert(tokens.end(), text.begin(), text.end());
  tokens.push_back(sp.eot);
  WindowLogitsSource::AlignmentPass pass;
  pass.n_heads = 2;
  pass.n_tokens = static_cast<int>(tokens.size());
  pass.n_frames = 1500;
  pass.scores.assign(static_cast<std::size_t>(2 * pass.n_tokens * 1500), 0.0f);
  // Row n_sot + k attends to frames [10k, 10k + 10): 0.2 s per token.
  for (int h = 0; h < 2; ++h) {
    for (int k = 0; k <= 6; ++k) {
      for (int f = 10 * k; f < 10 * k + 10; ++f) {
        pass.scores[static_cast<std::size_t>((h * pass.n_tokens + n_sot + k) * 1500 + f)] = 10.0f;
      }
    }
  }
  pass.logits.assign(static_cast<std::size_t>(pass.n_tokens * sp.n_vocab), 0.0f);
  for (std::size_t i = 0; i < text.size(); ++i) {
    pass.logits[(static_cast<std::size_t>(n_sot) + i) * static_cast<std::size_t>(sp.n_vocab) +
                static_cast<std::size_t>(text[i])] = 20.0f;
  }
  const auto words = find_alignment(pass, tokenizer, text, n_sot, 200, "en");
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0].word, " hi");
  EXPECT_DOUBLE_EQ(words[0].start, 0.0);
  EXPECT_DOUBLE_EQ(words[0].end, 0.6);
  EXPECT_EQ(words[1].word, " yo");
  EXPECT_DOUBLE_EQ(words[1].start, 0.6);
  EXPECT_DOUBLE_EQ(words[1].end, 1.2);
  EXPECT_GT(words[0].probability, 0.99);
}

}  // namespace
}  // namespace earshot::whisper
