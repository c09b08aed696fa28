#pragma once

// multipart/form-data (RFC 7578) as the OpenAI audio API receives it: the parts are views
// into the request body, which must outlive them.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace earshot::server {

struct MultipartPart {
  std::string name;                     // the form field name
  std::optional<std::string> filename;  // present for file fields
  std::string content_type;             // the part's Content-Type; empty when absent
  std::string_view data;                // the part's bytes
};

struct MultipartLimits {
  std::size_t max_parts = 64;               // more parts is an error
  std::size_t max_part_header_size = 8192;  // bytes of one part's headers
  // Bytes of a part without a filename (a form field such as `prompt`, not a file): text
  // fields end up in the tokenizer, whose cost grows faster than their length.
  std::size_t max_field_size = 65536;
};

class MultipartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A body refused for going over one of MultipartLimits (rather than for being malformed).
class MultipartLimitError : public MultipartError {
 public:
  MultipartLimitError(const std::string& message, std::string limit, std::size_t configured)
      : MultipartError(message), limit_(std::move(limit)), configured_(configured) {}
  // The MultipartLimits field, e.g. "max_parts", and its value.
  const std::string& limit() const { return limit_; }
  std::size_t configured() const { return configured_; }

 private:
  std::string limit_;
  std::size_t configured_;
};

// The boundary parameter of a multipart/form-data Content-Type; nullopt when the type is
// something else or has no boundary.
std::optional<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` into its parts. Throws MultipartError with a message for the client
// (MultipartLimitError when a limit is passed).
std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary,
                                           const MultipartLimits& limits = {});

}  // namespace earshot::server
