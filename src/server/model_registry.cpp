#include "server/model_registry.h"

#include "whisper/model/model.h"
#include "whisper/network/step_batcher.h"

namespace earshot::server {

ModelRegistry::ModelRegistry(std::vector<ModelSpec> models, std::string default_model,
                             std::chrono::milliseconds idle_ttl,
                             std::shared_ptr<spdlog::logger> log)
    : default_(std::move(default_model)), idle_ttl_(idle_ttl), log_(std::move(log)) {
  for (auto& m : models) {
    if (default_.empty()) default_ = m.name;
    entries_[m.name].spec = std::move(m);
  }
}

std::vector<std::string> ModelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

std::optional<std::string> ModelRegistry::resolve(std::string_view requested) const {
  if (requested.empty() || requested == "whisper-1") {
    if (default_.empty()) return std::nullopt;
    return default_;
  }
  auto it = entries_.find(std::string(requested));
  if (it == entries_.end()) return std::nullopt;
  return it->first;
}

std::shared_ptr<const Model> ModelRegistry::acquire(std::string_view requested) {
  const auto name = resolve(requested);
  if (!name) {
    throw Error(ErrorCode::kInvalidArgument,
                entries_.empty()
                    ? "no model is configured on this server"
                    : "model '" + std::string(requested) + "' does not exist on this server");
  }
  std::unique_lock lock(mutex_);
  auto& e = entries_.at(*name);
  loaded_.wait(lock, [&] { return e.state != State::kLoading; });
  e.last_used = std::chrono::steady_clock::now();
  if (e.state == State::kLoaded) return e.model;
  // Unloaded or failed before: (re)try, so a file fixed on disk is picked up.
  e.state = State::kLoading;
  const auto path = e.spec.path;
  const Precision precision = e.spec.precision.value_or(Precision::kFp32);
  lock.unlock();
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const Model> model;
  std::string error;
  try {
    model = load_model(path, {.precision = precision});
  } catch (const std::exception& ex) {
    error = ex.what();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lock.lock();
  if (model) {
    e.state = State::kLoaded;
    e.model = model;
    // Idle time counts from when the model is ready, not from when its load began.
    e.last_used = std::chrono::steady_clock::now();
    e.error.clear();
    last_load_seconds_ = seconds;
    log_->info("model {} loaded from {} in {:.2f}s ({} products)", *name, path.string(), seconds,
               precision_name(precision));
  } else {
    e.state = State::kFailed;
    e.error = error;
    log_->error("model {} failed to load: {}", *name, error);
  }
  loaded_.notify_all();
  if (!model)
    throw Error(ErrorCode::kModelFormat, "model '" + *name + "' cannot be loaded: " + error);
  return model;
}

ModelRegistry::State ModelRegistry::state(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(name);
  return it == entries_.end() ? State::kUnloaded : it->second.state;
}

std::size_t ModelRegistry::unload_idle() {
  if (idle_ttl_.count() == 0) return 0;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  std::size_t n = 0;
  for (auto& [name, e] : entries_) {
    // Jobs still holding the model keep it alive; it is freed when the last one ends.
    if (e.state == State::kLoaded && now - e.last_used >= idle_ttl_) {
      e.model.reset();
      e.state = State::kUnloaded;
      ++n;
      log_->info("model {} unloaded after {:.0f}s idle", name,
                 std::chrono::duration<double>(idle_ttl_).count());
    }
  }
  return n;
}

double ModelRegistry::last_load_seconds() const {
  std::lock_guard lock(mutex_);
  return last_load_seconds_;
}

ModelRegistry::BatchTotals ModelRegistry::batch_totals() const {
  std::vector<std::shared_ptr<const Model>> loaded;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, e] : entries_) {
      if (e.model) loaded.push_back(e.model);
    }
  }
  BatchTotals totals;
  for (const auto& m : loaded) {
    const auto stats = whisper::step_batcher_of(*m).stats();
    totals.steps += stats.items;
    totals.batches += stats.batches;
  }
  return totals;
}

std::string model_name_from_path(const std::filesystem::path& path) {
  auto name = path.filename().string();
  if (name.size() > 4 && name.ends_with(".bin")) name.resize(name.size() - 4);
  if (name.starts_with("ggml-")) name = name.substr(5);
  return name;
}

}  // namespace earshot::server
