#include "server/multipart.h"

#include <algorithm>
#include <cctype>

#include "server/ascii.h"

namespace earshot::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parameters of a header value such as `form-data; name="file"; filename="a b.wav"`.
// Returns the value of `key` (unquoted, with \" and \\ unescaped), or nullopt.
std::optional<std::string> header_param(std::string_view value, std::string_view key) {
  std::size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    const auto eq = value.find('=', i);
    if (eq == std::string_view::npos) return std::nullopt;
    const auto name = ascii_lower(trim(value.substr(i, eq - i)));
    std::size_t j = eq + 1;
    std::string param;
    if (j < value.size() && value[j] == '"') {
      ++j;
      while (j < value.size() && value[j] != '"') {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        param += value[j++];
      }
      if (j >= value.size()) throw MultipartError("unterminated quoted parameter in a part header");
      ++j;
      const auto next = value.find(';', j);
      i = next;
    } else {
      const auto next = value.find(';', j);
      param = std::string(trim(
          value.substr(j, next == std::string_view::npos ? std::string_view::npos : next - j)));
      i = next;
    }
    if (name == key) return param;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const auto semi = content_type.find(';');
  if (ascii_lower(trim(content_type.substr(0, semi))) != "multipart/form-data") return std::nullopt;
  try {
    auto b = header_param(content_type, "boundary");
    // RFC 2046: 1 to 70 characters.
    if (!b || b->empty() || b->size() > 70) return std::nullopt;
    return b;
  } catch (const MultipartError&) {
    return std::nullopt;
  }
}

std::vector<MultipartPart> parse_multipart(std::string_view body, std::string_view boundary,
                                           const MultipartLimits& limits) {
  const std::string delimiter = "--" + std::string(boundary);
  const std::string next_delimiter = "\r\n" + delimiter;
  std::vector<MultipartPart> parts;

  // The preamble before the first delimiter is ignored (RFC 2046).
  std::size_t pos = 0;
  if (body.substr(0, delimiter.size()) != delimiter) {
    pos = body.find(next_delimiter);
    if (pos == std::string_view::npos)
      throw MultipartError("multipart body has no boundary delimiter");
    pos += 2;
  }
  pos += delimiter.size();
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // close delimiter
    // Transport padding, then CRLF.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") throw MultipartError("malformed multipart delimiter line");
    pos += 2;
    if (parts.size() >= limits.max_parts) {
      throw MultipartLimitError(
          "too many multipart parts (limit " + std::to_string(limits.max_parts) + ")", "max_parts",
          limits.max_parts);
    }
    const auto header_end = body.find("\r\n\r\n", pos);
    const bool no_headers = body.substr(pos, 2) == "\r\n";
    if (!no_headers && header_end == std::string_view::npos)
      throw MultipartError("multipart part without headers");
    const std::size_t headers_size = no_headers ? 0 : header_end - pos;
    if (headers_size > limits.max_part_header_size) {
      throw MultipartLimitError("multipart part headers too large (limit " +
                                    std::to_string(limits.max_part_header_size) + " bytes)",
                                "max_part_header_size", limits.max_part_header_size);
    }

    MultipartPart part;
    bool has_disposition = false;
    std::string_view headers = body.substr(pos, headers_size);
    while (!headers.empty()) {
      const auto eol = headers.find("\r\n");
      const auto line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) throw MultipartError("malformed multipart part header");
      const auto name = ascii_lower(trim(line.substr(0, colon)));
      const auto value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        if (ascii_lower(trim(value.substr(0, value.find(';')))) != "form-data") {
          throw MultipartError("multipart part is not form-data");
        }
        auto field = header_param(value, "name");
        if (!field) throw MultipartError("multipart part without a field name");
        part.name = std::move(*field);
        part.filename = header_param(value, "filename");
        has_disposition = true;
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (!has_disposition) throw MultipartError("multipart part without Content-Disposition");
    pos = no_headers ? pos + 2 : header_end + 4;
    const auto end = body.find(next_delimiter, pos);
    if (end == std::string_view::npos)
      throw MultipartError("multipart body is truncated (no closing boundary)");
    part.data = body.substr(pos, end - pos);
    if (!part.filename && part.data.size() > limits.max_field_size) {
      throw MultipartLimitError("multipart field '" + part.name + "' is larger than " +
                                    std::to_string(limits.max_field_size) +
                                    " bytes (a file part needs a filename)",
                                "max_field_size", limits.max_field_size);
    }
    parts.push_back(std::move(part));
    pos = end + next_delimiter.size();
  }
}

}  // namespace earshot::server
