// What the audio stage does with bytes that are not (complete) audio: a typed error with a
// message, never a crash, never unbounded output, never a file it was not given.

#include <fstream>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "audio/audio_fixtures.h"
#include "earshot/audio.h"
#include "earshot/error.h"

namespace earshot::audio_test {
namespace {

// Runs `decode` and returns the error it throws; fails the test when it does not throw.
template <typename Decode>
Error error_of(Decode&& decode) {
  try {
    decode();
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "no earshot::Error thrown";
  return Error(ErrorCode::kInternal, "");
}

std::vector<std::uint8_t> tone_bytes(const char* name) {
  const EncodedFixture fixtures[] = {
      {"tone.mp3", "-c:a libmp3lame -b:a 128k", 44100},
      {"tone.m4a", "-c:a aac -b:a 128k", 44100},
      {"tone.flac", "-c:a flac", 44100},
      {"tone_f32.wav", "-c:a pcm_f32le", 16000},
  };
  for (const auto& fixture : fixtures) {
    if (fixture.name == name) {
      return read_bytes(make_fixture(fixture));
    }
  }
  ADD_FAILURE() << "no fixture " << name;
  return {};
}

TEST(DecodeErrorTest, EmptyBufferIsAnError) {
  const Error error = error_of([] { decode_audio({}); });
  EXPECT_EQ(error.code(), ErrorCode::kAudioDecode);
  EXPECT_NE(std::string(error.what()).find("empty"), std::string::npos) << error.what();
}

TEST(DecodeErrorTest, RandomBytesAreAnError) {
  for (unsigned seed : {1u, 2u, 3u}) {
    std::mt19937 random(seed);
    std::vector<std::uint8_t> noise(std::size_t{64} * 1024);
    for (auto& byte : noise) {
      byte = static_cast<std::uint8_t>(random());
    }
    const Error error = error_of([&] { decode_audio(noise); });
    EXPECT_EQ(error.code(), ErrorCode::kAudioDecode) << error.what();
  }
}

TEST(DecodeErrorTest, TextIsAnError) {
  const std::string text =
      "This is a plain text file, not audio.\nIt has a few lines.\n\tAnd a tab.\n";
  const std::vector<std::uint8_t> bytes(text.begin(), text.end());
  const Error error = error_of([&] { decode_audio(bytes); });
  EXPECT_EQ(error.code(), ErrorCode::kAudioDecode);

  const auto path = fixture_dir() / "not_audio.txt";
  write_bytes(path, bytes);
  EXPECT_EQ(error_of([&] { decode_audio_file(path); }).code(), ErrorCode::kAudioDecode);
}

TEST(DecodeErrorTest, JsonAndHtmlAreErrors) {
  for (const std::string& text : {std::string(R"({"text": "hello", "segments": []})"),
                                  std::string("<!DOCTYPE html><html><body>hi</body></html>\n")}) {
    const std::vector<std::uint8_t> bytes(text.begin(), text.end());
    EXPECT_EQ(error_of([&] { decode_audio(bytes); }).code(), ErrorCode::kAudioDecode) << text;
  }
}

TEST(DecodeErrorTest, VideoWithoutAudioIsAnError) {
  const auto path = make_with_ffmpeg("-f lavfi -i testsrc=size=64x48:rate=10:duration=1",
                                     "-c:v mpeg4", "video_only.mp4");
  const Error error = error_of([&] { decode_audio(read_bytes(path)); });
  EXPECT_EQ(error.code(), ErrorCode::kAudioDecode);
  EXPECT_NE(std::string(error.what()).find("no audio stream"), std::string::npos) << error.what();
}

// A header cut short cannot be read at all.
TEST(DecodeErrorTest, TruncatedHeadersAreErrors) {
  for (const char* name : {"tone_f32.wav", "tone.flac", "tone.m4a"}) {
    auto bytes = tone_bytes(name);
    bytes.resize(20);
    EXPECT_EQ(error_of([&] { decode_audio(bytes); }).code(), ErrorCode::kAudioDecode) << name;
  }
}

// An MP4/M4A keeps its index at the end: without it the file is not decodable.
TEST(DecodeErrorTest, M4aWithoutItsIndexIsAnError) {
  auto bytes = tone_bytes("tone.m4a");
  bytes.resize(bytes.size() / 2);
  EXPECT_EQ(error_of([&] { decode_audio(bytes); }).code(), ErrorCode::kAudioDecode);
}

// A stream cut in the middle of its data decodes up to the cut, as the `ffmpeg` tool (and
// so OpenAI's loader) does: a damaged upload still gets transcribed as far as it goes.
TEST(DecodeErrorTest, StreamsCutInTheirDataGiveTheAudioBeforeTheCut) {
  for (const char* name : {"tone.mp3", "tone.flac", "tone_f32.wav"}) {
    auto bytes = tone_bytes(name);
    bytes.resize(bytes.size() / 2);
    const std::vector<float> samples = decode_audio(bytes);
    const double seconds = static_cast<double>(samples.size()) / kSampleRate;
    EXPECT_GT(seconds, 0.8) << name;
    EXPECT_LT(seconds, 1.2) << name;
  }
}

// Bytes flipped throughout a stream: no crash, and whatever comes out stays in range.
TEST(DecodeErrorTest, CorruptedStreamsNeverCrash) {
  for (const char* name : {"tone.mp3", "tone.m4a", "tone.flac", "tone_f32.wav"}) {
    const auto original = tone_bytes(name);
    for (unsigned seed = 0; seed < 20; ++seed) {
      auto bytes = original;
      std::mt19937 random(seed);
      for (int i = 0; i < 50; ++i) {
        bytes[random() % bytes.size()] ^= static_cast<std::uint8_t>(random());
      }
      try {
        const std::vector<float> samples = decode_audio(bytes);
        EXPECT_LT(samples.size(), 16000u * 60) << name << " seed " << seed;
        for (float s : samples) {
          ASSERT_TRUE(s >= -1.0f && s <= 1.0f);
        }
      } catch (const Error& error) {
        EXPECT_TRUE(error.code() == ErrorCode::kAudioDecode ||
                    error.code() == ErrorCode::kInvalidArgument)
            << error.what();
      }
    }
  }
}

TEST(DecodeErrorTest, MissingFileAndDirectoryAreIoErrors) {
  const auto missing = fixture_dir() / "no_such_file.wav";
  const Error error = error_of([&] { decode_audio_file(missing); });
  EXPECT_EQ(error.code(), ErrorCode::kIo);
  EXPECT_NE(std::string(error.what()).find("no_such_file.wav"), std::string::npos);
  EXPECT_EQ(error_of([&] { decode_audio_file(fixture_dir()); }).code(), ErrorCode::kIo);

  const auto empty = fixture_dir() / "empty.wav";
  write_bytes(empty, {});
  EXPECT_EQ(error_of([&] { decode_audio_file(empty); }).code(), ErrorCode::kAudioDecode);
}

// A 1.7 KB WAV whose header claimed 251,603,729 Hz made swresample's filter take over 2 GB
// (fuzz/regressions/audio/wav-rate-251mhz). Rates above 768 kHz are refused before that.
TEST(DecodeLimitTest, SampleRateAboveTheMaximumIsRefused) {
  const std::vector<std::uint8_t> pcm(1600, 0x80);
  const auto huge = make_wav(1, 1, 251603729, 8, pcm);
  const Error error = error_of([&] { decode_audio(huge); });
  EXPECT_EQ(error.code(), ErrorCode::kAudioDecode);
  EXPECT_NE(std::string(error.what()).find("251603729 Hz"), std::string::npos) << error.what();
  EXPECT_NEAR(static_cast<double>(decode_audio(make_wav(1, 1, 768000, 8, pcm)).size()),
              1600.0 * 16000 / 768000, 2.0);
}

// A WAV header that says 0 Hz, or a sample width that is not whole bytes, describes no
// recording: refused as bad audio (a 7-bit header used to decode as 8-bit noise).
TEST(DecodeLimitTest, WavHeaderWithoutARateOrWithPartialBytesIsRefused) {
  const std::vector<std::uint8_t> pcm(3200, 0x40);
  for (const auto& wav : {make_wav(1, 1, 0, 16, pcm), make_wav(1, 1, 0, 8, pcm)}) {
    const Error error = error_of([&] { decode_audio(wav); });
    EXPECT_EQ(error.code(), ErrorCode::kAudioDecode);
  }
  auto seven_bits = make_wav(1, 1, 16000, 8, pcm);
  seven_bits[34] = 7;  // wBitsPerSample, with block align 1 and byte rate 16000 kept
  Error error = error_of([&] { decode_audio(seven_bits); });
  EXPECT_EQ(error.code(), ErrorCode::kAudioDecode);
  EXPECT_NE(std::string(error.what()).find("7 bits per sample"), std::string::npos) << error.what();
  auto twelve_bits = make_wav(1, 1, 16000, 16, pcm);
  twelve_bits[34] = 12;
  error = error_of([&] { decode_audio(twelve_bits); });
  EXPECT_NE(std::string(error.what()).find("12 bits per sample"), std::string::npos)
      << error.what();
  // Whole-byte widths still decode.
  EXPECT_EQ(decode_audio(make_wav(1, 1, 16000, 8, pcm)).size(), pcm.size());
  EXPECT_EQ(decode_audio(make_wav(1, 1, 16000, 16, pcm)).size(), pcm.size() / 2);
}

// The process's peak resident set (VmHWM) in MB.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

// A 60-byte WAV whose LIST/INFO tag claims 1.6 GB: FFmpeg's wav demuxer allocated and zeroed
// that much before noticing the file ends (the fuzzer's 3.7 KB input,
// fuzz/regressions/audio/wav-info-tag-3gb, took 2.1 GB). FFmpeg's allocations are capped now:
// refused as bad audio, without the memory.
TEST(DecodeLimitTest, ContainerClaimingAHugeTagIsRefusedWithoutAllocatingIt) {
  std::vector<std::uint8_t> wav;
  const auto text = [&](const char* four) { wav.insert(wav.end(), four, four + 4); };
  const auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) wav.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  const auto u16 = [&](std::uint16_t v) {
    wav.push_back(static_cast<std::uint8_t>(v));
    wav.push_back(static_cast<std::uint8_t>(v >> 8));
  };
  text("RIFF");
  u32(0xFFFFFFF0u);
  text("WAVE");
  text("fmt ");
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(16000);
  u32(32000);
  u16(2);
  u16(16);
  text("LIST");
  u32(0xF0000000u);
  text("INFO");
  text("ISFT");
  u32(0x60000000u);  // 1.6 GB of tag text, of which one byte follows
  wav.push_back('x');
  const double before = peak_rss_mb();
  EXPECT_EQ(error_of([&] { decode_audio(wav); }).code(), ErrorCode::kAudioDecode);
  EXPECT_LT(peak_rss_mb() - before, 256.0);
}

TEST(DecodeLimitTest, AudioLongerThanTheCapIsRefused) {
  const auto bytes = tone_bytes("tone.flac");  // 2 s
  const Error error = error_of([&] { decode_audio(bytes, {.max_seconds = 1.5}); });
  EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(std::string(error.what()).find("1.5 s"), std::string::npos) << error.what();
  EXPECT_EQ(decode_audio(bytes, {.max_seconds = 2.0}).size(), 32000u);
  EXPECT_EQ(error_of([&] { decode_audio(bytes, {.max_seconds = -1}); }).code(),
            ErrorCode::kInvalidArgument);
}

// A few kilobytes of FLAC can hold an hour of silence; the cap stops decoding early
// instead of first expanding it all.
TEST(DecodeLimitTest, CapStopsAHighlyCompressedStream) {
  const auto path = make_with_ffmpeg("-f lavfi -i 'anullsrc=r=16000:cl=mono' -t 3600", "-c:a flac",
                                     "silence_1h.flac");
  const auto bytes = read_bytes(path);
  EXPECT_LT(bytes.size(), 2'000'000u);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { decode_audio(bytes, {.max_seconds = 30}); }).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// A playlist or concat list naming a local file must not make the decoder read that file:
// uploads are decoded from their own bytes only. The names are relative to the working
// directory, where FFmpeg 5.1's concat demuxer (in its default "safe" mode) would otherwise
// open them.
TEST(DecodeSafetyTest, ReferencesToOtherFilesAreNotFollowed) {
  const auto target = make_fixture({"tone_f32.wav", "-c:a pcm_f32le", 16000});
  struct WorkingDirectory {
    std::filesystem::path saved = std::filesystem::current_path();
    ~WorkingDirectory() { std::filesystem::current_path(saved); }
  } restore;
  std::filesystem::current_path(target.parent_path());
  const std::string name = target.filename().string();

  const std::string playlists[] = {
      "ffconcat version 1.0\nfile '" + name + "'\n",
      "ffconcat version 1.0\nfile '" + target.string() + "'\n",
      "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n" + name + "\n#EXT-X-ENDLIST\n",
      "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\nfile://" + target.string() +
          "\n#EXT-X-ENDLIST\n",
  };
  for (const auto& playlist : playlists) {
    const std::vector<std::uint8_t> bytes(playlist.begin(), playlist.end());
    EXPECT_EQ(error_of([&] { decode_audio(bytes); }).code(), ErrorCode::kAudioDecode) << playlist;
  }
}

// A file name that looks like an FFmpeg protocol URL is still just a file name.
TEST(DecodeSafetyTest, PathsAreNotUrls) {
  const auto target = make_fixture({"tone_f32.wav", "-c:a pcm_f32le", 16000});
  const auto odd = fixture_dir() / "concat:tone|tone.wav";
  std::filesystem::copy_file(target, odd, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(decode_audio_file(odd).size(), 32000u);
}

TEST(DecodeConcurrencyTest, ConcurrentDecodesGiveTheSequentialResults) {
  const char* names[] = {"tone.mp3", "tone.m4a", "tone.flac", "tone_f32.wav"};
  std::vector<std::vector<std::uint8_t>> inputs;
  std::vector<std::vector<float>> expected;
  for (const char* name : names) {
    inputs.push_back(tone_bytes(name));
    expected.push_back(decode_audio(inputs.back()));
  }
  constexpr int kThreads = 8;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        const std::size_t which = static_cast<std::size_t>(t + round) % inputs.size();
        if (decode_audio(inputs[which]) != expected[which]) {
          ++mismatches[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int count : mismatches) {
    EXPECT_EQ(count, 0);
  }
}

}  // namespace
}  // namespace earshot::audio_test
