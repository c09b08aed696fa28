// The public engine entry points of earshot/whisper.h: transcribe() and detect_language().

#include <algorithm>
#include <chrono>
#include <thread>

#include "earshot/error.h"
#include "earshot/whisper.h"
#include "whisper/decoding/decoding.h"
#include "whisper/engine/state_logits_source.h"
#include "whisper/engine/vad_model.h"
#include "whisper/features/log_mel.h"
#include "whisper/features/vad.h"
#include "whisper/model/alignment_heads.h"
#include "whisper/model/model.h"
#include "whisper/network/state.h"
#include "whisper/network/state_pool.h"
#include "whisper/network/step_batcher.h"
#include "whisper/text/tokenizer.h"
#include "whisper/transcribe/long_form.h"

namespace earshot {

namespace {

int resolve_threads(int threads) {
  if (threads > 0) {
    return threads;
  }
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The first 3000 frames of a mel (pad_or_trim(mel, N_FRAMES) over the whole-file mel).
std::vector<float> first_frames(const whisper::LogMel& mel) {
  return whisper::window_mel(mel, 0, mel.n_frames).data;
}

}  // namespace

namespace whisper {

Transcription transcribe_samples(const Model& model, std::span<const float> samples,
                                 const TranscribeOptions& options, const LongFormHooks& hooks) {
  const whisper::Tokenizer& tokenizer = whisper::tokenizer_of(model);
  const whisper::SpecialTokens& sp = tokenizer.special();
  const int threads = resolve_threads(options.threads);

  std::string language;
  const bool detect = options.language.empty() || options.language == "auto";
  if (!detect) {
    const auto code = whisper::find_language_code(options.language);
    if (!code || (sp.multilingual && !sp.language_token(*code))) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown language '" + options.language + "' for this model");
    }
    language = *code;
  }
  if (!sp.multilingual) {
    language = "en";  // English-only models have no language token to choose
  }

  // Whole-file log-mel with 30 s of zeros appended (README B1): the clamp floor comes from
  // the whole file, and every window is cut from this one array.
  auto t0 = Clock::now();
  const whisper::LogMel mel =
      whisper::long_form_log_mel(samples, model.mel_filters(), model.dims().n_mels, threads);
  const double mel_ms = ms_since(t0);
  const int content_frames = mel.n_frames - whisper::kChunkFrames;

  whisper::StatePool::Lease state = whisper::state_pool_of(model).acquire(
      model, threads, options.batch_steps ? &whisper::step_batcher_of(model) : nullptr);
  whisper::StateLogitsSource source(*state, options.word_timestamps
                                                ? whisper::alignment_heads(model.dims())
                                                : whisper::AlignmentHeads{});
  double language_probability = 1.0;
  std::vector<float> detection_mel;
  double detect_encode_ms = 0;
  double detect_decode_ms = 0;
  if (detect && sp.multilingual) {
    // Detected on the first 30 s of the whole-file mel, as transcribe() does.
    detection_mel = first_frames(mel);
    t0 = Clock::now();
    source.set_window(detection_mel);
    detect_encode_ms = ms_since(t0);
    t0 = Clock::now();
    const auto probs = whisper::language_probabilities(source, sp);
    detect_decode_ms = ms_since(t0);
    language = probs.front().code;
    language_probability = probs.front().probability;
  }

  Transcription out =
      whisper::run_long_form(source, tokenizer, model.dims().n_text_ctx, options, language,
                             content_frames, whisper::WindowMel([&](int seek, int frames) {
                               return whisper::window_mel(mel, seek, seek + frames).data;
                             }),
                             detection_mel.empty() ? nullptr : &detection_mel, hooks);
  out.language = language;
  out.language_probability = language_probability;
  out.duration = whisper::samples_to_seconds(static_cast<std::int64_t>(samples.size()));
  out.timings.mel_ms = mel_ms;
  out.timings.encode_ms += detect_encode_ms;
  out.timings.decode_ms += detect_decode_ms;
  if (options.on_progress && content_frames <= 0) {
    options.on_progress(1.0);
  }
  state.done();
  return out;
}

}  // namespace whisper

Transcription transcribe(const Model& model, std::span<const float> samples,
                         const TranscribeOptions& options) {
  if (!options.vad) {
    return whisper::transcribe_samples(model, samples, options, {});
  }
  // Decode only the speech, joined; then put every time back on the original timeline.
  const auto ranges = options.vad_model != nullptr
                          ? speech_ranges(*options.vad_model, samples, options.vad_options)
                          : whisper::detect_speech(samples);
  const char* detector = options.vad_model != nullptr ? "silero" : "energy";
  const whisper::VadTimeline timeline(ranges, whisper::kSampleRate);
  const std::vector<float> speech = whisper::VadTimeline::join(samples, ranges);
  TranscribeOptions inner = options;
  inner.vad = false;
  // clip_timestamps name original times, which the joined audio does not have: ranges other
  // than the whole file ("0", the reference command's default) turn VAD off.
  const auto& clips = options.clip_timestamps;
  if (!clips.empty() && !(clips.size() == 1 && clips[0] <= 0.0)) {
    return whisper::transcribe_samples(model, samples, inner, {});
  }
  const auto on_segment = options.on_segment;
  const auto remap = [&timeline](Segment& s) {
    s.start = timeline.to_original(s.start);
    s.end = std::max(s.start, timeline.to_original(s.end));
    for (Word& w : s.words) {
      w.start = timeline.to_original(w.start);
      w.end = std::max(w.start, timeline.to_original(w.end));
    }
  };
  if (on_segment) {
    inner.on_segment = [&](const Segment& s) {
      Segment mapped = s;
      remap(mapped);
      on_segment(mapped);
    };
  }
  Transcription out = whisper::transcribe_samples(model, speech, inner, {});
  for (Segment& s : out.segments) {
    remap(s);
  }
  out.vad = detector;
  out.duration = whisper::samples_to_seconds(static_cast<std::int64_t>(samples.size()));
  return out;
}

std::vector<LanguageProbability> detect_language(const Model& model, std::span<const float> samples,
                                                 int threads) {
  if (!model.multilingual()) {
    throw Error(ErrorCode::kInvalidArgument, "an English-only model cannot detect languages");
  }
  threads = resolve_threads(threads);
  const auto sp = whisper::SpecialTokens::for_vocab_size(model.dims().n_vocab);
  // model.detect_language(log_mel_spectrogram(pad_or_trim(audio))): the first 30 s alone.
  const whisper::LogMel mel =
      whisper::single_window_log_mel(samples, model.mel_filters(), model.dims().n_mels, threads);
  whisper::StatePool::Lease state = whisper::state_pool_of(model).acquire(model, threads, nullptr);
  state->encode(mel.data);
  whisper::StateLogitsSource source(*state);
  std::vector<LanguageProbability> probabilities = whisper::language_probabilities(source, sp);
  state.done();
  return probabilities;
}

}  // namespace earshot
