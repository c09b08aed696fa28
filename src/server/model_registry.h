#pragma once

// The models this server offers, loaded lazily on first use, shared by every job, and
// unloaded after an idle time. Loading happens on the calling (worker) thread; concurrent
// requests for a model being loaded wait for that one load.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "earshot/whisper.h"
#include "server/config.h"

namespace earshot::server {

class ModelRegistry {
 public:
  enum class State { kUnloaded, kLoading, kLoaded, kFailed };

  ModelRegistry(std::vector<ModelSpec> models, std::string default_model,
                std::chrono::milliseconds idle_ttl, std::shared_ptr<spdlog::logger> log);

  bool empty() const { return entries_.empty(); }
  const std::string& default_name() const { return default_; }
  std::vector<std::string> names() const;

  // The canonical name for a request's `model`: "" and "whisper-1" mean the default.
  // nullopt when no such model is offered.
  std::optional<std::string> resolve(std::string_view requested) const;

  // The loaded model, loading it if needed. Throws earshot::Error (kInvalidArgument for an
  // unknown name, kIo/kModelFormat when its file cannot be loaded).
  std::shared_ptr<const Model> acquire(std::string_view requested);

  State state(const std::string& name) const;
  // Unloads models not acquired for idle_ttl (no-op when idle_ttl is 0). Returns how many.
  std::size_t unload_idle();

  // Seconds the most recent successful load took; 0 before any.
  double last_load_seconds() const;

  // Decoder steps run through the loaded models' step batchers, and the batches they made
  // (engine.batch_decoding), summed over the models loaded now.
  struct BatchTotals {
    std::uint64_t steps = 0;
    std::uint64_t batches = 0;
  };
  BatchTotals batch_totals() const;

 private:
  struct Entry {
    ModelSpec spec;
    State state = State::kUnloaded;
    std::shared_ptr<const Model> model;
    std::string error;
    std::chrono::steady_clock::time_point last_used;
  };

  std::map<std::string, Entry> entries_;
  std::string default_;
  std::chrono::milliseconds idle_ttl_;
  std::shared_ptr<spdlog::logger> log_;
  mutable std::mutex mutex_;
  std::condition_variable loaded_;
  double last_load_seconds_ = 0;
};

// A model name from a file name: "ggml-base.en.bin" -> "base.en", "x/my.bin" -> "my".
std::string model_name_from_path(const std::filesystem::path& path);

}  // namespace earshot::server
