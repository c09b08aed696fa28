#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace earshot::server {

// URL query parameters (application/x-www-form-urlencoded: '+' is a space, %XX a byte).
// A repeated name keeps its last value. Malformed escapes are kept literally.
std::map<std::string, std::string> parse_query(std::string_view query);

std::string url_decode(std::string_view s);

}  // namespace earshot::server
