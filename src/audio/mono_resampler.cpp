#include "audio/mono_resampler.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <string>

#include "earshot/error.h"

extern "C" {
#include <libavutil/opt.h>
}

namespace earshot::audio {
namespace {

// Replaces what a float stream may carry but Whisper's log-mel must not see: NaN and
// infinities become silence, and overshoot from lossy decoders is clipped to [-1, 1]
// (what OpenAI's pipeline does by converting to s16 on the way).
void sanitize(std::span<float> samples) {
  for (float& sample : samples) {
    if (!std::isfinite(sample)) {
      sample = std::isinf(sample) ? std::copysign(1.0f, sample) : 0.0f;
    } else {
      sample = std::clamp(sample, -1.0f, 1.0f);
    }
  }
}

// Runs one swr_convert call into the end of `out`; `input` null drains the converter.
void convert_into(SwrContext* swr, const std::uint8_t** input, int input_samples,
                  std::vector<float>& out) {
  const int capacity = swr_get_out_samples(swr, input_samples);
  if (capacity < 0) {
    throw Error(ErrorCode::kAudioDecode, "cannot resample audio: " + av_error_text(capacity));
  }
  if (capacity == 0 && input == nullptr) {
    return;
  }
  const std::size_t old_size = out.size();
  out.resize(old_size + static_cast<std::size_t>(capacity));
  auto* destination = reinterpret_cast<std::uint8_t*>(out.data() + old_size);
  const int written = swr_convert(swr, &destination, capacity, input, input_samples);
  if (written < 0) {
    out.resize(old_size);
    throw Error(ErrorCode::kAudioDecode, "cannot resample audio: " + av_error_text(written));
  }
  out.resize(old_size + static_cast<std::size_t>(written));
  sanitize(std::span<float>(out).subspan(old_size));
}

}  // namespace

bool MonoResampler::matches(const AVFrame& frame) const {
  if (!swr_ || frame.format != input_format_ || frame.sample_rate != input_rate_) {
    return false;
  }
  if (frame.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
    return input_layout_.get()->nb_channels == frame.ch_layout.nb_channels;
  }
  return av_channel_layout_compare(&frame.ch_layout, input_layout_.get()) == 0;
}

void MonoResampler::configure(const AVFrame& frame) {
  if (frame.sample_rate <= 0 || frame.ch_layout.nb_channels <= 0) {
    throw Error(ErrorCode::kAudioDecode, "audio stream has no valid sample rate or channel count");
  }
  // swresample's filter grows with the ratio of the rates: a WAV header claiming 250 MHz made
  // it allocate over 2 GB (found by fuzz_audio). 768 kHz is the highest rate of real audio
  // formats (PCM, DSD-over-PCM excepted), and its filter stays a few megabytes.
  if (frame.sample_rate > kMaxInputRate) {
    throw Error(ErrorCode::kAudioDecode, "audio sample rate " + std::to_string(frame.sample_rate) +
                                             " Hz is above the " + std::to_string(kMaxInputRate) +
                                             " Hz accepted");
  }
  av_channel_layout_uninit(input_layout_.get());
  // A container that gives only a channel count (plain WAV, raw PCM) gets FFmpeg's
  // default layout for that count, so the downmix matrix knows which channel is which.
  const int copied =
      frame.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC
          ? (av_channel_layout_default(input_layout_.get(), frame.ch_layout.nb_channels), 0)
          : av_channel_layout_copy(input_layout_.get(), &frame.ch_layout);
  if (copied < 0) {
    throw Error(ErrorCode::kAudioDecode, "unsupported channel layout: " + av_error_text(copied));
  }

  SwrContext* raw = nullptr;
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;  // FFmpeg 5.1 takes it non-const
  int rc =
      swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, output_rate_, input_layout_.get(),
                          static_cast<AVSampleFormat>(frame.format), frame.sample_rate, 0, nullptr);
  SwrContextPtr swr(raw);
  if (rc >= 0) {
    // With float output swresample would not normalise the downmix matrix and stereo would
    // become 0.707 * (L + R), which leaves [-1, 1]. A maximum gain of 1 gives the plain
    // average (L + R) / 2, as `ffmpeg -ac 1` to s16 (OpenAI's loader) does.
    rc = av_opt_set_double(swr.get(), "rematrix_maxval", 1.0, 0);
  }
  if (rc >= 0) {
    rc = swr_init(swr.get());
  }
  if (rc < 0) {
    throw Error(ErrorCode::kAudioDecode, "cannot convert audio of this format (" +
                                             std::to_string(frame.sample_rate) + " Hz, " +
                                             std::to_string(frame.ch_layout.nb_channels) +
                                             " channels): " + av_error_text(rc));
  }
  swr_ = std::move(swr);
  input_format_ = frame.format;
  input_rate_ = frame.sample_rate;
}

void MonoResampler::convert(const AVFrame& frame, std::vector<float>& out) {
  if (!matches(frame)) {
    flush(out);
    configure(frame);
  }
  convert_into(swr_.get(), const_cast<const std::uint8_t**>(frame.extended_data), frame.nb_samples,
               out);
}

void MonoResampler::flush(std::vector<float>& out) {
  if (!swr_) {
    return;
  }
  // The resampler hands out its tail over as many calls as its buffer needs.
  for (;;) {
    const std::size_t before = out.size();
    convert_into(swr_.get(), nullptr, 0, out);
    if (out.size() == before) {
      break;
    }
  }
}

}  // namespace earshot::audio
