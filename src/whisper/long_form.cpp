#include "whisper/long_form.h"

#include <algorithm>
#include <chrono>

#include "earshot/error.h"
#include "whisper/log_mel.h"
#include "whisper/utf8_text.h"

namespace earshot::whisper {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Transcription run_long_form(WindowLogitsSource& source, const Tokenizer& tokenizer, int n_text_ctx,
                            const TranscribeOptions& options, const std::string& language,
                            int content_frames,
                            const std::function<std::vector<float>(int seek)>& window_mel,
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

  std::vector<int> all_tokens;
  std::size_t prompt_reset_since = 0;
  std::vector<int> initial_prompt_tokens;
  if (!options.initial_prompt.empty()) {
    // encode(" " + initial_prompt.strip()); built by append (GCC 12 warns falsely on +).
    std::string prompt_text = " ";
    prompt_text.append(strip_whitespace(options.initial_prompt));
    initial_prompt_tokens = tokenizer.encode(prompt_text);
    all_tokens = initial_prompt_tokens;
  }

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

  bool first_window = true;
  int seek = 0;
  while (seek < content_frames) {
    check_cancel();
    const int segment_size = std::min(kChunkFrames, content_frames - seek);
    const std::vector<float> mel = window_mel(seek);
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
    decoding.prompt.assign(all_tokens.begin() + static_cast<std::ptrdiff_t>(prompt_reset_since),
                           all_tokens.end());
    decoding.cancel = options.cancel;
    decoding.record_steps = hooks.record_steps;

    DecodingResult result;
    const auto t0 = Clock::now();
    for (std::size_t attempt = 0; attempt < options.temperatures.size(); ++attempt) {
      decoding.temperature = options.temperatures[attempt];
      // Sampling draws depend only on the window and the attempt: reruns are reproducible.
      decoding.seed = static_cast<std::uint64_t>(seek) * 0x9E3779B97F4A7C15ull + attempt;
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

    WindowSegments window = segment_window(result, tokenizer, seek, segment_size);
    for (Segment& s : window.segments) {
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
    // Only a pair of <|0.00|> tokens (possible when timestamps are off and the model emits
    // them anyway) can keep seek in place; the reference would loop forever there.
    seek = window.next_seek > seek ? window.next_seek : seek + segment_size;
    report_progress(seek);
  }

  out.text = tokenizer.decode(
      std::span(all_tokens).subspan(std::min(initial_prompt_tokens.size(), all_tokens.size())));
  return out;
}

}  // namespace earshot::whisper
