#pragma once

// Test audio made at test time: a synthetic tone encoded by the `ffmpeg` command-line tool
// (a dependency installed by scripts/install-deps.sh) into every container the audio
// stage claims to read, plus WAV files written byte by byte where exact control matters.

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing/paths.h"

namespace earshot::audio_test {

// The tone every encoded fixture carries unless a test asks otherwise.
inline constexpr double kToneHz = 440.0;
inline constexpr double kToneAmplitude = 0.5;
inline constexpr double kToneSeconds = 2.0;

struct EncodedFixture {
  std::string name;     // file name under fixture_dir(), e.g. "tone_44100.mp3"
  std::string encoder;  // ffmpeg output options, e.g. "-c:a libmp3lame -b:a 128k"
  int source_rate;      // rate the tone is generated at before encoding
  int channels = 1;     // identical tone on every channel
  // How far the decoded duration may be from kToneSeconds: one codec frame of padding
  // for lossy codecs, one sample for PCM and FLAC.
  double duration_tolerance_s = 1.0 / 16000;
  // The tone's energy after a lossy round trip stays within this fraction.
  double rms_tolerance = 0.02;
};

inline std::filesystem::path fixture_dir() {
  auto dir = earshot::testing::binary_dir() / "test-fixtures" / "audio";
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs `ffmpeg` with the given arguments writing `target`, unless `target` is already
// there. Output goes to a per-process temporary name first and is renamed into place, so
// test processes that ctest runs in parallel never see a half-written file.
inline std::filesystem::path make_with_ffmpeg(const std::string& input_args,
                                              const std::string& output_args,
                                              const std::string& name) {
  const auto target = fixture_dir() / name;
  if (std::filesystem::exists(target)) return target;
  const auto partial = fixture_dir() / (std::to_string(::getpid()) + ".partial." + name);
  const std::string command = "ffmpeg -nostdin -hide_banner -loglevel error -y " + input_args +
                              " " + output_args + " '" + partial.string() + "'";
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    ADD_FAILURE() << "fixture command failed (" << rc << "): " << command;
    return target;
  }
  std::filesystem::rename(partial, target);
  return target;
}

// ffmpeg's aevalsrc source for `channels` channels, each given by its own expression.
inline std::string tone_source(int rate, const std::vector<std::string>& channel_exprs,
                               double seconds = kToneSeconds) {
  std::string exprs;
  for (const auto& expr : channel_exprs) exprs += (exprs.empty() ? "" : "|") + expr;
  return "-f lavfi -i 'aevalsrc=" + exprs + ":s=" + std::to_string(rate) +
         ":d=" + std::to_string(seconds) + "'";
}

inline std::string tone_expr(double hz = kToneHz, double amplitude = kToneAmplitude) {
  return std::to_string(amplitude) + "*sin(2*PI*" + std::to_string(hz) + "*t)";
}

inline std::filesystem::path make_fixture(const EncodedFixture& fixture) {
  return make_with_ffmpeg(tone_source(fixture.source_rate,
                                      std::vector<std::string>(
                                          static_cast<std::size_t>(fixture.channels), tone_expr())),
                          fixture.encoder, fixture.name);
}

inline std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A canonical 44-byte-header RIFF/WAVE file. format_tag 1 = PCM, 3 = IEEE float.
inline std::vector<std::uint8_t> make_wav(int format_tag, int channels, int rate,
                                          int bits_per_sample, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> wav;
  wav.reserve(44 + data.size());
  auto put32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) wav.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  auto put16 = [&](std::uint16_t v) {
    wav.push_back(static_cast<std::uint8_t>(v));
    wav.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  auto tag = [&](const char* four) {
    for (int i = 0; i < 4; ++i) wav.push_back(static_cast<std::uint8_t>(four[i]));
  };
  const int block_align = channels * bits_per_sample / 8;
  tag("RIFF");
  put32(static_cast<std::uint32_t>(36 + data.size()));
  tag("WAVE");
  tag("fmt ");
  put32(16);
  put16(static_cast<std::uint16_t>(format_tag));
  put16(static_cast<std::uint16_t>(channels));
  put32(static_cast<std::uint32_t>(rate));
  put32(static_cast<std::uint32_t>(rate * block_align));
  put16(static_cast<std::uint16_t>(block_align));
  put16(static_cast<std::uint16_t>(bits_per_sample));
  tag("data");
  put32(static_cast<std::uint32_t>(data.size()));
  wav.insert(wav.end(), data.begin(), data.end());
  return wav;
}

inline std::vector<std::uint8_t> make_wav_s16(std::span<const std::int16_t> samples, int rate,
                                              int channels = 1) {
  std::vector<std::uint8_t> data;
  for (std::int16_t s : samples) {
    const auto u = static_cast<std::uint16_t>(s);
    data.push_back(static_cast<std::uint8_t>(u));
    data.push_back(static_cast<std::uint8_t>(u >> 8));
  }
  return make_wav(1, channels, rate, 16, data);
}

// The s16 samples of a mono 16-bit PCM WAV, found by walking the RIFF chunks independently
// of FFmpeg (ffmpeg's own WAVs carry a LIST chunk before "data").
inline std::vector<std::int16_t> parse_wav_s16(std::span<const std::uint8_t> wav) {
  auto u32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(wav[at]) | static_cast<std::uint32_t>(wav[at + 1]) << 8 |
           static_cast<std::uint32_t>(wav[at + 2]) << 16 |
           static_cast<std::uint32_t>(wav[at + 3]) << 24;
  };
  auto u16 = [&](std::size_t at) { return static_cast<std::uint16_t>(wav[at] | wav[at + 1] << 8); };
  std::vector<std::int16_t> samples;
  if (wav.size() < 12 || std::string(wav.begin(), wav.begin() + 4) != "RIFF") return samples;
  std::size_t at = 12;
  while (at + 8 <= wav.size()) {
    const std::string id(wav.begin() + static_cast<std::ptrdiff_t>(at),
                         wav.begin() + static_cast<std::ptrdiff_t>(at + 4));
    const std::uint32_t size = u32(at + 4);
    const std::size_t body = at + 8;
    if (id == "fmt ") {
      EXPECT_EQ(u16(body), 1) << "not PCM";
      EXPECT_EQ(u16(body + 2), 1) << "not mono";
      EXPECT_EQ(u16(body + 14), 16) << "not 16-bit";
    }
    if (id == "data") {
      const std::size_t end = std::min<std::size_t>(body + size, wav.size());
      for (std::size_t i = body; i + 1 < end; i += 2) {
        samples.push_back(static_cast<std::int16_t>(u16(i)));
      }
      return samples;
    }
    at = body + size + (size & 1);
  }
  return samples;
}

// Signal measures that survive lossy coding: energy and the count of sign changes (a
// sine of f Hz changes sign 2f times a second).
inline double rms(std::span<const float> samples) {
  double sum = 0;
  for (float s : samples) sum += static_cast<double>(s) * s;
  return samples.empty() ? 0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

inline double zero_crossing_rate_hz(std::span<const float> samples, int rate) {
  int crossings = 0;
  for (std::size_t i = 1; i < samples.size(); ++i) {
    if ((samples[i - 1] < 0) != (samples[i] < 0)) ++crossings;
  }
  return samples.size() < 2 ? 0 : crossings * rate / 2.0 / static_cast<double>(samples.size());
}

// The middle of a signal, leaving out `edge_s` seconds at each end where codec priming,
// fades and resampler edges live.
inline std::span<const float> middle(std::span<const float> samples, double edge_s = 0.1) {
  const auto edge = static_cast<std::size_t>(edge_s * 16000);
  if (samples.size() <= 2 * edge) return {};
  return samples.subspan(edge, samples.size() - 2 * edge);
}

}  // namespace earshot::audio_test
