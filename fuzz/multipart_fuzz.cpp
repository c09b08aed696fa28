// multipart/form-data: the Content-Type's boundary and the body, as /v1/audio/* receive them.
// Input: the Content-Type value, a newline, then the body.

#include <cstdint>
#include <string_view>

#include "server/multipart.h"

using earshot::server::MultipartError;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const auto content_type = input.substr(0, newline);
  const auto body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  const auto boundary = earshot::server::multipart_boundary(content_type);
  if (boundary && (boundary->empty() || boundary->size() > 70)) __builtin_trap();
  earshot::server::MultipartLimits limits;
  limits.max_parts = 8;
  limits.max_part_header_size = 256;
  try {
    const auto parts = earshot::server::parse_multipart(body, boundary ? *boundary : "b", limits);
    if (parts.size() > limits.max_parts) __builtin_trap();
    for (const auto& part : parts) {
      // Every part is a view into the body.
      if (!part.data.empty() && (part.data.data() < body.data() ||
                                 part.data.data() + part.data.size() > body.data() + body.size())) {
        __builtin_trap();
      }
    }
  } catch (const MultipartError&) {
  }
  return 0;
}
