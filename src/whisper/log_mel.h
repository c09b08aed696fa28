#pragma once

#include <span>
#include <vector>

namespace earshot::whisper {

// Whisper's audio front end (whisper-notes.md section 4).
inline constexpr int kNFft = 400;
inline constexpr int kHopLength = 160;
inline constexpr int kNFreq = kNFft / 2 + 1;  // 201
inline constexpr int kChunkSamples = 480000;  // 30 s at 16 kHz
inline constexpr int kChunkFrames = 3000;

// A log-mel spectrogram, band-major: data[band * n_frames + frame].
struct LogMel {
  int n_mels = 0;
  int n_frames = 0;
  std::vector<float> data;
};

// log_mel_spectrogram() as OpenAI computes it: reflect-padded centred STFT of the samples
// (exactly as given: callers pad), |X|^2, last frame dropped, mel filters
// (n_mels x 201, band-major), log10(max(x, 1e-10)), floor at global max - 8, (x + 4) / 4.
LogMel compute_log_mel(std::span<const float> samples, std::span<const float> filters, int n_mels,
                       int threads = 1);

}  // namespace earshot::whisper
