#pragma once

// Speech segments from Silero VAD's per-chunk probabilities, by the rules of Silero's own
// get_speech_timestamps (silero_vad/utils_vad.py): speech starts at the first chunk at or
// above `threshold`, ends where the probability stays below `neg_threshold` for
// `min_silence_ms`; segments shorter than `min_speech_ms` are dropped, segments longer
// than `max_speech_s` are split at the last pause of at least 98 ms (else cut), and each is
// padded by `speech_pad_ms` on both sides (half the gap each when two are closer than twice
// the padding). All in samples of 16 kHz audio.

#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "whisper/features/vad.h"

namespace earshot::whisper::silero {

struct SpeechTimestampOptions {
  double threshold = 0.5;         // speech starts at a probability at or above this
  double neg_threshold = -1.0;    // and ends below this; < 0: max(threshold - 0.15, 0.01)
  double min_speech_ms = 250.0;   // shorter segments are dropped
  double min_silence_ms = 100.0;  // a pause this long ends a segment
  double speech_pad_ms = 30.0;    // added on both sides of each segment
  double max_speech_s = std::numeric_limits<double>::infinity();  // longer ones are split

  double effective_neg_threshold() const;
};

// Segments of a recording of `total_samples` samples whose chunk probabilities (one per
// kChunkSamples samples, from the start) are `probabilities`. Sorted, disjoint, within
// [0, total_samples).
std::vector<SpeechRange> speech_timestamps(std::span<const float> probabilities,
                                           std::size_t total_samples,
                                           const SpeechTimestampOptions& options = {});

}  // namespace earshot::whisper::silero
