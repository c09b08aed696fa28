#include "whisper/transcribe/window_segments.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "whisper/features/timeline.h"
#include "whisper/text/utf8_text.h"

namespace earshot::whisper {

double as_decimal(float value) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf - 1, value);
  *res.ptr = '\0';
  return std::strtod(buf, nullptr);
}

void clear_if_empty(Segment& segment) {
  if (segment.start == segment.end || strip_whitespace(segment.text).empty()) {
    segment.text.clear();
    segment.tokens.clear();
    segment.words.clear();
  }
}

WindowSegments segment_window(const DecodingResult& result, const Tokenizer& tokenizer, int seek,
                              int segment_size, bool clear_empty) {
  const SpecialTokens& sp = tokenizer.special();
  const std::vector<int>& tokens = result.tokens;
  const std::size_t n = tokens.size();
  const auto is_ts = [&](std::size_t i) { return tokens[i] >= sp.timestamp_begin; };
  const double time_offset = frames_to_seconds(seek);
  const double time_precision = frames_to_seconds(kInputStride);  // 0.02 s

  WindowSegments out;
  const auto add_segment = [&](double start, double end, std::span<const int> seg_tokens) {
    Segment s;
    s.seek = seek;
    s.start = start;
    s.end = end;
    std::vector<int> text_tokens;
    for (const int t : seg_tokens) {
      if (t < sp.eot) {
        text_tokens.push_back(t);
      }
    }
    s.text = tokenizer.decode(text_tokens);
    s.tokens.assign(seg_tokens.begin(), seg_tokens.end());
    s.temperature = result.temperature;
    s.avg_logprob = result.avg_logprob;
    s.compression_ratio = result.compression_ratio;
    s.no_speech_prob = result.no_speech_prob;
    if (clear_empty) {
      clear_if_empty(s);
    }
    out.segments.push_back(std::move(s));
  };

  const bool single_timestamp_ending = n >= 2 && !is_ts(n - 2) && is_ts(n - 1);
  std::vector<std::size_t> slices;  // ends of segments: after each pair's first timestamp
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (is_ts(i) && is_ts(i + 1)) {
      slices.push_back(i + 1);
    }
  }

  if (!slices.empty()) {
    if (single_timestamp_ending) {
      slices.push_back(n);
    }
    std::size_t last_slice = 0;
    for (const std::size_t current : slices) {
      const std::span<const int> piece =
          std::span(tokens).subspan(last_slice, current - last_slice);
      add_segment(time_offset + (piece.front() - sp.timestamp_begin) * time_precision,
                  time_offset + (piece.back() - sp.timestamp_begin) * time_precision, piece);
      last_slice = current;
    }
    if (single_timestamp_ending) {
      // A lone timestamp after text: nothing was said after it in this window.
      out.next_seek = seek + segment_size;
    } else {
      // The text after the last pair is unfinished: drop it and restart at that timestamp.
      out.next_seek = seek + (tokens[last_slice - 1] - sp.timestamp_begin) * kInputStride;
    }
  } else {
    double duration = frames_to_seconds(segment_size);
    const auto last_ts = std::find_if(tokens.rbegin(), tokens.rend(),
                                      [&](int t) { return t >= sp.timestamp_begin; });
    if (last_ts != tokens.rend() && *last_ts != sp.timestamp_begin) {
      duration = (*last_ts - sp.timestamp_begin) * time_precision;
    }
    add_segment(time_offset, time_offset + duration, tokens);
    out.next_seek = seek + segment_size;
  }
  return out;
}

bool needs_fallback(const DecodingResult& result, const TranscribeOptions& options) {
  const double logprob_threshold = as_decimal(options.logprob_threshold);
  bool retry = false;
  if (options.compression_ratio_threshold > 0.0f &&
      result.compression_ratio > as_decimal(options.compression_ratio_threshold)) {
    retry = true;  // too repetitive
  }
  if (result.avg_logprob < logprob_threshold) {
    retry = true;  // too improbable
  }
  // Silence: keep the result; the caller skips the window.
  if (result.no_speech_prob > as_decimal(options.no_speech_threshold) &&
      result.avg_logprob < logprob_threshold) {
    retry = false;
  }
  return retry;
}

bool is_silent_window(const DecodingResult& result, const TranscribeOptions& options) {
  return result.no_speech_prob > as_decimal(options.no_speech_threshold) &&
         !(result.avg_logprob > as_decimal(options.logprob_threshold));
}

}  // namespace earshot::whisper
