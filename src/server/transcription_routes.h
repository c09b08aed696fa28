#pragma once

// The transcription routes: the original `/stt`, OpenAI's `/v1/audio/transcriptions` and
// `/v1/audio/translations`, our `/v1/audio/detect-language`, and `/v1/models`. Requests are
// parsed and validated on the network thread; audio decoding and inference run as jobs on
// the JobQueue's workers.

#include <atomic>
#include <memory>

#include <spdlog/logger.h>

#include "server/config.h"
#include "server/job_queue.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/router.h"
#include "server/watchdog.h"

namespace earshot::server {

struct TranscriptionService {
  EngineConfig engine;
  ModelRegistry* models = nullptr;
  JobQueue* jobs = nullptr;
  Watchdog* watchdog = nullptr;
  Metrics* metrics = nullptr;
  std::shared_ptr<spdlog::logger> log;
  const std::atomic<bool>* shutting_down = nullptr;
  // Silero VAD for requests that ask to drop silence; nullptr = the energy detector.
  std::shared_ptr<const VadModel> vad_model;

  // Engine threads for one job.
  int threads_per_job() const;
};

void add_transcription_routes(Router& router, std::shared_ptr<const TranscriptionService> service);

}  // namespace earshot::server
