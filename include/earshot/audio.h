#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

namespace earshot {

// Whisper's input rate: every decoded stream is resampled to it.
inline constexpr int kSampleRate = 16000;

struct AudioDecodeOptions {
  // Longest audio accepted, in seconds of output; longer audio throws Error(kInvalidArgument)
  // as soon as decoding passes the limit, so a small upload cannot expand into unbounded
  // memory. 0 = no limit.
  double max_seconds = 0;
};

// Decodes audio in any container/codec FFmpeg knows (WAV, FLAC, MP3, OGG, Opus, WebM, M4A,
// MP4 ...) from memory into 16 kHz mono float32 samples in [-1, 1]. The best audio stream
// is chosen, channels are averaged, other rates are resampled. 16 kHz mono s16 WAV
// arrives bit-exactly as sample / 32768. Empty audio (a valid header, no samples) gives an
// empty vector. Throws earshot::Error(kAudioDecode) on bytes that are not decodable audio.
// Safe to call concurrently; nothing but `bytes` is read (nested files or URLs named
// inside the data, as in playlists, are refused).
std::vector<float> decode_audio(std::span<const std::uint8_t> bytes,
                                const AudioDecodeOptions& options = {});

// The same from a file, read through FFmpeg without treating the path as a URL.
// Throws earshot::Error(kIo) when the file cannot be opened or read.
std::vector<float> decode_audio_file(const std::filesystem::path& path,
                                     const AudioDecodeOptions& options = {});

// Live PCM16 mono audio at `input_rate` to 16 kHz float samples, piece by piece, the
// resampler's state carried from one piece to the next (as a stream's audio arrives in
// network messages). 16 kHz input passes through exactly as sample / 32768.
class PcmStreamResampler {
 public:
  // Throws Error(kInvalidArgument) for a rate outside 8000..192000 Hz.
  explicit PcmStreamResampler(int input_rate);
  ~PcmStreamResampler();
  PcmStreamResampler(const PcmStreamResampler&) = delete;
  PcmStreamResampler& operator=(const PcmStreamResampler&) = delete;

  int input_rate() const { return input_rate_; }
  // Appends the 16 kHz samples that `pcm` (little-endian int16 samples) gives to `out`.
  void push(std::span<const std::int16_t> pcm, std::vector<float>& out);
  // Appends what the resampler still holds, and starts over.
  void flush(std::vector<float>& out);

 private:
  struct Impl;
  int input_rate_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot
