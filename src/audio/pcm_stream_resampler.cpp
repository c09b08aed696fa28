// earshot::PcmStreamResampler: swresample over a live stream's PCM16 pieces.

#include <cmath>

#include "audio/ffmpeg_handles.h"
#include "earshot/audio.h"
#include "earshot/error.h"

extern "C" {
#include <libavutil/opt.h>
}

namespace earshot {

struct PcmStreamResampler::Impl {
  audio::SwrContextPtr swr;
};

PcmStreamResampler::PcmStreamResampler(int input_rate) : input_rate_(input_rate) {
  if (input_rate < 8000 || input_rate > 192000) {
    throw Error(ErrorCode::kInvalidArgument,
                "sample rate " + std::to_string(input_rate) + " Hz is outside 8000..192000");
  }
  impl_ = std::make_unique<Impl>();
  if (input_rate == kSampleRate) return;
  SwrContext* raw = nullptr;
  AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
  int rc = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_FLT, kSampleRate, &mono,
                               AV_SAMPLE_FMT_S16, input_rate, 0, nullptr);
  impl_->swr.reset(raw);
  if (rc >= 0) rc = swr_init(impl_->swr.get());
  if (rc < 0) {
    throw Error(ErrorCode::kInternal,
                "cannot set up resampling from " + std::to_string(input_rate) + " Hz");
  }
}

PcmStreamResampler::~PcmStreamResampler() = default;

namespace {

void convert(SwrContext* swr, const std::int16_t* pcm, int count, std::vector<float>& out) {
  const int capacity = swr_get_out_samples(swr, count);
  if (capacity <= 0) return;
  const std::size_t old_size = out.size();
  out.resize(old_size + static_cast<std::size_t>(capacity));
  auto* destination = reinterpret_cast<std::uint8_t*>(out.data() + old_size);
  const auto* source = reinterpret_cast<const std::uint8_t*>(pcm);
  const int written =
      swr_convert(swr, &destination, capacity, pcm == nullptr ? nullptr : &source, count);
  out.resize(old_size + static_cast<std::size_t>(std::max(written, 0)));
  for (std::size_t i = old_size; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) out[i] = 0.0F;
    out[i] = std::fmax(-1.0F, std::fmin(1.0F, out[i]));
  }
}

}  // namespace

void PcmStreamResampler::push(std::span<const std::int16_t> pcm, std::vector<float>& out) {
  if (!impl_->swr) {
    out.reserve(out.size() + pcm.size());
    for (const std::int16_t v : pcm) out.push_back(static_cast<float>(v) / 32768.0F);
    return;
  }
  // swr_convert takes an int count: large pieces go in parts.
  constexpr std::size_t kPart = 1 << 20;
  for (std::size_t at = 0; at < pcm.size(); at += kPart) {
    const std::size_t n = std::min(kPart, pcm.size() - at);
    convert(impl_->swr.get(), pcm.data() + at, static_cast<int>(n), out);
  }
}

void PcmStreamResampler::flush(std::vector<float>& out) {
  if (!impl_->swr) return;
  for (int i = 0; i < 8; ++i) {
    const std::size_t before = out.size();
    convert(impl_->swr.get(), nullptr, 0, out);
    if (out.size() == before) break;
  }
  swr_init(impl_->swr.get());
}

}  // namespace earshot
