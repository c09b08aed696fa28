#pragma once

// Whisper's clock: the sample rate the model hears, the mel frames it sees, and the
// conversions between frames, samples and seconds that every stage shares (audio.py's
// SAMPLE_RATE, HOP_LENGTH, N_FRAMES and the frame arithmetic of transcribe.py).

#include <cstdint>

namespace earshot::whisper {

inline constexpr int kSampleRate = 16000;
inline constexpr int kNFft = 400;
inline constexpr int kHopLength = 160;
inline constexpr int kNFreq = kNFft / 2 + 1;  // 201 frequency bins: a mel filter bank's width
inline constexpr int kChunkSamples = 480000;  // 30 s
inline constexpr int kChunkFrames = 3000;     // 30 s of mel frames
inline constexpr int kFramesPerSecond = kSampleRate / kHopLength;  // 100
// Mel frames per encoder position, and so per decoder timestamp step (0.02 s): 3000 frames
// over 1500 positions.
inline constexpr int kInputStride = 2;

// transcribe.py's float(frames * HOP_LENGTH / SAMPLE_RATE): the true quotient in double.
constexpr double frames_to_seconds(std::int64_t frames) {
  return static_cast<double>(frames * kHopLength) / kSampleRate;
}

constexpr double samples_to_seconds(std::int64_t samples) {
  return static_cast<double>(samples) / kSampleRate;
}

}  // namespace earshot::whisper
