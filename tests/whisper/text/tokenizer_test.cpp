#include "whisper/text/tokenizer.h"

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "testing/paths.h"
#include "testing/reference_files.h"
#include "whisper/decoding/logit_filters.h"
#include "whisper/text/utf8_text.h"

namespace earshot::whisper {
namespace {

using earshot::testing::reference::read_ggml_vocab;
using earshot::testing::reference::read_json;

// The micro model's vocabulary: OpenAI's multilingual BPE ranks.
const Tokenizer& micro_tokenizer(const std::filesystem::path& dir) {
  static const Tokenizer tokenizer = [&] {
    auto vocab = read_ggml_vocab(dir / "micro.ggml.bin");
    return Tokenizer(std::move(vocab.tokens), vocab.n_vocab);
  }();
  return tokenizer;
}

// A vocabulary of the 256 single bytes (id = byte) plus a few merges, in rank order.
Tokenizer toy_tokenizer() {
  std::vector<std::string> vocab;
  vocab.reserve(261);
  for (int b = 0; b < 256; ++b) {
    vocab.emplace_back(1, static_cast<char>(b));
  }
  for (const char* merged : {"ab", "bc", "abc", " a", "xy"}) {
    vocab.emplace_back(merged);
  }
  return Tokenizer(std::move(vocab), 51865);
}

TEST(Tokenizer, MergesLowestRankPairFirst) {
  const Tokenizer t = toy_tokenizer();
  // "abc" is itself a token.
  EXPECT_EQ(t.encode("abc"), (std::vector<int>{258}));
  // "abcd": ab (256) is merged first, then ab+c = abc (258); "bc" (257) never forms.
  EXPECT_EQ(t.encode("abcd"), (std::vector<int>{258, 'd'}));
  // "bcab": bc (257) and ab (256): ab first (lower rank), then b+c -> bc.
  EXPECT_EQ(t.encode("bcab"), (std::vector<int>{257, 256}));
  // The pre-tokenizer splits "x ab" into "x" and " ab"; in " ab", ab (256) outranks " a".
  EXPECT_EQ(t.encode("x ab"), (std::vector<int>{'x', ' ', 256}));
  EXPECT_EQ(t.encode(" ax"), (std::vector<int>{259, 'x'}));
  EXPECT_EQ(t.decode(t.encode("x ab")), "x ab");
}

TEST(Tokenizer, RejectsInvalidUtf8AndIdsOutsideTheVocabulary) {
  const Tokenizer t = toy_tokenizer();
  try {
    (void)t.encode("\xE4\xB8");
    ADD_FAILURE() << "invalid UTF-8 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_THROW((void)t.decode(std::vector<int>{51865}), Error);
  EXPECT_THROW((void)t.decode(std::vector<int>{-1}), Error);
}

TEST(Tokenizer, StoredSpecialTokenEntriesAreIgnored) {
  std::vector<std::string> vocab(50257, "z");
  vocab[0] = "a";
  vocab.emplace_back("<|endoftext|>");  // id 50257 = eot in the multilingual layout
  vocab.emplace_back("bogus");          // id 50258 = sot
  const Tokenizer t(std::move(vocab), 51865);
  EXPECT_EQ(t.decode(std::vector<int>{0, 50257, 50258}), "a<|endoftext|><|startoftranscript|>");
  EXPECT_THROW(Tokenizer(std::vector<std::string>(10, "x"), 300), Error) << "not a Whisper layout";
}

TEST(Tokenizer, DecodeJoinsBytesBeforeUtf8) {
  const Tokenizer t = toy_tokenizer();
  // U+4E2D is E4 B8 AD, three single-byte tokens: only the whole sequence decodes.
  const std::vector<int> zhong{0xE4, 0xB8, 0xAD};
  EXPECT_EQ(t.decode(zhong), "\xE4\xB8\xAD");
  EXPECT_EQ(t.decode(std::span(zhong).first(2)), "\xEF\xBF\xBD");
  // A timestamp between the bytes is dropped by decode, so the character still joins.
  const std::vector<int> split{0xE4, 50400, 0xB8, 0xAD};
  EXPECT_EQ(t.decode(split), "\xE4\xB8\xAD");
  EXPECT_EQ(t.decode_with_timestamps(split), "\xEF\xBF\xBD<|0.72|>\xEF\xBF\xBD\xEF\xBF\xBD");
  // Other special tokens are rendered as text.
  EXPECT_EQ(t.decode(std::vector<int>{50259, 'h', 'i', 50257}), "<|en|>hi<|endoftext|>");
  // Ordinary ids the file did not store decode to nothing.
  EXPECT_EQ(t.decode(std::vector<int>{'a', 40000, 'b'}), "ab");
}

TEST(Tokenizer, EncodesLikeTiktokenOnTheMultilingualVocabulary) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const Tokenizer& t = micro_tokenizer(dir);
  // Expected ids from an independent byte-pair encoder over the same ranks.
  EXPECT_EQ(t.encode(" "), (std::vector<int>{220}));
  EXPECT_EQ(t.encode("Hello, world!"), (std::vector<int>{15947, 11, 1002, 0}));
  EXPECT_EQ(t.encode(" pedir pedir"), (std::vector<int>{33533, 33533}));
  EXPECT_EQ(t.encode("Once upon a time, in a small village"),
            (std::vector<int>{47062, 3564, 257, 565, 11, 294, 257, 1359, 7288}));
  EXPECT_EQ(t.encode("It's 2024: we'll test  multiple   spaces\n\nand newlines.\n"),
            (std::vector<int>{3522, 311, 45237, 25, 321, 603, 1500, 220, 3866, 220, 220, 7673, 198,
                              198, 474, 777, 11045, 13, 198}));
  EXPECT_EQ(t.encode("a\tb  \n c"), (std::vector<int>{64, 197, 65, 220, 220, 198, 269}));
}

TEST(Tokenizer, RoundTripsText) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const Tokenizer& t = micro_tokenizer(dir);
  for (const std::string s :
       {"", "Hello, world!", " héllo wörld", "中文字符和日本語のテキスト",
        "emoji 😀👍🏽 mixed", "  leading and trailing  ", "tabs\tand\nnewlines\r\n",
        "١٢٣ ٤٥٦ numbers 123456789", "Ünïcödé ßtraße — “quotes” … ♪♪ ♫", "'s't're've'm'll'd"}) {
    SCOPED_TRACE(s);
    EXPECT_EQ(t.decode(t.encode(s)), s);
  }
}

TEST(Tokenizer, DecodesTheReferenceTextsIncludingSplitCharacters) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const Tokenizer& t = micro_tokenizer(dir);
  int replacement_chars = 0;
  for (const char* name :
       {"decode_nots.json", "decode_ts.json", "decode_nots_full.json", "decode_ts_full.json",
        "long45_decode_nots.json", "long45_decode_ts.json", "long45_decode_nots_full.json",
        "long45_decode_ts_full.json"}) {
    SCOPED_TRACE(name);
    const auto ref = read_json(dir / "ref/micro" / name);
    const auto tokens = ref["tokens"].get<std::vector<int>>();
    const std::string text = t.decode(tokens);
    EXPECT_EQ(std::string(strip_whitespace(text)), ref["text"].get<std::string>());
    EXPECT_EQ(t.decode_with_timestamps(tokens), ref["text_with_timestamps"].get<std::string>());
    for (std::size_t p = text.find("\xEF\xBF\xBD"); p != std::string::npos;
         p = text.find("\xEF\xBF\xBD", p + 1)) {
      ++replacement_chars;
    }
  }
  // decode_nots_full and long45_decode_nots_full split characters (README section 4).
  EXPECT_GT(replacement_chars, 0);
}

TEST(Tokenizer, NonSpeechTokensMatchTheReference) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  const Tokenizer& t = micro_tokenizer(dir);
  const auto meta = read_json(dir / "ref/micro/meta.json");
  EXPECT_EQ(t.non_speech_tokens(), meta["non_speech_tokens"].get<std::vector<int>>());
  EXPECT_EQ(expand_suppress_tokens(std::vector<int>{-1}, t),
            meta["suppress_tokens_default"].get<std::vector<int>>());
}

}  // namespace
}  // namespace earshot::whisper
