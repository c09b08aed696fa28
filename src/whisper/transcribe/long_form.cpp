#include "whisper/transcribe/long_form.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "earshot/error.h"
#include "whisper/features/timeline.h"
#include "whisper/text/utf8_text.h"
#include "whisper/transcribe/word_timing.h"

namespace earshot::whisper {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// round(seconds * FRAMES_PER_SECOND), Python's round (halves to even).
int to_frames(double seconds) {
  return static_cast<int>(std::nearbyint(seconds * kFramesPerSecond));
}

// One window of the loop: where it starts and how much audio it holds.
struct WindowSpan {
  int seek = 0;            // its first frame
  int segment_size = 0;    // its frames of audio
  double time_offset = 0;  // seek, in seconds
  double end_time = 0;     // seek + 30 s, in seconds
  double duration = 0;     // segment_size, in seconds
};

// The options every window's decode shares, taken from the user's in this one place (a
// TranscribeOptions field that reaches the decoder is one line here); the prompt, the
// temperature and what depends on it are set per window and per attempt.
DecodingOptions window_decoding_options(const TranscribeOptions& options,
                                        const std::string& language,
                                        const std::vector<int>& prefix_tokens, bool record_steps) {
  DecodingOptions decoding;
  decoding.task = options.task;
  decoding.language = language;
  decoding.sample_len = options.sample_len;
  decoding.timestamps = options.timestamps;
  decoding.prefix = prefix_tokens;
  decoding.suppress_blank = options.suppress_blank;
  decoding.suppress_tokens = options.suppress_tokens;
  decoding.max_initial_timestamp = options.max_initial_timestamp;
  decoding.patience = options.patience;
  decoding.length_penalty = options.length_penalty;
  decoding.cancel = options.cancel;
  decoding.record_steps = record_steps;
  return decoding;
}

// The text the window is conditioned on: the tokens since the last reset, or with
// carry_initial_prompt the initial prompt followed by
// all_tokens[nignored:][-remaining_prompt_length:] (Python's [-0:] keeps everything).
std::vector<int> window_prompt(const std::vector<int>& all_tokens, std::size_t prompt_reset_since,
                               const std::vector<int>& initial_prompt_tokens,
                               int remaining_prompt_length, bool carry_initial_prompt) {
  if (!carry_initial_prompt) {
    return {all_tokens.begin() + static_cast<std::ptrdiff_t>(prompt_reset_since), all_tokens.end()};
  }
  const std::size_t ignored = std::max(initial_prompt_tokens.size(), prompt_reset_since);
  std::span<const int> remaining(all_tokens);
  remaining = remaining.subspan(std::min(ignored, remaining.size()));
  if (remaining_prompt_length > 0 &&
      remaining.size() > static_cast<std::size_t>(remaining_prompt_length)) {
    remaining = remaining.last(static_cast<std::size_t>(remaining_prompt_length));
  } else if (remaining_prompt_length < 0) {
    const auto drop = static_cast<std::size_t>(-remaining_prompt_length);
    remaining = remaining.subspan(std::min(drop, remaining.size()));
  }
  std::vector<int> prompt = initial_prompt_tokens;
  prompt.insert(prompt.end(), remaining.begin(), remaining.end());
  return prompt;
}

// transcribe.py's decode_with_fallback: the window decoded at each temperature in turn until
// a result passes the thresholds (needs_fallback); the last one otherwise. Beams at
// temperature 0, best_of at > 0. Adds the tokens each attempt decoded to `tokens_decoded`.
DecodingResult decode_with_fallback(DecodingOptions decoding, const TranscribeOptions& options,
                                    int seek, WindowLogitsSource& source,
                                    const Tokenizer& tokenizer, int n_text_ctx,
                                    int& tokens_decoded) {
  DecodingResult result;
  for (std::size_t attempt = 0; attempt < options.temperatures.size(); ++attempt) {
    decoding.temperature = options.temperatures[attempt];
    decoding.beam_size = decoding.temperature == 0.0f ? options.beam_size : 0;
    decoding.best_of = decoding.temperature > 0.0f ? std::max(1, options.best_of) : 1;
    // Sampling draws depend only on the seed, the window and the attempt: reruns are
    // reproducible.
    decoding.seed = options.seed * 0xD1B54A32D192ED03ull +
                    static_cast<std::uint64_t>(seek) * 0x9E3779B97F4A7C15ull + attempt;
    result = DecodingTask(tokenizer, n_text_ctx, decoding).run(source);
    tokens_decoded += static_cast<int>(result.tokens.size()) + (result.ended_with_eot ? 1 : 0);
    if (!needs_fallback(result, options)) {
      break;
    }
  }
  return result;
}

// The end of the last word of `segments`, if any has words.
std::optional<double> last_word_end(const std::vector<Segment>& segments) {
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    if (!it->words.empty()) {
      return it->words.back().end;
    }
  }
  return std::nullopt;
}

// The first segment with words from index `from` on, or nullptr.
const Segment* next_words_segment(const std::vector<Segment>& segments, std::size_t from) {
  for (std::size_t i = from; i < segments.size(); ++i) {
    if (!segments[i].words.empty()) {
      return &segments[i];
    }
  }
  return nullptr;
}

// transcribe.py's hallucination_silence_threshold, over a window with word timestamps: where
// the next window starts (`seek`), and which of `current` are dropped as hallucinations
// surrounded by silence. Returns true when the whole window is skipped (a first segment that
// may be a hallucination, after a silence longer than the threshold).
bool skip_hallucinations(std::vector<Segment>& current, const WindowSpan& window, double threshold,
                         bool single_timestamp_ending, double last_speech_timestamp,
                         int content_frames, int& seek) {
  if (!single_timestamp_ending) {
    if (const auto end = last_word_end(current); end && *end > window.time_offset) {
      seek =
          window.end_time - *end > threshold ? to_frames(*end) : window.seek + window.segment_size;
    }
  }
  // A first segment that may be a hallucination: skip the silence before it.
  const Segment* first = next_words_segment(current, 0);
  if (first != nullptr && is_segment_anomaly(first)) {
    const double gap = first->start - window.time_offset;
    if (gap > threshold) {
      seek = window.seek + to_frames(gap);
      return true;
    }
  }
  // A hallucination surrounded by silence or more hallucinations: drop it and what follows,
  // and go on from it.
  double hal_last_end = last_speech_timestamp;
  for (std::size_t si = 0; si < current.size(); ++si) {
    const Segment& segment = current[si];
    if (segment.words.empty()) {
      continue;
    }
    if (is_segment_anomaly(&segment)) {
      const Segment* next = next_words_segment(current, si + 1);
      const double hal_next_start =
          next != nullptr ? next->words.front().start : window.time_offset + window.duration;
      const bool silence_before = segment.start - hal_last_end > threshold ||
                                  segment.start < threshold ||
                                  segment.start - window.time_offset < 2.0;
      const bool silence_after = hal_next_start - segment.end > threshold ||
                                 is_segment_anomaly(next) || window.end_time - segment.end < 2.0;
      if (silence_before && silence_after) {
        seek = to_frames(std::max(window.time_offset + 1, segment.start));
        if (frames_to_seconds(content_frames) - segment.end < threshold) {
          seek = content_frames;
        }
        current.erase(current.begin() + static_cast<std::ptrdiff_t>(si), current.end());
        break;
      }
    }
    hal_last_end = segment.end;
  }
  return false;
}

}  // namespace

Transcription run_long_form(WindowLogitsSource& source, const Tokenizer& tokenizer, int n_text_ctx,
                            const TranscribeOptions& options, const std::string& language,
                            int content_frames, const WindowMel& window_mel,
                            const std::vector<float>* encoded_mel, const LongFormHooks& hooks) {
  if (options.temperatures.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "at least one temperature is needed");
  }
  for (const float t : options.temperatures) {
    if (!(t >= 0.0f)) {
      throw Error(ErrorCode::kInvalidArgument, "temperatures must be >= 0");
    }
  }
  Transcription out;
  out.language = language;
  const SpecialTokens& sp = tokenizer.special();

  std::vector<int> all_tokens;
  std::size_t prompt_reset_since = 0;
  std::vector<int> initial_prompt_tokens;
  // n_text_ctx // 2 - 1 tokens of prompt, of which carry_initial_prompt reserves the initial
  // prompt's.
  int remaining_prompt_length = n_text_ctx / 2 - 1;
  if (!options.initial_prompt.empty()) {
    // encode(" " + initial_prompt.strip()); built by append (GCC 12 warns falsely on +).
    std::string prompt_text = " ";
    prompt_text.append(strip_whitespace(options.initial_prompt));
    initial_prompt_tokens = tokenizer.encode(prompt_text);
    all_tokens = initial_prompt_tokens;
    remaining_prompt_length -= static_cast<int>(initial_prompt_tokens.size());
  }
  std::vector<int> prefix_tokens;
  if (!options.prefix.empty()) {
    std::string prefix_text = " ";
    prefix_text.append(strip_whitespace(options.prefix));
    prefix_tokens = tokenizer.encode(prefix_text);
  }
  const std::vector<int> sot_sequence = sp.start_sequence(language, options.task, true);

  const auto check_cancel = [&] {
    if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
      throw Error(ErrorCode::kCancelled, "transcription cancelled");
    }
  };
  const auto report_progress = [&](int seek) {
    if (options.on_progress && content_frames > 0) {
      options.on_progress(static_cast<double>(std::min(content_frames, seek)) / content_frames);
    }
  };
  // clip_timestamps: start,end pairs in seconds; an odd count ends at the audio's end.
  std::vector<int> seek_points;
  for (const double t : options.clip_timestamps) {
    seek_points.push_back(to_frames(t));
  }
  if (seek_points.empty()) {
    seek_points.push_back(0);
  }
  if (seek_points.size() % 2 == 1) {
    seek_points.push_back(content_frames);
  }
  const DecodingOptions base_decoding =
      window_decoding_options(options, language, prefix_tokens, hooks.record_steps);

  bool first_window = true;
  double last_speech_timestamp = 0.0;
  std::size_t clip = 0;
  int seek = seek_points[0];
  while (clip < seek_points.size() / 2) {
    const int clip_start = seek_points[2 * clip];
    const int clip_end = seek_points[2 * clip + 1];
    seek = std::max(seek, clip_start);
    if (seek >= clip_end) {
      ++clip;
      if (clip < seek_points.size() / 2) {
        seek = seek_points[2 * clip];
      }
      continue;
    }
    if (seek >= content_frames) {
      break;  // a clip past the audio (the reference would decode an empty window forever)
    }
    check_cancel();
    WindowSpan window;
    window.seek = seek;
    window.segment_size = std::min({kChunkFrames, content_frames - seek, clip_end - seek});
    window.time_offset = frames_to_seconds(seek);
    window.end_time = frames_to_seconds(seek + kChunkFrames);
    window.duration = frames_to_seconds(window.segment_size);
    const int segment_size = window.segment_size;
    const std::vector<float> mel = window_mel(seek, segment_size);
    if (!(first_window && encoded_mel != nullptr && *encoded_mel == mel)) {
      const auto t0 = Clock::now();
      source.set_window(mel);
      out.timings.encode_ms += ms_since(t0);
    }
    first_window = false;

    DecodingOptions decoding = base_decoding;
    decoding.prompt = window_prompt(all_tokens, prompt_reset_since, initial_prompt_tokens,
                                    remaining_prompt_length, options.carry_initial_prompt);
    const auto t0 = Clock::now();
    const DecodingResult result =
        decode_with_fallback(std::move(decoding), options, seek, source, tokenizer, n_text_ctx,
                             out.timings.tokens_decoded);
    out.timings.decode_ms += ms_since(t0);
    if (hooks.on_window) {
      hooks.on_window(seek, result);
    }

    if (is_silent_window(result, options)) {
      seek += segment_size;
      report_progress(seek);
      continue;
    }

    WindowSegments segmented =
        segment_window(result, tokenizer, seek, segment_size, /*clear_empty=*/false);
    std::vector<Segment>& current = segmented.segments;
    // Only a pair of <|0.00|> tokens (possible when timestamps are off and the model emits
    // them anyway) can keep seek in place; the reference would loop forever there.
    seek = segmented.next_seek > seek ? segmented.next_seek : seek + segment_size;
    const std::size_t n = result.tokens.size();
    const bool single_timestamp_ending =
        n >= 2 && !sp.is_timestamp(result.tokens[n - 2]) && sp.is_timestamp(result.tokens[n - 1]);

    if (options.word_timestamps) {
      const auto ta = Clock::now();
      add_word_timestamps(current, source, tokenizer, sot_sequence, segment_size, options, language,
                          last_speech_timestamp);
      out.timings.decode_ms += ms_since(ta);
      if (!single_timestamp_ending) {
        if (const auto end = last_word_end(current); end && *end > window.time_offset) {
          seek = to_frames(*end);
        }
      }
      const bool skip_window =
          options.hallucination_silence_threshold &&
          skip_hallucinations(current, window, as_decimal(*options.hallucination_silence_threshold),
                              single_timestamp_ending, last_speech_timestamp, content_frames, seek);
      if (skip_window) {
        report_progress(seek);
        continue;
      }
      if (const auto end = last_word_end(current)) {
        last_speech_timestamp = *end;
      }
    }

    for (Segment& s : current) {
      clear_if_empty(s);
      s.id = static_cast<int>(out.segments.size());
      all_tokens.insert(all_tokens.end(), s.tokens.begin(), s.tokens.end());
      out.segments.push_back(std::move(s));
      if (options.on_segment) {
        options.on_segment(out.segments.back());
      }
    }
    // A prompt from text sampled at a high temperature would steer the next window wrong.
    if (!options.condition_on_previous_text || result.temperature > 0.5f) {
      prompt_reset_since = all_tokens.size();
    }
    report_progress(seek);
  }

  out.text = tokenizer.decode(
      std::span(all_tokens).subspan(std::min(initial_prompt_tokens.size(), all_tokens.size())));
  return out;
}

Transcription run_long_form(WindowLogitsSource& source, const Tokenizer& tokenizer, int n_text_ctx,
                            const TranscribeOptions& options, const std::string& language,
                            int content_frames,
                            const std::function<std::vector<float>(int seek)>& window_mel,
                            const std::vector<float>* encoded_mel, const LongFormHooks& hooks) {
  return run_long_form(source, tokenizer, n_text_ctx, options, language, content_frames,
                       WindowMel([&](int seek, int /*frames*/) { return window_mel(seek); }),
                       encoded_mel, hooks);
}

}  // namespace earshot::whisper
