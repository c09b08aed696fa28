#include "server/metrics.h"

#include <cstdio>

namespace earshot::server {
namespace {

// Label values are route paths the server itself defines, but escape anyway as the format
// requires (backslash, quote, newline).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void Metrics::record_request(const std::string& route, unsigned status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  auto& h = latency_[route];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::record_transcription(double audio_seconds, double processing_seconds) {
  std::lock_guard lock(mutex_);
  audio_seconds_ += audio_seconds;
  processing_seconds_ += processing_seconds;
  ++transcriptions_;
}

void Metrics::set_model_load_seconds(double seconds) {
  std::lock_guard lock(mutex_);
  model_load_seconds_ = seconds;
}

std::string Metrics::render(const Gauges& gauges) const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP earshot_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE earshot_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "earshot_http_requests_total{route=\"" + label(key.first) + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP earshot_http_request_duration_seconds Time from request start to the answer "
      "written.\n";
  out += "# TYPE earshot_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    const auto r = label(route);
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out += "earshot_http_request_duration_seconds_bucket{route=\"" + r + "\",le=\"" +
             number(kBuckets[i]) + "\"} " + std::to_string(h.counts[i]) + "\n";
    }
    out += "earshot_http_request_duration_seconds_bucket{route=\"" + r + "\",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "earshot_http_request_duration_seconds_sum{route=\"" + r + "\"} " + number(h.sum) + "\n";
    out += "earshot_http_request_duration_seconds_count{route=\"" + r + "\"} " +
           std::to_string(h.count) + "\n";
  }
  out +=
      "# HELP earshot_queue_depth Transcription jobs waiting for a worker.\n# TYPE "
      "earshot_queue_depth gauge\n";
  out += "earshot_queue_depth " + std::to_string(gauges.queue_depth) + "\n";
  out +=
      "# HELP earshot_jobs_running Transcription jobs running.\n# TYPE earshot_jobs_running "
      "gauge\n";
  out += "earshot_jobs_running " + std::to_string(gauges.jobs_running) + "\n";
  out +=
      "# HELP earshot_batched_decoder_steps_total Decoder steps of concurrent transcriptions "
      "run through the step batcher (engine.batch_decoding; since the model was loaded).\n"
      "# TYPE earshot_batched_decoder_steps_total counter\n";
  out += "earshot_batched_decoder_steps_total " + std::to_string(gauges.batched_steps) + "\n";
  out +=
      "# HELP earshot_decoder_step_batches_total Batches those steps ran in (steps / batches = "
      "transcriptions per weight read).\n# TYPE earshot_decoder_step_batches_total counter\n";
  out += "earshot_decoder_step_batches_total " + std::to_string(gauges.step_batches) + "\n";
  out +=
      "# HELP earshot_transcriptions_total Transcriptions completed.\n# TYPE "
      "earshot_transcriptions_total counter\n";
  out += "earshot_transcriptions_total " + std::to_string(transcriptions_) + "\n";
  out +=
      "# HELP earshot_audio_seconds_total Seconds of audio transcribed.\n# TYPE "
      "earshot_audio_seconds_total counter\n";
  out += "earshot_audio_seconds_total " + number(audio_seconds_) + "\n";
  out += "# HELP earshot_processing_seconds_total Seconds spent transcribing.\n";
  out += "# TYPE earshot_processing_seconds_total counter\n";
  out += "earshot_processing_seconds_total " + number(processing_seconds_) + "\n";
  out +=
      "# HELP earshot_real_time_factor Processing seconds per audio second, over all "
      "transcriptions.\n";
  out += "# TYPE earshot_real_time_factor gauge\n";
  out += "earshot_real_time_factor " +
         number(audio_seconds_ > 0 ? processing_seconds_ / audio_seconds_ : 0) + "\n";
  out += "# HELP earshot_model_load_seconds Duration of the most recent model load.\n";
  out += "# TYPE earshot_model_load_seconds gauge\n";
  out += "earshot_model_load_seconds " + number(model_load_seconds_) + "\n";
  return out;
}

}  // namespace earshot::server
