#pragma once

// Readers for the conformance reference files used by the decoding tests: JSON, the
// vocabulary section of a ggml model file, and float32 .npy arrays (conformance README
// section 4). Test-only; they throw std::runtime_error on anything unexpected.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace earshot::testing::reference {

inline std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  return nlohmann::json::parse(read_file_bytes(path));
}

struct GgmlVocab {
  int n_vocab = 0;
  std::vector<std::string> tokens;  // entry i = token id i
};

// The hparams' n_vocab and the stored vocabulary of a ggml Whisper file
// (docs/engine.md, "Model files"), skipping the mel filters.
inline GgmlVocab read_ggml_vocab(const std::filesystem::path& path) {
  const std::string bytes = read_file_bytes(path);
  std::size_t at = 0;
  const auto i32 = [&] {
    if (at + 4 > bytes.size()) throw std::runtime_error("truncated ggml file");
    std::int32_t v = 0;
    std::memcpy(&v, bytes.data() + at, 4);
    at += 4;
    return v;
  };
  if (static_cast<std::uint32_t>(i32()) != 0x67676d6cu) throw std::runtime_error("not ggml");
  GgmlVocab out;
  out.n_vocab = i32();
  for (int i = 0; i < 10; ++i) i32();  // the other hparams
  const std::int32_t n_mel = i32();
  const std::int32_t n_fft = i32();
  at += static_cast<std::size_t>(n_mel) * static_cast<std::size_t>(n_fft) * 4;
  const std::int32_t n = i32();
  for (std::int32_t i = 0; i < n; ++i) {
    const auto len = static_cast<std::size_t>(i32());
    if (at + len > bytes.size()) throw std::runtime_error("truncated ggml vocabulary");
    out.tokens.emplace_back(bytes.substr(at, len));
    at += len;
  }
  return out;
}

struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<float> data;
  std::size_t row_size() const {
    std::size_t n = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return n;
  }
  const float* row(std::size_t i) const { return data.data() + i * row_size(); }
};

// A little-endian float32, C-order .npy file (format 1.0).
inline NpyArray read_npy(const std::filesystem::path& path) {
  const std::string bytes = read_file_bytes(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw std::runtime_error(path.string() + ": not a .npy file");
  }
  const std::size_t header_len =
      static_cast<std::uint8_t>(bytes[8]) |
      (static_cast<std::size_t>(static_cast<std::uint8_t>(bytes[9])) << 8);
  const std::string header = bytes.substr(10, header_len);
  if (header.find("'descr': '<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos) {
    throw std::runtime_error(path.string() + ": not a C-order float32 array");
  }
  NpyArray out;
  const std::size_t open = header.find('(', header.find("'shape'"));
  const std::size_t close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  std::size_t count = 1;
  for (std::size_t pos = 0; pos < dims.size();) {
    const std::size_t comma = dims.find(',', pos);
    const std::string part =
        dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (part.find_first_of("0123456789") != std::string::npos) {
      out.shape.push_back(std::stoul(part));
      count *= out.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const std::size_t data_at = 10 + header_len;
  if (bytes.size() != data_at + count * 4) throw std::runtime_error(path.string() + ": bad size");
  out.data.resize(count);
  std::memcpy(out.data.data(), bytes.data() + data_at, count * 4);
  return out;
}

}  // namespace earshot::testing::reference
