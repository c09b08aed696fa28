#pragma once

// earshot::VadModel's definition, and the speech ranges the engine's transcription drops
// silence with.

#include <memory>
#include <span>
#include <vector>

#include "earshot/vad.h"
#include "whisper/features/silero/silero_model.h"
#include "whisper/features/vad.h"

namespace earshot {

inline constexpr double kSampleRateHz = whisper::silero::kSampleRate;

class VadModel {
 public:
  std::shared_ptr<const whisper::silero::SileroModel> network;
};

// Silero's speech segments of `samples` as ranges; their probabilities too when asked.
// Throws Error(kInvalidArgument) on options out of range.
std::vector<whisper::SpeechRange> speech_ranges(const VadModel& model,
                                                std::span<const float> samples,
                                                const VadOptions& options,
                                                std::vector<float>* probabilities = nullptr);

}  // namespace earshot
