#include "whisper/text/utf8_text.h"

#include <gtest/gtest.h>

namespace earshot::whisper {
namespace {

constexpr const char* kFffd = "\xEF\xBF\xBD";

// `prefix` followed by n replacement characters and `suffix`.
std::string with_fffd(std::string_view prefix, int n, std::string_view suffix = "") {
  std::string s(prefix);
  for (int i = 0; i < n; ++i) {
    s.append(kFffd);
  }
  s.append(suffix);
  return s;
}

// Expected values are Python 3's bytes.decode("utf-8", errors="replace").
TEST(Utf8Text, ReplacesMaximalIllFormedSubpartsLikePython) {
  EXPECT_EQ(replace_invalid_utf8("abc"), "abc");
  EXPECT_EQ(replace_invalid_utf8("\xE4\xB8"), with_fffd("", 1))
      << "a character cut after 2 of 3 bytes";
  EXPECT_EQ(replace_invalid_utf8("\xE4\xB8"
                                 "A"),
            with_fffd("", 1, "A"));
  EXPECT_EQ(replace_invalid_utf8("\xE0\x80"), with_fffd("", 2)) << "overlong: E0 needs A0..BF next";
  EXPECT_EQ(replace_invalid_utf8("\x80\x80"), with_fffd("", 2)) << "lone continuation bytes";
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98"), with_fffd("", 1));
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"), with_fffd("", 3)) << "surrogates are ill-formed";
  EXPECT_EQ(replace_invalid_utf8("\xC0\xAF"), with_fffd("", 2));
  EXPECT_EQ(replace_invalid_utf8("\xF4\x90\x80\x80"), with_fffd("", 4)) << "above U+10FFFF";
  EXPECT_EQ(replace_invalid_utf8("\xFF"), with_fffd("", 1));
  EXPECT_EQ(replace_invalid_utf8("a\xC3"), with_fffd("a", 1));
  EXPECT_EQ(replace_invalid_utf8("\xE4\xB8\xAD\xE6"), with_fffd("\xE4\xB8\xAD", 1));
}

TEST(Utf8Text, Validates) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo \xE4\xB8\xAD"));
  EXPECT_FALSE(is_valid_utf8("\xE4\xB8"));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));
}

TEST(Utf8Text, StripsWhatPythonStrips) {
  EXPECT_EQ(strip_whitespace(""), "");
  EXPECT_EQ(strip_whitespace("   "), "");
  EXPECT_EQ(strip_whitespace(" pedir pedir "), "pedir pedir");
  // ' \t\u3000 a b\xa0\u2028'.strip() == 'a b'
  EXPECT_EQ(strip_whitespace(" \t\xE3\x80\x80 a b\xC2\xA0\xE2\x80\xA8"), "a b");
  EXPECT_EQ(strip_whitespace("\x1C"
                             "x\x1F"),
            "x")
      << "str.isspace() includes U+001C..U+001F";
  // U+200B (zero-width space) is not whitespace to Python.
  EXPECT_EQ(strip_whitespace("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");
  // A trailing replacement character is text, not space.
  EXPECT_EQ(strip_whitespace(with_fffd("x ", 1)), with_fffd("x ", 1));
}

}  // namespace
}  // namespace earshot::whisper
