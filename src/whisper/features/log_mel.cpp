#include "whisper/features/log_mel.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <numbers>
#include <string>

#include <fftw3.h>

#include "earshot/error.h"

namespace earshot::whisper {
namespace {

// FFTW's planner keeps process-wide state and is not thread-safe (FFTW manual, "Thread
// safety"): plan creation and destruction are serialised here; fftw_execute_dft_r2c on an
// existing plan with new arrays is thread-safe and needs no lock.
std::mutex& fftw_planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

struct FftwFree {
  void operator()(void* p) const { fftw_free(p); }
};
using FftwDoubles = std::unique_ptr<double, FftwFree>;
using FftwComplex = std::unique_ptr<fftw_complex, FftwFree>;

class RealFft {
 public:
  RealFft() : in_(fftw_alloc_real(kNFft)), out_(fftw_alloc_complex(kNFreq)) {
    std::lock_guard lock(fftw_planner_mutex());
    plan_ = fftw_plan_dft_r2c_1d(kNFft, in_.get(), out_.get(), FFTW_ESTIMATE);
  }
  ~RealFft() {
    std::lock_guard lock(fftw_planner_mutex());
    fftw_destroy_plan(plan_);
  }
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  // Arrays from fftw_alloc_* share the plan's alignment, as new-array execution requires.
  void execute(double* in, fftw_complex* out) const { fftw_execute_dft_r2c(plan_, in, out); }

 private:
  FftwDoubles in_;
  FftwComplex out_;
  fftw_plan plan_ = nullptr;
};

// Index into the signal for position i of the reflect-padded signal (numpy/torch "reflect":
// the edge sample is not repeated). Signals shorter than the padding reflect repeatedly.
std::size_t reflect_index(std::int64_t i, std::int64_t n) {
  if (n == 1) {
    return 0;
  }
  const std::int64_t period = 2 * (n - 1);
  std::int64_t j = i % period;
  if (j < 0) {
    j += period;
  }
  return static_cast<std::size_t>(j < n ? j : period - j);
}

// The nonzero range of one mel band: the filters are triangles over a few bins.
struct BandSpan {
  int first = 0;
  int last = 0;  // exclusive
};

}  // namespace

LogMel compute_log_mel(std::span<const float> samples, std::span<const float> filters, int n_mels,
                       int threads) {
  if (n_mels <= 0 || filters.size() != static_cast<std::size_t>(n_mels) * kNFreq) {
    throw Error(ErrorCode::kInvalidArgument,
                "log-mel: filter bank of " + std::to_string(filters.size()) +
                    " values does not match n_mels " + std::to_string(n_mels) + " x 201");
  }
  const auto n = static_cast<std::int64_t>(samples.size());
  // torch.stft(center=True) yields 1 + n / hop frames; Whisper drops the last one.
  const int n_frames = static_cast<int>(n / kHopLength);
  LogMel mel;
  mel.n_mels = n_mels;
  mel.n_frames = n_frames;
  mel.data.assign(static_cast<std::size_t>(n_mels) * static_cast<std::size_t>(n_frames), 0.0f);
  if (n_frames == 0) {
    return mel;
  }

  std::vector<BandSpan> bands(static_cast<std::size_t>(n_mels));
  for (int b = 0; b < n_mels; ++b) {
    const float* row = filters.data() + static_cast<std::size_t>(b) * kNFreq;
    int first = 0;
    while (first < kNFreq && row[first] == 0.0f) {
      ++first;
    }
    int last = kNFreq;
    while (last > first && row[last - 1] == 0.0f) {
      --last;
    }
    bands[static_cast<std::size_t>(b)] = {first, last};
  }

  // Periodic Hann window (torch.hann_window(400), periodic=True).
  std::vector<double> window(kNFft);
  for (int i = 0; i < kNFft; ++i) {
    window[static_cast<std::size_t>(i)] =
        0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / static_cast<double>(kNFft));
  }

  const RealFft fft;
  const int n_threads = std::max(1, std::min(threads, n_frames / 64 + 1));
  float global_max = -std::numeric_limits<float>::infinity();
#pragma omp parallel num_threads(n_threads) reduction(max : global_max)
  {
    FftwDoubles frame(fftw_alloc_real(kNFft));
    FftwComplex spectrum(fftw_alloc_complex(kNFreq));
    std::vector<double> power(kNFreq);
#pragma omp for schedule(static)
    for (int t = 0; t < n_frames; ++t) {
      const std::int64_t start = static_cast<std::int64_t>(t) * kHopLength - kNFft / 2;
      for (int i = 0; i < kNFft; ++i) {
        const std::int64_t pos = start + i;
        const float x = (pos >= 0 && pos < n) ? samples[static_cast<std::size_t>(pos)]
                                              : samples[reflect_index(pos, n)];
        frame.get()[i] = static_cast<double>(x) * window[static_cast<std::size_t>(i)];
      }
      fft.execute(frame.get(), spectrum.get());
      for (int k = 0; k < kNFreq; ++k) {
        const double re = spectrum.get()[k][0];
        const double im = spectrum.get()[k][1];
        power[static_cast<std::size_t>(k)] = re * re + im * im;
      }
      for (int b = 0; b < n_mels; ++b) {
        const float* row = filters.data() + static_cast<std::size_t>(b) * kNFreq;
        const BandSpan span = bands[static_cast<std::size_t>(b)];
        double energy = 0.0;
        for (int k = span.first; k < span.last; ++k) {
          energy += static_cast<double>(row[k]) * power[static_cast<std::size_t>(k)];
        }
        const float value = static_cast<float>(std::log10(std::max(energy, 1e-10)));
        mel.data[static_cast<std::size_t>(b) * n_frames + t] = value;
        global_max = std::max(global_max, value);
      }
    }
  }

  const float floor = global_max - 8.0f;
  for (float& v : mel.data) {
    v = (std::max(v, floor) + 4.0f) / 4.0f;
  }
  return mel;
}

LogMel single_window_log_mel(std::span<const float> samples, std::span<const float> filters,
                             int n_mels, int threads) {
  std::vector<float> padded(kChunkSamples, 0.0f);
  std::copy_n(samples.begin(), std::min<std::size_t>(samples.size(), kChunkSamples),
              padded.begin());
  return compute_log_mel(padded, filters, n_mels, threads);
}

LogMel long_form_log_mel(std::span<const float> samples, std::span<const float> filters, int n_mels,
                         int threads) {
  std::vector<float> padded(samples.size() + kChunkSamples, 0.0f);
  std::copy(samples.begin(), samples.end(), padded.begin());
  return compute_log_mel(padded, filters, n_mels, threads);
}

LogMel window_mel(const LogMel& whole, int seek, int content_frames) {
  LogMel out;
  out.n_mels = whole.n_mels;
  out.n_frames = kChunkFrames;
  out.data.assign(static_cast<std::size_t>(whole.n_mels) * kChunkFrames, 0.0f);
  const int begin = std::clamp(seek, 0, whole.n_frames);
  const int end = std::clamp(std::min(content_frames, seek + kChunkFrames), begin, whole.n_frames);
  for (int b = 0; b < whole.n_mels; ++b) {
    const float* src = whole.data.data() + static_cast<std::size_t>(b) * whole.n_frames;
    std::copy(src + begin, src + end, out.data.data() + static_cast<std::size_t>(b) * kChunkFrames);
  }
  return out;
}

}  // namespace earshot::whisper
