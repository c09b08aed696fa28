#include "testing/npy.h"

#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace earshot::testing {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw std::runtime_error(path.string() + ": " + what);
}

// The value of `key` in the header dict, up to the next top-level comma or closing brace.
std::string header_value(const std::string& header, const std::string& key) {
  const auto at = header.find("'" + key + "'");
  if (at == std::string::npos) return {};
  auto pos = header.find(':', at);
  if (pos == std::string::npos) return {};
  ++pos;
  int depth = 0;
  std::string value;
  for (; pos < header.size(); ++pos) {
    const char c = header[pos];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
    value += c;
  }
  const auto first = value.find_first_not_of(' ');
  const auto last = value.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : value.substr(first, last - first + 1);
}

}  // namespace

std::span<const float> NpyArray::slice(std::int64_t i) const {
  std::size_t stride = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) stride *= static_cast<std::size_t>(shape[d]);
  return std::span<const float>(data).subspan(static_cast<std::size_t>(i) * stride, stride);
}

NpyArray read_npy(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, "cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) {
    fail(path, "not a .npy file");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0;
  std::size_t offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) |
                 (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(path, "truncated header");
    for (int i = 0; i < 4; ++i) {
      header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    }
    offset = 12;
  } else {
    fail(path, "unsupported .npy version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) fail(path, "truncated header");
  const std::string header(bytes.data() + offset, header_len);
  offset += header_len;

  const std::string descr = header_value(header, "descr");
  if (header_value(header, "fortran_order") != "False") fail(path, "Fortran order unsupported");
  const bool f32 = descr == "'<f4'";
  const bool f64 = descr == "'<f8'";
  if (!f32 && !f64) fail(path, "unsupported dtype " + descr);

  NpyArray array;
  std::string shape = header_value(header, "shape");
  std::size_t count = 1;
  std::string number;
  for (char c : shape + ",") {
    if (c >= '0' && c <= '9') {
      number += c;
    } else if (c == ',' && !number.empty()) {
      array.shape.push_back(std::stoll(number));
      count *= static_cast<std::size_t>(array.shape.back());
      number.clear();
    }
  }
  const std::size_t item = f32 ? 4 : 8;
  if (bytes.size() - offset != count * item) fail(path, "data size does not match the shape");
  array.data.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const char* p = bytes.data() + offset + i * item;
    if (f32) {
      std::uint32_t bits = 0;
      std::memcpy(&bits, p, 4);
      array.data[i] = std::bit_cast<float>(bits);
    } else {
      std::uint64_t bits = 0;
      std::memcpy(&bits, p, 8);
      array.data[i] = static_cast<float>(std::bit_cast<double>(bits));
    }
  }
  return array;
}

}  // namespace earshot::testing
