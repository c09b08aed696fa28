#include "whisper/text/utf8_text.h"

#include <cstdint>

namespace earshot::whisper {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Length of the well-formed prefix of a UTF-8 sequence starting at `s[i]` (Unicode Table 3-7),
// and whether it is a complete character. A result of {0, false} means `s[i]` cannot start one.
struct SequenceScan {
  std::size_t length = 0;
  bool complete = false;
};

SequenceScan scan_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t lead = byte(i);
  if (lead < 0x80) {
    return {1, true};
  }
  std::size_t need = 0;
  std::uint8_t lo = 0x80;  // allowed range of the second byte
  std::uint8_t hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead == 0xE0) {
    need = 2, lo = 0xA0;
  } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    need = 2;
  } else if (lead == 0xED) {
    need = 2, hi = 0x9F;  // excludes surrogates
  } else if (lead == 0xF0) {
    need = 3, lo = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    need = 3;
  } else if (lead == 0xF4) {
    need = 3, hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {0, false};
  }
  std::size_t len = 1;
  for (std::size_t k = 0; k < need; ++k) {
    if (i + len >= s.size()) {
      return {len, false};
    }
    const std::uint8_t b = byte(i + len);
    const bool ok = k == 0 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) {
      return {len, false};
    }
    ++len;
  }
  return {len, true};
}

// Decodes the code point of a complete sequence.
char32_t code_point(std::string_view s, std::size_t i, std::size_t len) {
  const auto byte = [&](std::size_t k) {
    return static_cast<char32_t>(static_cast<std::uint8_t>(s[k]));
  };
  if (len == 1) {
    return byte(i);
  }
  char32_t cp = byte(i) & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k) {
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  return cp;
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

}  // namespace

std::string replace_invalid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const SequenceScan scan = scan_sequence(bytes, i);
    if (scan.complete) {
      out.append(bytes.substr(i, scan.length));
      i += scan.length;
    } else {
      out.append(kReplacementCharacter);
      i += scan.length == 0 ? 1 : scan.length;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const SequenceScan scan = scan_sequence(text, i);
    if (!scan.complete) {
      return false;
    }
    i += scan.length;
  }
  return true;
}

std::string_view strip_whitespace(std::string_view text) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    const SequenceScan scan = scan_sequence(text, begin);
    if (!scan.complete || !is_python_space(code_point(text, begin, scan.length))) {
      break;
    }
    begin += scan.length;
  }
  std::size_t end = text.size();
  while (end > begin) {
    // Step back to the start of the last character.
    std::size_t start = end - 1;
    while (start > begin && (static_cast<std::uint8_t>(text[start]) & 0xC0) == 0x80) {
      --start;
    }
    const SequenceScan scan = scan_sequence(text, start);
    if (!scan.complete || start + scan.length != end ||
        !is_python_space(code_point(text, start, scan.length))) {
      break;
    }
    end = start;
  }
  return text.substr(begin, end - begin);
}

}  // namespace earshot::whisper
