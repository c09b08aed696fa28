#pragma once

// Counters and histograms for GET /metrics, in Prometheus' text exposition format.

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace earshot::server {

class Metrics {
 public:
  // One finished HTTP request.
  void record_request(const std::string& route, unsigned status, double seconds);
  // One finished transcription: audio seconds in, processing seconds spent.
  void record_transcription(double audio_seconds, double processing_seconds);
  void set_model_load_seconds(double seconds);

  // Live values read when /metrics is rendered.
  struct Gauges {
    std::size_t queue_depth = 0;
    std::size_t jobs_running = 0;
    std::uint64_t batched_steps = 0;  // decoder steps run through the step batchers
    std::uint64_t step_batches = 0;   // the batches they made
  };

  std::string render(const Gauges& gauges) const;

  // Upper bounds (seconds) of the latency histogram's buckets.
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10,  30};

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  double audio_seconds_ = 0;
  double processing_seconds_ = 0;
  std::uint64_t transcriptions_ = 0;
  double model_load_seconds_ = 0;
};

}  // namespace earshot::server
