#include "whisper/utf8_text.h"

#include <gtest/gtest.h>

namespace earshot::whisper {
namespace {

constexpr const char* kFffd = "\xEF\xBF\xBD";

std::string repeat_fffd(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kFffd;
  return s;
}

// Expected values are Python 3's bytes.decode("utf-8", errors="replace").
TEST(Utf8Text, ReplacesMaximalIllFormedSubpartsLikePython) {
  EXPECT_EQ(replace_invalid_utf8("abc"), "abc");
  EXPECT_EQ(replace_invalid_utf8("\xE4\xB8"), repeat_fffd(1)) << "a character cut after 2 of 3 bytes";
  EXPECT_EQ(replace_invalid_utf8("\xE4\xB8" "A"), repeat_fffd(1) + "A");
  EXPECT_EQ(replace_invalid_utf8("\xE0\x80"), repeat_fffd(2)) << "overlong: E0 needs A0..BF next";
  EXPECT_EQ(replace_invalid_utf8("\x80\x80"), repeat_fffd(2)) << "lone continuation bytes";
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98"), repeat_fffd(1));
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"), repeat_fffd(3)) << "surrogates are ill-formed";
  EXPECT_EQ(replace_invalid_utf8("\xC0\xAF"), repeat_fffd(2));
  EXPECT_EQ(replace_invalid_utf8("\xF4\x90\x80\x80"), repeat_fffd(4)) << "above U+10FFFF";
  EXPECT_EQ(replace_invalid_utf8("\xFF"), repeat_fffd(1));
  EXPECT_EQ(replace_invalid_utf8("a\xC3"), "a" + repeat_fffd(1));
  EXPECT_EQ(replace_invalid_utf8("\xE4\xB8\xAD\xE6"), "\xE4\xB8\xAD" + repeat_fffd(1));
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
  EXPECT_EQ(strip_whitespace("\x1C" "x\x1F"), "x") << "str.isspace() includes U+001C..U+001F";
  // U+200B (zero-width space) is not whitespace to Python.
  EXPECT_EQ(strip_whitespace("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");
  // A trailing replacement character is text, not space.
  EXPECT_EQ(strip_whitespace(std::string("x ") + kFffd), std::string("x ") + kFffd);
}

}  // namespace
}  // namespace earshot::whisper
