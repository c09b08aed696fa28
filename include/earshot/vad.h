#pragma once

// earshot's voice-activity API: Silero VAD (v5/v6, its official ONNX file) run by earshot's
// own kernels, for finished recordings and for live streams.

#include <cstddef>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace earshot {

// The loaded network: immutable, shared by every detector.
class VadModel;

// Reads a Silero VAD ONNX file. Throws Error(kIo) when it cannot be read, Error(kModelFormat)
// when it is not a Silero VAD with a 16 kHz network.
std::shared_ptr<const VadModel> load_vad_model(const std::filesystem::path& path);

// Samples per probability: one per 32 ms of 16 kHz audio.
inline constexpr std::size_t kVadChunkSamples = 512;

// How probabilities become speech segments (Silero's get_speech_timestamps rules).
struct VadOptions {
  double threshold = 0.5;         // speech starts at a chunk probability at or above this
  double neg_threshold = -1.0;    // and ends below this; < 0 = max(threshold - 0.15, 0.01)
  double min_speech_ms = 250.0;   // shorter segments are dropped
  double min_silence_ms = 100.0;  // a pause this long ends a segment
  double speech_pad_ms = 30.0;    // kept on both sides of each segment
  double max_speech_s = std::numeric_limits<double>::infinity();  // longer ones are split at
                                                                  // a pause (else cut)
};

// The options transcription uses when it drops silence with Silero (faster-whisper's
// vad_filter defaults: long pauses only, generous padding, so that no word is clipped).
inline VadOptions transcription_vad_options() {
  VadOptions o;
  o.min_speech_ms = 0.0;
  o.min_silence_ms = 2000.0;
  o.speech_pad_ms = 400.0;
  return o;
}

struct SpeechSegment {
  std::size_t start_sample = 0;  // first sample of speech
  std::size_t end_sample = 0;    // one past the last
  double start = 0;              // the same in seconds
  double end = 0;
};

struct VadResult {
  std::vector<float> probabilities;  // one per kVadChunkSamples samples (the last padded)
  std::vector<SpeechSegment> segments;
};

// Speech in 16 kHz mono samples. Thread-safe for concurrent calls sharing one model.
VadResult detect_speech(const VadModel& model, std::span<const float> samples,
                        const VadOptions& options = {});

// One live stream's detector: feed samples as they arrive, read each chunk's probability.
class VadStream {
 public:
  explicit VadStream(std::shared_ptr<const VadModel> model);
  ~VadStream();
  VadStream(VadStream&&) noexcept;
  VadStream& operator=(VadStream&&) noexcept;

  // Appends samples; returns the probabilities of the chunks they completed, in order
  // (samples short of a chunk wait for the next call).
  std::vector<float> push(std::span<const float> samples);
  // Chunks completed so far.
  std::size_t chunks() const;
  // Forgets everything: a new stream.
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot
