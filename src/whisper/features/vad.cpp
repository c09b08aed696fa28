#include "whisper/features/vad.h"

#include <algorithm>
#include <cmath>

#include "whisper/features/timeline.h"

namespace earshot::whisper {

std::vector<SpeechRange> detect_speech(std::span<const float> samples, const VadParams& params) {
  const auto frame = static_cast<std::size_t>(params.frame_seconds * kSampleRate);
  const std::size_t n_frames =
      frame == 0 ? 0 : samples.size() / frame + (samples.size() % frame != 0);
  if (n_frames == 0) {
    return {};
  }
  std::vector<double> level(n_frames);
  for (std::size_t f = 0; f < n_frames; ++f) {
    const std::size_t begin = f * frame;
    const std::size_t end = std::min(samples.size(), begin + frame);
    double energy = 0.0;
    for (std::size_t i = begin; i < end; ++i) {
      energy += static_cast<double>(samples[i]) * samples[i];
    }
    level[f] = 10.0 * std::log10(energy / static_cast<double>(end - begin) + 1e-12);
  }
  std::vector<double> sorted = level;
  const auto q =
      static_cast<std::size_t>(params.floor_percentile * static_cast<double>(n_frames - 1));
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(q), sorted.end());
  const double floor = sorted[q];
  const double peak = *std::max_element(level.begin(), level.end());
  const double threshold = std::max(
      {floor + params.above_floor_db, peak - params.below_peak_db, params.absolute_floor_db});

  // Runs of speech frames, then pauses shorter than min_silence bridged, bursts dropped.
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // frame ranges
  for (std::size_t f = 0; f < n_frames;) {
    if (level[f] < threshold) {
      ++f;
      continue;
    }
    std::size_t g = f;
    while (g < n_frames && level[g] >= threshold) {
      ++g;
    }
    runs.emplace_back(f, g);
    f = g;
  }
  const auto to_frames = [&](double seconds) {
    return static_cast<std::size_t>(std::ceil(seconds / params.frame_seconds));
  };
  const std::size_t min_silence = to_frames(params.min_silence_seconds);
  std::vector<std::pair<std::size_t, std::size_t>> merged;
  for (const auto& run : runs) {
    if (!merged.empty() && run.first - merged.back().second < min_silence) {
      merged.back().second = run.second;
    } else {
      merged.push_back(run);
    }
  }
  const std::size_t min_speech = to_frames(params.min_speech_seconds);
  const std::size_t pad = to_frames(params.pad_seconds);
  std::vector<SpeechRange> out;
  for (const auto& [first, last] : merged) {
    if (last - first < min_speech) {
      continue;
    }
    const std::size_t begin = (first > pad ? first - pad : 0) * frame;
    const std::size_t end = std::min(samples.size(), (last + pad) * frame);
    if (!out.empty() && begin <= out.back().end) {
      out.back().end = std::max(out.back().end, end);
    } else {
      out.push_back({begin, end});
    }
  }
  return out;
}

VadTimeline::VadTimeline(std::span<const SpeechRange> ranges, double sample_rate) {
  double joined = 0.0;
  for (const SpeechRange& r : ranges) {
    const double length = static_cast<double>(r.end - r.begin) / sample_rate;
    pieces_.push_back({joined, static_cast<double>(r.begin) / sample_rate, length});
    joined += length;
  }
}

double VadTimeline::to_original(double joined_seconds) const {
  if (pieces_.empty()) {
    return joined_seconds;
  }
  // The last piece starting at or before the time; a time at a join belongs to the later
  // piece, so a segment starting there starts where that speech starts.
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), joined_seconds,
                             [](double t, const Piece& p) { return t < p.joined_start; });
  const Piece& piece = it == pieces_.begin() ? pieces_.front() : *std::prev(it);
  return piece.original_start + std::max(0.0, joined_seconds - piece.joined_start);
}

std::vector<float> VadTimeline::join(std::span<const float> samples,
                                     std::span<const SpeechRange> ranges) {
  std::vector<float> out;
  for (const SpeechRange& r : ranges) {
    out.insert(out.end(), samples.begin() + static_cast<std::ptrdiff_t>(r.begin),
               samples.begin() + static_cast<std::ptrdiff_t>(r.end));
  }
  return out;
}

}  // namespace earshot::whisper
