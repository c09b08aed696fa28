#include "whisper/features/silero/speech_timestamps.h"

#include <algorithm>
#include <cmath>

#include "whisper/features/silero/silero_model.h"

namespace earshot::whisper::silero {
namespace {

// The pause at which an over-long segment may be split (utils_vad.py's
// min_silence_at_max_speech).
constexpr double kMinSilenceAtMaxSpeechMs = 98.0;

}  // namespace

double SpeechTimestampOptions::effective_neg_threshold() const {
  return neg_threshold >= 0.0 ? neg_threshold : std::max(threshold - 0.15, 0.01);
}

std::vector<SpeechRange> speech_timestamps(std::span<const float> probabilities,
                                           std::size_t total_samples,
                                           const SpeechTimestampOptions& options) {
  const double rate = kSampleRate;
  const double window = kChunkSamples;
  const double min_speech = rate * options.min_speech_ms / 1000.0;
  const double pad = rate * options.speech_pad_ms / 1000.0;
  const double max_speech = rate * options.max_speech_s - window - 2.0 * pad;
  const double min_silence = rate * options.min_silence_ms / 1000.0;
  const double min_silence_at_max = rate * kMinSilenceAtMaxSpeechMs / 1000.0;
  const double threshold = options.threshold;
  const double neg_threshold = options.effective_neg_threshold();

  // Sample positions as utils_vad.py keeps them (signed: its arithmetic is Python ints).
  struct Segment {
    long long start = 0;
    long long end = 0;
  };
  std::vector<Segment> speeches;
  bool triggered = false;
  Segment current;
  bool has_current = false;
  long long temp_end = 0;
  long long prev_end = 0;
  long long next_start = 0;

  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    const double p = probabilities[i];
    const long long at = static_cast<long long>(i) * kChunkSamples;
    if (p >= threshold && temp_end != 0) {
      temp_end = 0;
      if (next_start < prev_end) next_start = at;
    }
    if (p >= threshold && !triggered) {
      triggered = true;
      current.start = at;
      has_current = true;
      continue;
    }
    if (triggered && static_cast<double>(at - current.start) > max_speech) {
      if (prev_end != 0) {
        current.end = prev_end;
        speeches.push_back(current);
        has_current = false;
        if (next_start < prev_end) {
          triggered = false;
        } else {
          current.start = next_start;
          has_current = true;
        }
        prev_end = next_start = temp_end = 0;
      } else {
        current.end = at;
        speeches.push_back(current);
        has_current = false;
        prev_end = next_start = temp_end = 0;
        triggered = false;
        continue;
      }
    }
    if (p < neg_threshold && triggered) {
      if (temp_end == 0) temp_end = at;
      if (static_cast<double>(at - temp_end) > min_silence_at_max) prev_end = temp_end;
      if (static_cast<double>(at - temp_end) < min_silence) continue;
      current.end = temp_end;
      if (static_cast<double>(current.end - current.start) > min_speech)
        speeches.push_back(current);
      has_current = false;
      prev_end = next_start = temp_end = 0;
      triggered = false;
    }
  }
  const auto length = static_cast<long long>(total_samples);
  if (has_current && static_cast<double>(length - current.start) > min_speech) {
    current.end = length;
    speeches.push_back(current);
  }

  for (std::size_t i = 0; i < speeches.size(); ++i) {
    Segment& s = speeches[i];
    if (i == 0) s.start = static_cast<long long>(std::max(0.0, static_cast<double>(s.start) - pad));
    if (i + 1 < speeches.size()) {
      Segment& next = speeches[i + 1];
      const long long silence = next.start - s.end;
      if (static_cast<double>(silence) < 2.0 * pad) {
        s.end += silence / 2;
        next.start = std::max(0LL, next.start - silence / 2);
      } else {
        s.end = static_cast<long long>(
            std::min(static_cast<double>(length), static_cast<double>(s.end) + pad));
        next.start = static_cast<long long>(std::max(0.0, static_cast<double>(next.start) - pad));
      }
    } else {
      s.end = static_cast<long long>(
          std::min(static_cast<double>(length), static_cast<double>(s.end) + pad));
    }
  }

  std::vector<SpeechRange> out;
  out.reserve(speeches.size());
  for (const auto& s : speeches) {
    const auto begin = static_cast<std::size_t>(std::clamp(s.start, 0LL, length));
    const auto end = static_cast<std::size_t>(std::clamp(s.end, 0LL, length));
    if (end > begin) out.push_back({begin, end});
  }
  return out;
}

}  // namespace earshot::whisper::silero
