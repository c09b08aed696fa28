#pragma once

// A minimal reader for the conformance recordings: RIFF/WAVE, PCM 16-bit, returned as
// int16 / 32768 exactly as the reference's loader gives them (conformance README section 3).
// Test-only, independent of src/audio; throws std::runtime_error on anything else.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace earshot::testing {

struct WavPcm16 {
  int sample_rate = 0;
  int channels = 0;
  std::vector<float> samples;  // interleaved when channels > 1
};

inline WavPcm16 read_wav_pcm16(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  const std::string b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  const auto u16 = [&](std::size_t at) {
    std::uint16_t v = 0;
    std::memcpy(&v, b.data() + at, 2);
    return v;
  };
  if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0) {
    throw std::runtime_error(path.string() + ": not a RIFF/WAVE file");
  }
  WavPcm16 out;
  bool have_format = false;
  for (std::size_t at = 12; at + 8 <= b.size();) {
    const std::string id = b.substr(at, 4);
    const std::size_t size = u32(at + 4);
    const std::size_t body = at + 8;
    if (body + size > b.size()) throw std::runtime_error(path.string() + ": truncated chunk");
    if (id == "fmt ") {
      if (u16(body) != 1 || u16(body + 14) != 16) {
        throw std::runtime_error(path.string() + ": not 16-bit PCM");
      }
      out.channels = u16(body + 2);
      out.sample_rate = static_cast<int>(u32(body + 4));
      have_format = true;
    } else if (id == "data") {
      if (!have_format) throw std::runtime_error(path.string() + ": data before fmt");
      out.samples.resize(size / 2);
      for (std::size_t i = 0; i < out.samples.size(); ++i) {
        out.samples[i] =
            static_cast<float>(static_cast<std::int16_t>(u16(body + 2 * i))) / 32768.0f;
      }
      return out;
    }
    at = body + size + (size & 1);  // chunks are padded to even sizes
  }
  throw std::runtime_error(path.string() + ": no data chunk");
}

}  // namespace earshot::testing
