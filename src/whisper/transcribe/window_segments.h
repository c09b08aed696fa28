#pragma once

// What transcribe() makes of one decoded window (transcribe.py): its segments, where the next
// window starts, and the fallback and silence decisions.

#include <vector>

#include "earshot/whisper.h"
#include "whisper/decoding/decoding.h"
#include "whisper/text/tokenizer.h"

namespace earshot::whisper {

// A window's segments and where the next window starts (conformance README B9).
struct WindowSegments {
  std::vector<Segment> segments;  // ids not yet assigned; cleared ones have empty text/tokens
  int next_seek = 0;
};

// Splits one window's decoded tokens into segments. `seek`: the window's first mel frame;
// `segment_size`: its frames of real audio (min(3000, content_frames - seek)).
// With `clear_empty` false, segments to be cleared keep their text and tokens (word timestamps
// align them first); clear_if_empty() clears them afterwards.
WindowSegments segment_window(const DecodingResult& result, const Tokenizer& tokenizer, int seek,
                              int segment_size, bool clear_empty = true);

// An instantaneous segment or one without text keeps its times but nothing else.
void clear_if_empty(Segment& segment);

// The double the user meant by a float option (2.4f is 2.4000000953..., the reference compares
// against the double 2.4): the float's shortest decimal, read back as a double.
double as_decimal(float value);

// Whether a decode should be retried at the next temperature, and whether a window is silence
// to be skipped, under `options`' thresholds.
bool needs_fallback(const DecodingResult& result, const TranscribeOptions& options);
bool is_silent_window(const DecodingResult& result, const TranscribeOptions& options);

}  // namespace earshot::whisper
