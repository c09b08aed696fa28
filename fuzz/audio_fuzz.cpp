// Audio decoding from memory (FFmpeg probing any container/codec it knows) with a small
// max_seconds, as the server decodes an upload with its max_audio_seconds.

#include <cstdint>
#include <span>

#include "earshot/audio.h"
#include "earshot/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  earshot::AudioDecodeOptions options;
  options.max_seconds = 4;
  try {
    const auto samples = earshot::decode_audio(std::span<const std::uint8_t>(data, size), options);
    // The limit holds whatever the container claims (a little slack for the last frame).
    if (samples.size() > static_cast<std::size_t>(5 * earshot::kSampleRate)) __builtin_trap();
    for (const float s : samples) {
      if (!(s >= -1.0f && s <= 1.0f)) __builtin_trap();
    }
  } catch (const earshot::Error&) {
    // Refused: not audio, or too long. The server answers 400/413.
  }
  return 0;
}
