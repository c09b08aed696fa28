#pragma once

// ASCII case folding for protocol text (header values, multipart parameters, language codes),
// whose case-insensitive names are ASCII.

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace earshot::server {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace earshot::server
