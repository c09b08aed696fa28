#pragma once

// An energy-based voice activity detector of our own (no model weights): frames whose level
// stands clearly above the recording's noise floor are speech; short pauses stay, long
// silences go. transcribe(vad = true) decodes only the speech, joined, and maps every time
// back to the original audio.

#include <span>
#include <vector>

namespace earshot::whisper {

struct VadParams {
  double frame_seconds = 0.02;       // analysis frame (and hop)
  double floor_percentile = 0.10;    // the noise floor: this quantile of frame levels
  double above_floor_db = 12.0;      // speech: at least this far above the floor ...
  double below_peak_db = 50.0;       // ... and no further than this below the loudest frame
  double absolute_floor_db = -70.0;  // never speech below this level (dBFS)
  double min_silence_seconds = 1.0;  // shorter pauses are kept as part of the speech
  double pad_seconds = 0.25;         // kept on both sides of each speech region
  double min_speech_seconds = 0.1;   // shorter bursts (clicks) are dropped
};

// A kept stretch of audio, in samples.
struct SpeechRange {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Speech regions of 16 kHz mono samples, sorted and disjoint; empty when nothing is speech.
std::vector<SpeechRange> detect_speech(std::span<const float> samples,
                                       const VadParams& params = {});

// Where the joined speech came from: piece i of the joined audio starts at joined_start and
// was original_start in the original audio, both in seconds.
class VadTimeline {
 public:
  VadTimeline(std::span<const SpeechRange> ranges, double sample_rate);
  // A time in the joined audio -> the same instant in the original audio.
  double to_original(double joined_seconds) const;
  // The joined speech samples.
  static std::vector<float> join(std::span<const float> samples,
                                 std::span<const SpeechRange> ranges);

 private:
  struct Piece {
    double joined_start;
    double original_start;
    double length;
  };
  std::vector<Piece> pieces_;
};

}  // namespace earshot::whisper
