#pragma once

// ASCII case folding for protocol text (header values, multipart parameters, language codes),
// whose case-insensitive names are ASCII.

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::server {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The items of a comma-separated header value (Sec-WebSocket-Protocol, OpenAI-Beta), without
// the spaces around them; empty items are left out.
inline std::vector<std::string_view> header_list_items(std::string_view value) {
  std::vector<std::string_view> items;
  for (std::size_t at = 0; at <= value.size();) {
    const std::size_t comma = std::min(value.find(',', at), value.size());
    std::string_view item = value.substr(at, comma - at);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) items.push_back(item);
    at = comma + 1;
  }
  return items;
}

}  // namespace earshot::server
