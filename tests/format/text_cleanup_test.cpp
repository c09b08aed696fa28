#include "format/text_cleanup.h"

#include <gtest/gtest.h>

namespace earshot {
namespace {

TEST(MakeValidUtf8Test, KeepsWellFormedText) {
  const std::string text = "plain, Grüße, 世界, 🎉, \x7f";
  EXPECT_EQ(make_valid_utf8(text), text);
}

TEST(MakeValidUtf8Test, ReplacesEachMaximalSubpartOnce) {
  // A character cut after two of its three bytes (a decoding stopped mid-character).
  EXPECT_EQ(make_valid_utf8("ab\xE4\xB8"), "ab\xEF\xBF\xBD");
  // The same cut followed by more text: one replacement, the text kept.
  EXPECT_EQ(make_valid_utf8("\xE4\xB8x"), "\xEF\xBF\xBDx");
  // Stray continuation bytes and bytes that never occur: one replacement each.
  EXPECT_EQ(make_valid_utf8("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(make_valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(make_valid_utf8("\xFF"), "\xEF\xBF\xBD");
  // A UTF-16 surrogate encoded as UTF-8 is not well formed.
  EXPECT_EQ(make_valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  // Beyond U+10FFFF.
  EXPECT_EQ(make_valid_utf8("\xF4\x90\x80\x80"),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StripWhitespaceTest, TrimsBothEnds) {
  EXPECT_EQ(strip_whitespace("  hello world \n"), "hello world");
  EXPECT_EQ(strip_whitespace(" \t\r\n"), "");
  EXPECT_EQ(strip_whitespace(""), "");
}

TEST(ReplaceAllTest, ReplacesEveryOccurrence) {
  EXPECT_EQ(replace_all("a-->b-->c", "-->", "->"), "a->b->c");
  EXPECT_EQ(replace_all("--->", "-->", "->"), "-->");
  EXPECT_EQ(replace_all("none", "-->", "->"), "none");
}

}  // namespace
}  // namespace earshot
