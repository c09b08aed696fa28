#pragma once

// Long-form transcription as OpenAI's transcribe() does it (transcribe.py): 30 s windows
// starting at `seek`, each decoded with temperature fallback, split into segments at
// timestamp pairs, and `seek` advanced by what the window's timestamps say was consumed.

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "earshot/whisper.h"
#include "whisper/decoding/decoding.h"
#include "whisper/text/tokenizer.h"
#include "whisper/transcribe/window_segments.h"

namespace earshot::whisper {

// Observers of the long-form loop for tests and diagnostics.
struct LongFormHooks {
  // Called with the result kept for each window (after fallback), skipped windows included.
  std::function<void(int seek, const DecodingResult& result)> on_window;
  bool record_steps = false;  // fill DecodingResult::steps
};

// Runs the window loop over `content_frames` frames of audio. `window_mel(seek, frames)` returns
// the [n_mels x 3000] mel the decoder sees for the window at `seek` holding `frames` frames of
// audio (fewer than 3000 at the end of the audio or of a clip_timestamps range), padded; `source`
// encodes and decodes it. `language` is the resolved code. `encoded_mel`, when given, is the
// window `source` already holds (language detection's), so an identical first window is not
// encoded twice. Fills text, language, segments and the encode/decode timings; the caller sets
// duration, language_probability and the mel timing.
using WindowMel = std::function<std::vector<float>(int seek, int frames)>;
Transcription run_long_form(WindowLogitsSource& source, const Tokenizer& tokenizer, int n_text_ctx,
                            const TranscribeOptions& options, const std::string& language,
                            int content_frames, const WindowMel& window_mel,
                            const std::vector<float>* encoded_mel = nullptr,
                            const LongFormHooks& hooks = {});

// The same for a mel source that knows only the seek (windows end at the audio's end; no
// clip_timestamps ranges shorter than a window).
Transcription run_long_form(WindowLogitsSource& source, const Tokenizer& tokenizer, int n_text_ctx,
                            const TranscribeOptions& options, const std::string& language,
                            int content_frames,
                            const std::function<std::vector<float>(int seek)>& window_mel,
                            const std::vector<float>* encoded_mel = nullptr,
                            const LongFormHooks& hooks = {});

// earshot::transcribe() with observers (the public function passes none).
Transcription transcribe_samples(const Model& model, std::span<const float> samples,
                                 const TranscribeOptions& options, const LongFormHooks& hooks);

}  // namespace earshot::whisper
