#pragma once

#include <string>
#include <string_view>

namespace earshot {

// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD, one per maximal subpart
// (Unicode's recommended practice, which Python's errors="replace" also follows). Whisper
// text can end in the middle of a character when decoding stops between the byte tokens
// of one character; JSON and subtitle readers reject such bytes.
std::string make_valid_utf8(std::string_view text);

// `text` without leading and trailing ASCII whitespace, as Python's str.strip() treats the
// whitespace Whisper's tokens carry.
std::string_view strip_whitespace(std::string_view text);

// `text` with every occurrence of `from` replaced by `to`.
std::string replace_all(std::string_view text, std::string_view from, std::string_view to);

}  // namespace earshot
