#include "whisper/text/special_tokens.h"

#include <set>

#include <gtest/gtest.h>

#include "earshot/error.h"

namespace earshot::whisper {
namespace {

struct Layout {
  int n_vocab;
  int eot, sot, translate, transcribe, start_of_lm, start_of_prev, no_speech, no_timestamps,
      timestamp_begin, n_languages;
};

// The layouts of OpenAI's tokenizer.py and the conformance README section 2.
const Layout kLayouts[] = {
    {51864, 50256, 50257, 50357, 50358, 50359, 50360, 50361, 50362, 50363, 99},
    {51865, 50257, 50258, 50358, 50359, 50360, 50361, 50362, 50363, 50364, 99},
    {51866, 50257, 50258, 50359, 50360, 50361, 50362, 50363, 50364, 50365, 100},
};

TEST(SpecialTokens, IdsFollowFromVocabularySizeForAllThreeLayouts) {
  for (const Layout& l : kLayouts) {
    SCOPED_TRACE(l.n_vocab);
    const auto t = SpecialTokens::for_vocab_size(l.n_vocab);
    EXPECT_EQ(t.multilingual, l.n_vocab != 51864);
    EXPECT_EQ(t.eot, l.eot);
    EXPECT_EQ(t.sot, l.sot);
    EXPECT_EQ(t.first_language, l.sot + 1);
    EXPECT_EQ(t.n_languages, l.n_languages);
    EXPECT_EQ(t.translate, l.translate);
    EXPECT_EQ(t.transcribe, l.transcribe);
    EXPECT_EQ(t.start_of_lm, l.start_of_lm);
    EXPECT_EQ(t.start_of_prev, l.start_of_prev);
    EXPECT_EQ(t.no_speech, l.no_speech);
    EXPECT_EQ(t.no_timestamps, l.no_timestamps);
    EXPECT_EQ(t.timestamp_begin, l.timestamp_begin);
    EXPECT_EQ(t.timestamp_last(), l.n_vocab - 1);
    EXPECT_EQ(t.text(t.timestamp_last()), "<|30.00|>");
    EXPECT_TRUE(t.is_timestamp(l.timestamp_begin));
    EXPECT_FALSE(t.is_timestamp(l.no_timestamps));
    EXPECT_TRUE(t.is_special(l.eot));
    EXPECT_FALSE(t.is_special(l.eot - 1));
  }
}

TEST(SpecialTokens, RejectsOtherVocabularySizes) {
  for (const int n : {0, 50257, 51863, 51867}) {
    try {
      (void)SpecialTokens::for_vocab_size(n);
      ADD_FAILURE() << n << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelFormat);
    }
  }
}

TEST(SpecialTokens, LanguageTableIsWhispersOrder) {
  const auto langs = whisper_languages();
  ASSERT_EQ(langs.size(), 100u);
  EXPECT_EQ(langs[0].code, "en");
  EXPECT_EQ(langs[0].name, "english");
  EXPECT_EQ(langs[14].code, "sv");  // lang_probs.json: sv is token 50273 = 50259 + 14
  EXPECT_EQ(langs[98].code, "su");
  EXPECT_EQ(langs[99].code, "yue");
  std::set<std::string_view> codes;
  for (const auto& l : langs) {
    codes.insert(l.code);
  }
  EXPECT_EQ(codes.size(), 100u) << "language codes are unique";

  const auto multi = SpecialTokens::for_vocab_size(51865);
  EXPECT_EQ(multi.language_token("sv"), 50273);
  EXPECT_EQ(multi.language_token("su"), 50357);
  EXPECT_EQ(multi.language_token("yue"), std::nullopt) << "only v3 knows Cantonese";
  EXPECT_EQ(multi.language_code(50259), "en");
  EXPECT_EQ(multi.language_code(50358), std::nullopt) << "translate is not a language";
  const auto v3 = SpecialTokens::for_vocab_size(51866);
  EXPECT_EQ(v3.language_token("yue"), 50358);
  EXPECT_EQ(v3.text(50358), "<|yue|>");
}

TEST(SpecialTokens, LanguagesByCodeNameOrAlias) {
  EXPECT_EQ(find_language_code("de"), "de");
  EXPECT_EQ(find_language_code("German"), "de");
  EXPECT_EQ(find_language_code("HAITIAN CREOLE"), "ht");
  EXPECT_EQ(find_language_code("castilian"), "es");
  EXPECT_EQ(find_language_code("Mandarin"), "zh");
  EXPECT_EQ(find_language_code("cantonese"), "yue");
  EXPECT_EQ(find_language_code("klingon"), std::nullopt);
  EXPECT_EQ(find_language_code(""), std::nullopt);
}

TEST(SpecialTokens, TextOfSpecialTokens) {
  const auto t = SpecialTokens::for_vocab_size(51865);
  EXPECT_EQ(t.text(50257), "<|endoftext|>");
  EXPECT_EQ(t.text(50258), "<|startoftranscript|>");
  EXPECT_EQ(t.text(50259), "<|en|>");
  EXPECT_EQ(t.text(50358), "<|translate|>");
  EXPECT_EQ(t.text(50359), "<|transcribe|>");
  EXPECT_EQ(t.text(50360), "<|startoflm|>");
  EXPECT_EQ(t.text(50361), "<|startofprev|>");
  EXPECT_EQ(t.text(50362), "<|nospeech|>");
  EXPECT_EQ(t.text(50363), "<|notimestamps|>");
  EXPECT_EQ(t.text(50364), "<|0.00|>");
  EXPECT_EQ(t.text(50368), "<|0.08|>");
  EXPECT_EQ(t.text(51603), "<|24.78|>");  // decode_ts.json's text_with_timestamps
  EXPECT_EQ(t.text(51804), "<|28.80|>");
  const auto en = SpecialTokens::for_vocab_size(51864);
  EXPECT_EQ(en.text(50256), "<|endoftext|>");
  EXPECT_EQ(en.text(50363), "<|0.00|>");
}

TEST(SpecialTokens, StartSequences) {
  const auto multi = SpecialTokens::for_vocab_size(51865);
  // meta.json sot_sequence and sot_sequence_including_notimestamps.
  EXPECT_EQ(multi.start_sequence("en", Task::kTranscribe, true),
            (std::vector<int>{50258, 50259, 50359}));
  EXPECT_EQ(multi.start_sequence("en", Task::kTranscribe, false),
            (std::vector<int>{50258, 50259, 50359, 50363}));
  EXPECT_EQ(multi.start_sequence("de", Task::kTranslate, true),
            (std::vector<int>{50258, 50261, 50358}));
  EXPECT_THROW((void)multi.start_sequence("xx", Task::kTranscribe, true), Error);

  const auto en = SpecialTokens::for_vocab_size(51864);
  EXPECT_EQ(en.start_sequence("en", Task::kTranscribe, true), (std::vector<int>{50257}));
  EXPECT_EQ(en.start_sequence("en", Task::kTranscribe, false), (std::vector<int>{50257, 50362}));

  const auto v3 = SpecialTokens::for_vocab_size(51866);
  EXPECT_EQ(v3.start_sequence("yue", Task::kTranscribe, false),
            (std::vector<int>{50258, 50358, 50360, 50364}));
}

}  // namespace
}  // namespace earshot::whisper
