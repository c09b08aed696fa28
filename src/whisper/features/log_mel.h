#pragma once

#include <span>
#include <vector>

#include "whisper/features/timeline.h"

namespace earshot::whisper {

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

// What a single-window decode() sees: the samples zero-padded or cut to 30 s, then
// compute_log_mel (digital silence after the audio, floored at the window's max - 8).
LogMel single_window_log_mel(std::span<const float> samples, std::span<const float> filters,
                             int n_mels, int threads = 1);

// What long-form transcribe() slides over: the log-mel of the whole audio with 30 s of zero
// samples appended, floored at the maximum over the whole file (conformance README B1).
LogMel long_form_log_mel(std::span<const float> samples, std::span<const float> filters, int n_mels,
                         int threads = 1);

// One transcribe() window of a long_form_log_mel: frames [seek, seek + min(3000,
// content_frames - seek)) followed by 0.0 (the normalised log-mel value, not silence) up to
// 3000 frames. content_frames = samples / 160, i.e. without the appended 30 s.
LogMel window_mel(const LogMel& whole, int seek, int content_frames);

}  // namespace earshot::whisper
