// earshot/vad.h over whisper/features/silero.

#include "earshot/vad.h"

#include <algorithm>
#include <system_error>

#include "earshot/error.h"
#include "whisper/engine/vad_model.h"
#include "whisper/features/silero/silero_vad.h"
#include "whisper/features/silero/speech_timestamps.h"

namespace earshot {
namespace {

whisper::silero::SpeechTimestampOptions timestamp_options(const VadOptions& o) {
  whisper::silero::SpeechTimestampOptions t;
  t.threshold = o.threshold;
  t.neg_threshold = o.neg_threshold;
  t.min_speech_ms = o.min_speech_ms;
  t.min_silence_ms = o.min_silence_ms;
  t.speech_pad_ms = o.speech_pad_ms;
  t.max_speech_s = o.max_speech_s;
  return t;
}

void check(const VadOptions& o) {
  const bool ok = o.threshold > 0.0 && o.threshold < 1.0 && o.neg_threshold < 1.0 &&
                  o.min_speech_ms >= 0.0 && o.min_silence_ms >= 0.0 && o.speech_pad_ms >= 0.0 &&
                  o.max_speech_s > 0.0;
  if (!ok) {
    throw Error(ErrorCode::kInvalidArgument,
                "VAD options out of range: threshold in (0, 1), neg_threshold below 1, durations "
                "not negative, max_speech_s above 0");
  }
}

}  // namespace

std::shared_ptr<const VadModel> load_vad_model(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::kIo, "cannot open VAD model " + path.string());
  }
  try {
    return std::make_shared<const VadModel>(VadModel{whisper::silero::load_silero_model(path)});
  } catch (const whisper::silero::SileroModelError& e) {
    throw Error(ErrorCode::kModelFormat, e.what());
  }
}

std::vector<whisper::SpeechRange> speech_ranges(const VadModel& model,
                                                std::span<const float> samples,
                                                const VadOptions& options,
                                                std::vector<float>* probabilities) {
  check(options);
  std::vector<float> p = whisper::silero::speech_probabilities(model.network, samples);
  auto ranges = whisper::silero::speech_timestamps(p, samples.size(), timestamp_options(options));
  if (probabilities != nullptr) *probabilities = std::move(p);
  return ranges;
}

VadResult detect_speech(const VadModel& model, std::span<const float> samples,
                        const VadOptions& options) {
  VadResult out;
  const auto ranges = speech_ranges(model, samples, options, &out.probabilities);
  out.segments.reserve(ranges.size());
  for (const auto& r : ranges) {
    out.segments.push_back({r.begin, r.end, static_cast<double>(r.begin) / kSampleRateHz,
                            static_cast<double>(r.end) / kSampleRateHz});
  }
  return out;
}

struct VadStream::Impl {
  explicit Impl(std::shared_ptr<const VadModel> m) : model(std::move(m)), vad(model->network) {}
  std::shared_ptr<const VadModel> model;
  whisper::silero::SileroVad vad;
  std::array<float, kVadChunkSamples> pending{};
  std::size_t pending_count = 0;
  std::size_t chunks = 0;
};

VadStream::VadStream(std::shared_ptr<const VadModel> model)
    : impl_(std::make_unique<Impl>(std::move(model))) {}
VadStream::~VadStream() = default;
VadStream::VadStream(VadStream&&) noexcept = default;
VadStream& VadStream::operator=(VadStream&&) noexcept = default;

std::vector<float> VadStream::push(std::span<const float> samples) {
  std::vector<float> out;
  Impl& s = *impl_;
  while (!samples.empty()) {
    const std::size_t take = std::min(kVadChunkSamples - s.pending_count, samples.size());
    std::copy_n(samples.begin(), take,
                s.pending.begin() + static_cast<std::ptrdiff_t>(s.pending_count));
    s.pending_count += take;
    samples = samples.subspan(take);
    if (s.pending_count == kVadChunkSamples) {
      out.push_back(s.vad.process(std::span<const float, kVadChunkSamples>(s.pending)));
      s.pending_count = 0;
      ++s.chunks;
    }
  }
  return out;
}

std::size_t VadStream::chunks() const {
  return impl_->chunks;
}

void VadStream::reset() {
  impl_->vad.reset();
  impl_->pending_count = 0;
  impl_->chunks = 0;
}

}  // namespace earshot
