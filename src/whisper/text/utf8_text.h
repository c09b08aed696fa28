#pragma once

// Text handling that must match what Python does to Whisper's output, byte for byte.

#include <string>
#include <string_view>

namespace earshot::whisper {

// bytes.decode("utf-8", errors="replace") re-encoded as UTF-8: every maximal ill-formed
// subsequence (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts") becomes one
// U+FFFD. Token sequences may end inside a multi-byte character, so decoded text needs this.
std::string replace_invalid_utf8(std::string_view bytes);

// Whether `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

// str.strip() without arguments on valid UTF-8: removes the characters Python's
// str.isspace() accepts (ASCII whitespace, U+001C..U+001F, U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) from both ends.
std::string_view strip_whitespace(std::string_view text);

}  // namespace earshot::whisper
