#include "whisper/transcribe/long_form.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>

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
  // round(seconds * FRAMES_PER_SECOND), Python's round (halves to even).
  const auto to_frames = [](double seconds) {
    return static_cast<int>(std::nearbyint(seconds * kFramesPerSecond));
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
  const double content_duration = frames_to_seconds(content_frames);

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
    const double time_offset = frames_to_seconds(seek);
    const double window_end_time = frames_to_seconds(seek + kChunkFrames);
    const int segment_size = std::min({kChunkFrames, content_frames - seek, clip_end - seek});
    const double segment_duration = frames_to_seconds(segment_size);
    const std::vector<float> mel = window_mel(seek, segment_size);
    if (!(first_window && encoded_mel != nullptr && *encoded_mel == mel)) {
      const auto t0 = Clock::now();
      source.set_window(mel);
      out.timings.encode_ms += ms_since(t0);
    }
    first_window = false;

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
    if (options.carry_initial_prompt) {
      const std::size_t ignored = std::max(initial_prompt_tokens.size(), prompt_reset_since);
      std::span<const int> remaining(all_tokens);
      remaining = remaining.subspan(std::min(ignored, remaining.size()));
      // all_tokens[nignored:][-remaining_prompt_length:]; Python's [-0:] keeps everything.
      if (remaining_prompt_length > 0 &&
          remaining.size() > static_cast<std::size_t>(remaining_prompt_length)) {
        remaining = remaining.last(static_cast<std::size_t>(remaining_prompt_length));
      } else if (remaining_prompt_length < 0) {
        const auto drop = static_cast<std::size_t>(-remaining_prompt_length);
        remaining = remaining.subspan(std::min(drop, remaining.size()));
      }
      decoding.prompt = initial_prompt_tokens;
      decoding.prompt.insert(decoding.prompt.end(), remaining.begin(), remaining.end());
    } else {
      decoding.prompt.assign(all_tokens.begin() + static_cast<std::ptrdiff_t>(prompt_reset_since),
                             all_tokens.end());
    }
    decoding.cancel = options.cancel;
    decoding.record_steps = hooks.record_steps;

    DecodingResult result;
    const auto t0 = Clock::now();
    for (std::size_t attempt = 0; attempt < options.temperatures.size(); ++attempt) {
      decoding.temperature = options.temperatures[attempt];
      // Beams at temperature 0, best_of at > 0 (transcribe.py's decode_with_fallback).
      decoding.beam_size = decoding.temperature == 0.0f ? options.beam_size : 0;
      decoding.best_of = decoding.temperature > 0.0f ? std::max(1, options.best_of) : 1;
      // Sampling draws depend only on the seed, the window and the attempt: reruns are
      // reproducible.
      decoding.seed = options.seed * 0xD1B54A32D192ED03ull +
                      static_cast<std::uint64_t>(seek) * 0x9E3779B97F4A7C15ull + attempt;
      result = DecodingTask(tokenizer, n_text_ctx, decoding).run(source);
      out.timings.tokens_decoded +=
          static_cast<int>(result.tokens.size()) + (result.ended_with_eot ? 1 : 0);
      if (!needs_fallback(result, options)) {
        break;
      }
    }
    out.timings.decode_ms += ms_since(t0);
    if (hooks.on_window) {
      hooks.on_window(seek, result);
    }

    if (is_silent_window(result, options)) {
      seek += segment_size;
      report_progress(seek);
      continue;
    }

    const int previous_seek = seek;
    WindowSegments window =
        segment_window(result, tokenizer, seek, segment_size, /*clear_empty=*/false);
    std::vector<Segment>& current = window.segments;
    // Only a pair of <|0.00|> tokens (possible when timestamps are off and the model emits
    // them anyway) can keep seek in place; the reference would loop forever there.
    seek = window.next_seek > seek ? window.next_seek : seek + segment_size;
    const std::size_t n = result.tokens.size();
    const bool single_timestamp_ending =
        n >= 2 && !sp.is_timestamp(result.tokens[n - 2]) && sp.is_timestamp(result.tokens[n - 1]);

    if (options.word_timestamps) {
      const auto ta = Clock::now();
      add_word_timestamps(current, source, tokenizer, sot_sequence, segment_size, options, language,
                          last_speech_timestamp);
      out.timings.decode_ms += ms_since(ta);
      const auto last_word_end = [&]() -> std::optional<double> {
        for (auto it = current.rbegin(); it != current.rend(); ++it) {
          if (!it->words.empty()) {
            return it->words.back().end;
          }
        }
        return std::nullopt;
      };
      if (!single_timestamp_ending) {
        if (const auto end = last_word_end(); end && *end > time_offset) {
          seek = to_frames(*end);
        }
      }
      bool skip_window = false;
      if (options.hallucination_silence_threshold) {
        const double threshold = as_decimal(*options.hallucination_silence_threshold);
        if (!single_timestamp_ending) {
          if (const auto end = last_word_end(); end && *end > time_offset) {
            seek =
                window_end_time - *end > threshold ? to_frames(*end) : previous_seek + segment_size;
          }
        }
        const auto next_words_segment = [&](std::size_t from) -> const Segment* {
          for (std::size_t i = from; i < current.size(); ++i) {
            if (!current[i].words.empty()) {
              return &current[i];
            }
          }
          return nullptr;
        };
        // A first segment that may be a hallucination: skip the silence before it.
        const Segment* first = next_words_segment(0);
        if (first != nullptr && is_segment_anomaly(first)) {
          const double gap = first->start - time_offset;
          if (gap > threshold) {
            seek = previous_seek + to_frames(gap);
            skip_window = true;
          }
        }
        // A hallucination surrounded by silence or more hallucinations: drop it and what
        // follows, and go on from it.
        double hal_last_end = last_speech_timestamp;
        for (std::size_t si = 0; !skip_window && si < current.size(); ++si) {
          const Segment& segment = current[si];
          if (segment.words.empty()) {
            continue;
          }
          if (is_segment_anomaly(&segment)) {
            const Segment* next = next_words_segment(si + 1);
            const double hal_next_start =
                next != nullptr ? next->words.front().start : time_offset + segment_duration;
            const bool silence_before = segment.start - hal_last_end > threshold ||
                                        segment.start < threshold ||
                                        segment.start - time_offset < 2.0;
            const bool silence_after = hal_next_start - segment.end > threshold ||
                                       is_segment_anomaly(next) ||
                                       window_end_time - segment.end < 2.0;
            if (silence_before && silence_after) {
              seek = to_frames(std::max(time_offset + 1, segment.start));
              if (content_duration - segment.end < threshold) {
                seek = content_frames;
              }
              current.erase(current.begin() + static_cast<std::ptrdiff_t>(si), current.end());
              break;
            }
          }
          hal_last_end = segment.end;
        }
      }
      if (skip_window) {
        report_progress(seek);
        continue;
      }
      if (const auto end = last_word_end()) {
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
