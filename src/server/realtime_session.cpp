#include "server/realtime_session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include <spdlog/logger.h>

#include "earshot/error.h"
#include "earshot/whisper.h"
#include "server/transcription_routes.h"

namespace earshot::server {
namespace {

using nlohmann::json;

// OpenAI's limit on one append: 15 MiB of base64.
constexpr std::size_t kMaxAppendChars = 15u << 20;
// Committed utterances waiting for their final decode; more means the engine cannot keep up
// with this session, whose audio is then refused until it catches up.
constexpr std::size_t kMaxPendingFinals = 16;
// A pause of this many samples (3 VAD chunks, 96 ms) is a place to cut an over-long utterance.
constexpr std::size_t kPauseSamples = 3 * kVadChunkSamples;
// Partials only from this much speech on (a shorter hypothesis is mostly noise).
constexpr std::size_t kMinPartialSamples = 8000;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The model a session's transcription.model names: a served model, or OpenAI's names for its
// own transcription models (the server's default stands in for them, as for whisper-1).
std::optional<std::string> resolve_model(const TranscriptionService& svc, const std::string& name) {
  if (auto m = svc.models->resolve(name)) return m;
  if (name.starts_with("gpt-") && name.find("transcribe") != std::string::npos) {
    return svc.models->resolve("");
  }
  return std::nullopt;
}

}  // namespace

RealtimeSession::RealtimeSession(std::shared_ptr<const TranscriptionService> service,
                                 RealtimeConfig config, std::shared_ptr<WebSocketChannel> channel,
                                 std::string id, std::string remote, bool beta)
    : service_(std::move(service)),
      config_(config),
      channel_(std::move(channel)),
      id_(std::move(id)),
      remote_(std::move(remote)) {
  settings_.beta = beta;
  if (service_->vad_model) settings_.turn_detection = ServerVadSettings{};
}

RealtimeSession::~RealtimeSession() = default;

void RealtimeSession::start() {
  std::lock_guard lock(mutex_);
  send({{"type", settings_.beta ? "transcription_session.created" : "session.created"},
        {"session", session_json(settings_, id_)}});
  service_->log->info("{} realtime session {} open", remote_, id_);
}

void RealtimeSession::send(json event) {
  event["event_id"] = "event_" + id_.substr(5) + "_" + std::to_string(++next_event_);
  channel_->send_text(dump(event));
}

void RealtimeSession::fail(const ProtocolError& error, const std::string& event_id) {
  json e = error_event(error, event_id);
  send(std::move(e));
}

std::string RealtimeSession::next_item_id() {
  return "item_" + id_.substr(5) + "_" + std::to_string(++next_item_);
}

void RealtimeSession::on_message(std::string_view data, bool text) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  if (!text) {
    fail({"invalid_value", "Binary frames are not events: send JSON text messages.", ""}, "");
    return;
  }
  const json event = json::parse(data, nullptr, false);
  if (event.is_discarded() || !event.is_object()) {
    fail({"invalid_json", "The message is not a JSON object.", ""}, "");
    return;
  }
  handle(event);
}

void RealtimeSession::handle(const json& event) {
  const std::string event_id = event.contains("event_id") && event["event_id"].is_string()
                                   ? event["event_id"].get<std::string>()
                                   : "";
  if (!event.contains("type") || !event["type"].is_string()) {
    fail({"missing_required_parameter", "Missing required parameter: 'type'.", "type"}, event_id);
    return;
  }
  const std::string type = event["type"].get<std::string>();
  if (type == "session.update" || type == "transcription_session.update") {
    RealtimeSettings next = settings_;
    if (auto error = apply_session_update(event, next)) {
      fail(*error, event_id);
      return;
    }
    const std::string model_param = next.beta ? "session.input_audio_transcription.model"
                                              : "session.audio.input.transcription.model";
    if (!resolve_model(*service_, next.model)) {
      fail({"model_not_found", "The model '" + next.model + "' is not served here.", model_param},
           event_id);
      return;
    }
    if (next.turn_detection && !service_->vad_model) {
      fail({"unsupported",
            "server_vad needs the Silero VAD model on this server (earshot models download "
            "silero-vad); set turn_detection to null and commit the audio buffer instead.",
            next.beta ? "session.turn_detection" : "session.audio.input.turn_detection"},
           event_id);
      return;
    }
    if (next.input_rate != settings_.input_rate || !resampler_) resampler_.reset();
    if (next.turn_detection.has_value() != settings_.turn_detection.has_value()) {
      // Switching between VAD and manual turns starts the buffer over.
      current_.reset();
      prefix_.clear();
      pending_.clear();
      vad_.reset();
    }
    settings_ = next;
    configured_ = true;
    send({{"type", settings_.beta ? "transcription_session.updated" : "session.updated"},
          {"session", session_json(settings_, id_)}});
    return;
  }
  if (type == "input_audio_buffer.append") {
    append(event, event_id);
    return;
  }
  if (type == "input_audio_buffer.commit") {
    if (!current_ || current_->samples.size() < 1600) {
      fail({"input_audio_buffer_commit_empty",
            "Error committing input audio buffer: buffer too small. Expected at least 100ms of "
            "audio.",
            ""},
           event_id);
      return;
    }
    if (settings_.turn_detection) {
      send({{"type", "input_audio_buffer.speech_stopped"},
            {"audio_end_ms", static_cast<long long>(ms(received_))},
            {"item_id", current_->item_id}});
    }
    commit_current();
    return;
  }
  if (type == "input_audio_buffer.clear") {
    current_.reset();
    prefix_.clear();
    pending_.clear();
    if (vad_) vad_->reset();
    silence_run_ = 0;
    send({{"type", "input_audio_buffer.cleared"}});
    return;
  }
  fail({"invalid_value",
        "Invalid value: '" + type +
            "'. A transcription session takes session.update, transcription_session.update, "
            "input_audio_buffer.append, input_audio_buffer.commit and input_audio_buffer.clear.",
        "type"},
       event_id);
}

void RealtimeSession::append(const json& event, const std::string& event_id) {
  if (!configured_) {
    fail({"session_not_configured",
          "Send session.update (or transcription_session.update) before audio: the session "
          "must know the audio's format first.",
          ""},
         event_id);
    return;
  }
  if (!event.contains("audio") || !event["audio"].is_string()) {
    fail({"missing_required_parameter", "Missing required parameter: 'audio' (base64 PCM16).",
          "audio"},
         event_id);
    return;
  }
  const auto& text = event["audio"].get_ref<const std::string&>();
  if (text.size() > kMaxAppendChars) {
    fail(
        {"invalid_value",
         "Audio of one append is limited to 15 MiB of base64; send it in smaller pieces.", "audio"},
        event_id);
    return;
  }
  const auto bytes = decode_base64(text);
  if (!bytes) {
    fail({"invalid_value", "Invalid 'audio': not base64.", "audio"}, event_id);
    return;
  }
  if (bytes->size() % 2 != 0) {
    fail({"invalid_value", "Invalid 'audio': PCM16 holds an even number of bytes.", "audio"},
         event_id);
    return;
  }
  if (finals_.size() >= kMaxPendingFinals) {
    fail({"server_busy",
          "Transcription is behind this session's audio; audio dropped until it catches up.",
          "audio"},
         event_id);
    return;
  }
  std::vector<std::int16_t> pcm(bytes->size() / 2);
  if (!pcm.empty()) std::memcpy(pcm.data(), bytes->data(), bytes->size());
  if (!resampler_) resampler_ = std::make_unique<PcmStreamResampler>(settings_.input_rate);
  std::vector<float> samples;
  resampler_->push(pcm, samples);

  if (!settings_.turn_detection) {
    const auto cap = static_cast<std::size_t>(config_.max_buffer_seconds * kSampleRate);
    if (!current_) current_ = Utterance{next_item_id(), {}, {}};
    if (current_->samples.size() + samples.size() > cap) {
      fail({"input_audio_buffer_full",
            "The input audio buffer holds " +
                std::to_string(static_cast<int>(config_.max_buffer_seconds)) +
                " s at most (realtime.max_buffer_seconds): commit it.",
            "audio"},
           event_id);
      return;
    }
    current_->samples.insert(current_->samples.end(), samples.begin(), samples.end());
    received_ += samples.size();
    return;
  }
  if (!vad_) vad_ = std::make_unique<VadStream>(service_->vad_model);
  pending_.insert(pending_.end(), samples.begin(), samples.end());
  std::size_t at = 0;
  for (; at + kVadChunkSamples <= pending_.size(); at += kVadChunkSamples) {
    process_chunk(std::span<const float>(pending_).subspan(at, kVadChunkSamples));
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(at));
  schedule();
}

void RealtimeSession::process_chunk(std::span<const float> chunk) {
  const float p = vad_->push(chunk).at(0);
  const std::size_t chunk_start = received_;
  received_ += chunk.size();
  const ServerVadSettings& vad = *settings_.turn_detection;
  const double neg = std::max(vad.threshold - 0.15, 0.01);
  if (!current_) {
    if (p >= vad.threshold) {
      begin_speech(chunk_start);
      current_->samples.insert(current_->samples.end(), chunk.begin(), chunk.end());
      return;
    }
    prefix_.insert(prefix_.end(), chunk.begin(), chunk.end());
    const auto keep = static_cast<std::size_t>(vad.prefix_padding_ms) * 16;
    while (prefix_.size() > keep) prefix_.pop_front();
    return;
  }
  current_->samples.insert(current_->samples.end(), chunk.begin(), chunk.end());
  if (p < neg) {
    silence_run_ += chunk.size();
  } else if (p >= vad.threshold) {
    if (silence_run_ >= kPauseSamples) last_pause_ = current_->samples.size() - chunk.size();
    silence_run_ = 0;
  }
  const auto silence = static_cast<std::size_t>(vad.silence_duration_ms) * 16;
  if (silence_run_ >= silence) {
    end_speech(received_ - silence_run_, false);
    return;
  }
  const auto longest = static_cast<std::size_t>(config_.max_utterance_seconds * kSampleRate);
  if (current_->samples.size() >= longest) end_speech(0, true);
}

void RealtimeSession::begin_speech(std::size_t chunk_start) {
  current_ = Utterance{next_item_id(), std::vector<float>(prefix_.begin(), prefix_.end()), {}};
  speech_start_ = chunk_start - prefix_.size();
  prefix_.clear();
  silence_run_ = 0;
  last_pause_ = 0;
  partial_at_ = 0;
  send({{"type", "input_audio_buffer.speech_started"},
        {"audio_start_ms", static_cast<long long>(ms(speech_start_))},
        {"item_id", current_->item_id}});
}

// The turn ended at `audio_end_sample` (session samples), or (`cut`) the utterance reached
// the longest Whisper takes at once: it is cut at its last pause (else where it is) and the
// rest goes on as the next utterance.
void RealtimeSession::end_speech(std::size_t audio_end_sample, bool cut) {
  std::vector<float> rest;
  if (cut) {
    const std::size_t at = last_pause_ > kSampleRate ? last_pause_ : current_->samples.size();
    rest.assign(current_->samples.begin() + static_cast<std::ptrdiff_t>(at),
                current_->samples.end());
    current_->samples.resize(at);
    audio_end_sample = speech_start_ + at;
  } else {
    // Keep a little of the silence that ended the turn, as the prefix before it.
    const auto keep = std::min<std::size_t>(
        silence_run_, static_cast<std::size_t>(settings_.turn_detection->prefix_padding_ms) * 16);
    current_->samples.resize(current_->samples.size() - silence_run_ + keep);
  }
  send({{"type", "input_audio_buffer.speech_stopped"},
        {"audio_end_ms", static_cast<long long>(ms(audio_end_sample))},
        {"item_id", current_->item_id}});
  const std::size_t next_start = audio_end_sample;
  commit_current();
  silence_run_ = 0;
  if (cut) {
    current_ = Utterance{next_item_id(), std::move(rest), {}};
    speech_start_ = next_start;
    last_pause_ = 0;
    partial_at_ = 0;
    send({{"type", "input_audio_buffer.speech_started"},
          {"audio_start_ms", static_cast<long long>(ms(speech_start_))},
          {"item_id", current_->item_id}});
  }
}

void RealtimeSession::commit_current() {
  Utterance u = std::move(*current_);
  current_.reset();
  send({{"type", "input_audio_buffer.committed"},
        {"previous_item_id", last_item_.empty() ? json(nullptr) : json(last_item_)},
        {"item_id", u.item_id}});
  last_item_ = u.item_id;
  finals_.push_back(std::move(u));
  schedule();
}

void RealtimeSession::schedule() {
  if (decoding_ || closed_) return;
  if (!finals_.empty()) {
    run_decode(finals_.front().item_id, finals_.front().samples, Decode::kFinal);
    return;
  }
  if (current_ && settings_.turn_detection) {
    const std::size_t size = current_->samples.size();
    const auto interval = static_cast<std::size_t>(config_.partial_interval_ms) * 16;
    if (size >= kMinPartialSamples && size >= partial_at_ + interval) {
      partial_at_ = size;
      run_decode(current_->item_id, current_->samples, Decode::kPartial);
    }
  }
}

void RealtimeSession::run_decode(const std::string& item_id, std::vector<float> samples,
                                 Decode kind) {
  const auto model_name = resolve_model(*service_, settings_.model).value_or("");
  TranscribeOptions options;
  options.language = settings_.language;
  options.initial_prompt = settings_.prompt;
  options.threads = service_->threads_per_job();
  options.batch_steps = service_->engine.batch_decoding && service_->engine.workers > 1;
  options.cancel = cancel_.get();
  if (kind == Decode::kPartial) {
    options.temperatures = {0.0F};  // a partial is replaced soon: no fallback ladder
  } else {
    options.word_timestamps = settings_.logprobs;
  }
  decoding_ = true;
  const std::weak_ptr<RealtimeSession> weak = weak_from_this();
  Job job;
  // Each session's own label: it holds at most one job, and the token's limit on concurrent
  // HTTP jobs does not count a session's turns against its other requests.
  job.token_label = "realtime:" + id_;
  job.cancel = cancel_;
  auto svc = service_;
  auto audio = std::make_shared<std::vector<float>>(std::move(samples));
  job.run = [weak, svc, model_name, options, audio, item_id, kind] {
    try {
      const auto start = std::chrono::steady_clock::now();
      const auto model = svc->models->acquire(model_name);
      const Transcription result = transcribe(*model, *audio, options);
      svc->metrics->record_transcription(
          result.duration,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (auto self = weak.lock()) self->decoded(item_id, kind, &result, "");
    } catch (const std::exception& e) {
      if (auto self = weak.lock()) self->decoded(item_id, kind, nullptr, e.what());
    }
  };
  job.drop = [weak, item_id, kind](const std::string& why) {
    if (auto self = weak.lock()) self->decoded(item_id, kind, nullptr, why);
  };
  const SubmitResult submitted = service_->jobs->submit(std::move(job));
  if (submitted != SubmitResult::kAccepted) {
    decoding_ = false;
    if (kind == Decode::kFinal) {
      const Utterance u = std::move(finals_.front());
      finals_.pop_front();
      send(
          {{"type", "conversation.item.input_audio_transcription.failed"},
           {"item_id", u.item_id},
           {"content_index", 0},
           {"error",
            {{"type", "server_error"},
             {"code", "server_busy"},
             {"message", "The server's transcription queue is full; the turn was not transcribed."},
             {"param", nullptr}}}});
    }
  }
}

void RealtimeSession::decoded(const std::string& item_id, Decode kind, const Transcription* result,
                              const std::string& failure) {
  std::lock_guard lock(mutex_);
  decoding_ = false;
  if (closed_) return;
  if (kind == Decode::kPartial) {
    if (result != nullptr) {
      Utterance* u = current_ && current_->item_id == item_id ? &*current_ : nullptr;
      for (auto& f : finals_) {
        if (f.item_id == item_id) u = &f;
      }
      if (u != nullptr) {
        const std::string delta = u->agreement.update(result->text);
        if (!delta.empty()) {
          send({{"type", "conversation.item.input_audio_transcription.delta"},
                {"item_id", item_id},
                {"content_index", 0},
                {"delta", delta}});
        }
      }
    }
    schedule();
    return;
  }
  if (finals_.empty() || finals_.front().item_id != item_id) {
    schedule();
    return;
  }
  Utterance u = std::move(finals_.front());
  finals_.pop_front();
  if (result == nullptr) {
    service_->log->warn("realtime session {} item {}: transcription failed: {}", id_, item_id,
                        failure);
    send({{"type", "conversation.item.input_audio_transcription.failed"},
          {"item_id", item_id},
          {"content_index", 0},
          {"error",
           {{"type", "server_error"},
            {"code", "transcription_failed"},
            {"message", failure},
            {"param", nullptr}}}});
    schedule();
    return;
  }
  const std::string delta = u.agreement.finish(result->text);
  if (!delta.empty()) {
    send({{"type", "conversation.item.input_audio_transcription.delta"},
          {"item_id", item_id},
          {"content_index", 0},
          {"delta", delta}});
  }
  json completed = {
      {"type", "conversation.item.input_audio_transcription.completed"},
      {"item_id", item_id},
      {"content_index", 0},
      {"transcript", u.agreement.given()},
      {"usage",
       {{"type", "duration"},
        {"seconds", std::round(static_cast<double>(u.samples.size()) / 16.0) / 1000.0}}}};
  if (settings_.logprobs) {
    json logprobs = json::array();
    for (const auto& s : result->segments) {
      for (const auto& w : s.words) {
        json bytes = json::array();
        for (const unsigned char c : w.word) bytes.push_back(c);
        logprobs.push_back({{"token", w.word},
                            {"logprob", std::log(std::max(w.probability, 1e-12))},
                            {"bytes", bytes}});
      }
    }
    completed["logprobs"] = logprobs;
  }
  send(std::move(completed));
  schedule();
}

void RealtimeSession::on_closed() {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  closed_ = true;
  cancel_->store(true);
  service_->log->info("{} realtime session {} closed", remote_, id_);
}

}  // namespace earshot::server
