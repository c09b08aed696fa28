#include "format/text_cleanup.h"

#include <cstdint>

namespace earshot {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed sequence a lead byte starts (0 for a byte that cannot start
// one), and the range its second byte must fall in (Unicode 15, table 3-7).
struct LeadByte {
  int length;
  std::uint8_t second_min;
  std::uint8_t second_max;
};

LeadByte classify(std::uint8_t byte) {
  if (byte < 0x80) {
    return {1, 0, 0};
  }
  if (byte >= 0xC2 && byte <= 0xDF) {
    return {2, 0x80, 0xBF};
  }
  if (byte == 0xE0) {
    return {3, 0xA0, 0xBF};
  }
  if (byte == 0xED) {
    return {3, 0x80, 0x9F};  // no UTF-16 surrogates
  }
  if (byte >= 0xE1 && byte <= 0xEF) {
    return {3, 0x80, 0xBF};
  }
  if (byte == 0xF0) {
    return {4, 0x90, 0xBF};
  }
  if (byte >= 0xF1 && byte <= 0xF3) {
    return {4, 0x80, 0xBF};
  }
  if (byte == 0xF4) {
    return {4, 0x80, 0x8F};  // nothing above U+10FFFF
  }
  return {0, 0, 0};
}

}  // namespace

std::string make_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = classify(static_cast<std::uint8_t>(text[i]));
    if (lead.length == 1) {
      out.push_back(text[i++]);
      continue;
    }
    if (lead.length == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    // Take continuation bytes while they fit; a sequence that breaks off is one maximal
    // subpart, replaced once, and scanning resumes at the byte that broke it.
    std::size_t taken = 1;
    while (taken < static_cast<std::size_t>(lead.length) && i + taken < text.size()) {
      const auto byte = static_cast<std::uint8_t>(text[i + taken]);
      const bool fits = taken == 1 ? byte >= lead.second_min && byte <= lead.second_max
                                   : byte >= 0x80 && byte <= 0xBF;
      if (!fits) {
        break;
      }
      ++taken;
    }
    if (taken == static_cast<std::size_t>(lead.length)) {
      out.append(text.substr(i, taken));
    } else {
      out += kReplacement;
    }
    i += taken;
  }
  return out;
}

std::string_view strip_whitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\n\r\f\v";
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t at = 0;
  for (;;) {
    const auto found = text.find(from, at);
    if (found == std::string_view::npos || from.empty()) {
      break;
    }
    out.append(text.substr(at, found - at));
    out.append(to);
    at = found + from.size();
  }
  out.append(text.substr(at));
  return out;
}

}  // namespace earshot
