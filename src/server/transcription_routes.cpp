#include "server/transcription_routes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "earshot/audio.h"
#include "earshot/whisper.h"
#include "format/language_names.h"
#include "format/output_format.h"
#include "format/render.h"
#include "server/ascii.h"
#include "server/limit_breach.h"
#include "server/multipart.h"
#include "server/query.h"

namespace earshot::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A request error: status, message and the parameter at fault; `breach` names the resource
// limit it went over, when that is why it is refused (logged once, where it is answered).
class RequestError : public std::runtime_error {
 public:
  RequestError(http::status s, const std::string& message, std::string p = {}, std::string c = {},
               std::optional<LimitBreach> b = std::nullopt)
      : std::runtime_error(message),
        status(s),
        param(std::move(p)),
        code(std::move(c)),
        breach(std::move(b)) {}
  http::status status;
  std::string param;
  std::string code;
  std::optional<LimitBreach> breach;
};

std::string answered(http::status status) {
  return "answered " + std::to_string(static_cast<unsigned>(status));
}

// Which answer shape the client expects.
enum class Shape {
  kOriginal,  // /stt: {"text", "proc_duration", "status"}
  kFormat,    // a response_format rendered by src/format
};

struct TranscriptionRequest {
  std::shared_ptr<std::string> body;  // owns the bytes `audio` views
  std::string_view audio;
  std::string model;
  TranscribeOptions options;
  Shape shape = Shape::kFormat;
  OutputFormat format = OutputFormat::kJson;
  bool stream = false;
  bool detect_language_only = false;
  bool segment_granularity = false;  // timestamp_granularities[] named "segment"
  bool word_granularity = false;     // ... "word": word timestamps, top-level "words"
  ErrorStyle style = ErrorStyle::kOpenAI;
  unsigned version = 11;
  bool keep_alive = true;
  std::string remote;  // the client's "address:port", for logs
};

Response error_reply(const TranscriptionRequest& r, http::status status, std::string_view message,
                     std::string_view param = {}, std::string_view code = {}) {
  return error_response(status, message, r.style, r.version, r.keep_alive, param, code);
}

std::string json_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void apply_task(const std::string& value, TranscribeOptions& o, const std::string& param) {
  if (value == "transcribe") {
    o.task = Task::kTranscribe;
  } else if (value == "translate") {
    o.task = Task::kTranslate;
  } else {
    throw RequestError{http::status::bad_request, "task must be 'transcribe' or 'translate'",
                       param};
  }
}

void apply_language(const std::string& value, TranscribeOptions& o) {
  if (value.empty() || value == "auto") {
    o.language.clear();
    return;
  }
  if (value.size() > 16)
    throw RequestError{http::status::bad_request, "language is not a language code", "language"};
  o.language = ascii_lower(value);
}

void apply_format(const std::string& value, TranscriptionRequest& r) {
  const auto f = parse_output_format(value);
  if (!f) {
    throw RequestError{http::status::bad_request,
                       "response_format must be one of " + std::string(kOutputFormatNames),
                       "response_format"};
  }
  r.format = *f;
  r.shape = Shape::kFormat;
}

void apply_temperature(const std::string& value, TranscribeOptions& o) {
  char* end = nullptr;
  const float t = std::strtof(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !(t >= 0.0f && t <= 1.0f)) {
    throw RequestError{http::status::bad_request, "temperature must be a number from 0 to 1",
                       "temperature"};
  }
  // OpenAI's API: temperature 0 keeps the fallback ladder; a given temperature is used alone.
  if (t > 0) o.temperatures = {t};
}

// A whole string as a finite number.
bool parse_double(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && std::isfinite(out);
}

// OpenAI's chunking_strategy: "auto", or {"type": "server_vad", "threshold", "prefix_padding_ms",
// "silence_duration_ms"}: the audio is cut at the pauses a VAD finds (Silero when the server
// has its model) and only the speech is transcribed, with times on the original audio.
// SDKs send the object as JSON text, or (OpenAI's Node SDK) as fields chunking_strategy[key],
// which the caller gathers into `fields`.
void apply_chunking_strategy(const std::string& value, const nlohmann::json& fields,
                             TranscribeOptions& o) {
  const std::string param = "chunking_strategy";
  if (value == "auto") {
    o.vad = true;
    return;
  }
  nlohmann::json j = value.empty() ? fields : nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object() || j.value("type", "") != "server_vad") {
    throw RequestError{http::status::bad_request,
                       "chunking_strategy must be \"auto\" or an object with \"type\": "
                       "\"server_vad\"",
                       param};
  }
  o.vad = true;
  const auto number = [&](const char* key, double lo, double hi) -> std::optional<double> {
    if (!j.contains(key)) return std::nullopt;
    double v = 0;
    if (j[key].is_number()) {
      v = j[key].get<double>();
    } else if (!j[key].is_string() || !parse_double(j[key].get<std::string>(), v)) {
      v = lo - 1;
    }
    if (v < lo || v > hi) {
      char range[64];
      std::snprintf(range, sizeof range, " must be a number from %g to %g", lo, hi);
      throw RequestError{http::status::bad_request, param + "." + key + range, param};
    }
    return v;
  };
  if (const auto t = number("threshold", 0.01, 0.99)) o.vad_options.threshold = *t;
  if (const auto pad = number("prefix_padding_ms", 0, 10000)) o.vad_options.speech_pad_ms = *pad;
  if (const auto sil = number("silence_duration_ms", 0, 60000)) o.vad_options.min_silence_ms = *sil;
  for (const auto& [key, unused] : j.items()) {
    if (key != "type" && key != "threshold" && key != "prefix_padding_ms" &&
        key != "silence_duration_ms") {
      throw RequestError{http::status::bad_request, "unknown chunking_strategy field '" + key + "'",
                         param};
    }
  }
}

bool parse_bool(const std::string& value, const std::string& param) {
  if (value == "true" || value == "1" || value == "True") return true;
  if (value == "false" || value == "0" || value == "False" || value.empty()) return false;
  throw RequestError{http::status::bad_request, param + " must be true or false", param};
}

// /stt: the body is the audio; options come from the query string.
TranscriptionRequest parse_stt(Request& req, const RequestContext& ctx) {
  TranscriptionRequest r;
  r.style = ErrorStyle::kOriginal;
  r.shape = Shape::kOriginal;
  r.body = std::make_shared<std::string>(std::move(req.body()));
  r.audio = *r.body;
  for (const auto& [key, value] : parse_query(ctx.query)) {
    if (key == "language") {
      apply_language(value, r.options);
    } else if (key == "task") {
      apply_task(value, r.options, key);
    } else if (key == "response_format") {
      apply_format(value, r);
    } else if (key == "model") {
      r.model = value;
    } else if (key == "prompt") {
      r.options.initial_prompt = value;
    } else if (key == "vad" || key == "vad_filter") {
      r.options.vad = parse_bool(value, key);
    } else {
      throw RequestError{http::status::bad_request, "unknown query parameter '" + key + "'", key};
    }
  }
  if (r.audio.empty())
    throw RequestError{http::status::bad_request, "the request body holds no audio", "body"};
  return r;
}

// /v1/audio/*: multipart/form-data as OpenAI's API takes it.
TranscriptionRequest parse_openai(Request& req, bool translate, bool detect_only) {
  TranscriptionRequest r;
  r.style = ErrorStyle::kOpenAI;
  r.detect_language_only = detect_only;
  if (translate) r.options.task = Task::kTranslate;
  r.body = std::make_shared<std::string>(std::move(req.body()));
  const auto type = req[http::field::content_type];
  const auto boundary = multipart_boundary(std::string_view(type.data(), type.size()));
  if (!boundary) {
    throw RequestError{http::status::bad_request,
                       "expected a multipart/form-data body with the audio in the 'file' field",
                       "file"};
  }
  std::vector<MultipartPart> parts;
  std::optional<std::string> chunking;
  nlohmann::json chunking_fields = nlohmann::json::object();
  try {
    parts = parse_multipart(*r.body, *boundary);
  } catch (const MultipartLimitError& e) {
    const bool bytes = e.limit() != "max_parts";
    throw RequestError{
        http::status::bad_request, std::string("malformed multipart body: ") + e.what(), "", "",
        LimitBreach{.limit = "multipart " + e.limit(),
                    .configured = std::to_string(e.configured()) + (bytes ? " bytes" : " parts"),
                    .detail = e.what()}};
  } catch (const MultipartError& e) {
    throw RequestError{http::status::bad_request,
                       std::string("malformed multipart body: ") + e.what(), ""};
  }
  bool have_file = false;
  for (const auto& p : parts) {
    const std::string value(p.data);
    if (p.name == "file") {
      if (have_file)
        throw RequestError{http::status::bad_request, "more than one 'file' field", "file"};
      have_file = true;
      r.audio = p.data;
    } else if (p.name == "model") {
      r.model = value;
    } else if (p.name == "language" && !translate) {
      apply_language(value, r.options);
    } else if (p.name == "prompt") {
      r.options.initial_prompt = value;
    } else if (p.name == "response_format") {
      apply_format(value, r);
    } else if (p.name == "temperature") {
      apply_temperature(value, r.options);
    } else if (p.name == "stream") {
      r.stream = parse_bool(value, "stream");
    } else if (p.name == "timestamp_granularities[]" || p.name == "timestamp_granularities") {
      if (value == "word") {
        r.word_granularity = true;
        r.options.word_timestamps = true;
      } else if (value == "segment") {
        r.segment_granularity = true;
      } else {
        throw RequestError{http::status::bad_request,
                           "timestamp_granularities must be 'segment' or 'word'",
                           "timestamp_granularities[]"};
      }
    } else if (p.name == "chunking_strategy") {
      chunking = value;
    } else if (p.name.starts_with("chunking_strategy[") && p.name.ends_with("]")) {
      chunking_fields[p.name.substr(18, p.name.size() - 19)] = value;
    } else if (p.name == "vad" || p.name == "vad_filter") {
      r.options.vad = parse_bool(value, p.name);
    } else if (p.name == "include[]") {
      // Accepted and ignored: OpenAI's logprobs are for its gpt-4o transcription models.
    } else {
      throw RequestError{http::status::bad_request, "unknown parameter '" + p.name + "'", p.name};
    }
  }
  if (chunking || !chunking_fields.empty()) {
    apply_chunking_strategy(chunking.value_or(""), chunking_fields, r.options);
  }
  if (!have_file)
    throw RequestError{http::status::bad_request, "the 'file' field is required", "file"};
  if (r.audio.empty())
    throw RequestError{http::status::bad_request, "the uploaded file is empty", "file"};
  if (!detect_only && r.model.empty())
    throw RequestError{http::status::bad_request, "the 'model' field is required", "model"};
  return r;
}

std::string stt_success(const Transcription& t, double seconds) {
  std::string text = t.text;
  const auto first = text.find_first_not_of(" \t\n");
  text = first == std::string::npos
             ? ""
             : text.substr(first, text.find_last_not_of(" \t\n") - first + 1);
  return json_text({{"text", text},
                    {"proc_duration", std::round(seconds * 1000) / 1000},
                    {"status", "success"}});
}

std::string sse_event(const json& event) {
  return "data: " + json_text(event) + "\n\n";
}

// The request's audio as 16 kHz samples; a RequestError when it is too long or not audio.
std::vector<float> decode_request_audio(const TranscriptionService& svc,
                                        const TranscriptionRequest& r) {
  AudioDecodeOptions audio_options;
  audio_options.max_seconds = svc.engine.max_audio_seconds;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(r.audio.data());
  try {
    return decode_audio({bytes, r.audio.size()}, audio_options);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) {
      throw RequestError{http::status::payload_too_large,
                         "the audio is longer than this server's limit of " +
                             std::to_string(static_cast<long>(svc.engine.max_audio_seconds)) +
                             " seconds",
                         "", "audio_too_long",
                         LimitBreach{.limit = "engine.max_audio_seconds",
                                     .configured = seconds_text(svc.engine.max_audio_seconds),
                                     .detail = "decoded audio longer than the limit"}};
    }
    throw RequestError{http::status::bad_request,
                       std::string("the audio cannot be decoded: ") + e.what(), "",
                       "invalid_audio"};
  }
}

// /v1/audio/detect-language's answer: the likeliest language and every probability.
Response language_response(const TranscriptionRequest& r,
                           const std::vector<LanguageProbability>& probs) {
  json all = json::object();
  for (const auto& p : probs) all[p.code] = p.probability;
  json body = {
      {"language", probs.empty() ? "" : probs.front().code},
      {"language_name", probs.empty() ? "" : std::string(language_name(probs.front().code))},
      {"probability", probs.empty() ? 0.0 : probs.front().probability},
      {"probabilities", all}};
  return json_response(http::status::ok, json_text(body), r.version, r.keep_alive);
}

// Starts the Server-Sent Events answer and has each finished segment sent as a delta event.
void start_event_stream(const TranscriptionRequest& r, const std::shared_ptr<Exchange>& ex,
                        TranscribeOptions& options) {
  Response head{http::status::ok, r.version};
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  ex->start_stream(std::move(head));
  options.on_segment = [ex](const Segment& s) {
    // OpenAI's delta event carries only text; id, start and end (seconds), and the
    // segment's words when asked for, are additions that its SDKs pass through, so that
    // a client can show timed segments live.
    json event = {{"type", "transcript.text.delta"},
                  {"delta", s.text},
                  {"id", s.id},
                  {"start", s.start},
                  {"end", s.end}};
    if (!s.words.empty()) {
      json words = json::array();
      for (const Word& w : s.words) {
        words.push_back({{"word", w.word}, {"start", w.start}, {"end", w.end}});
      }
      event["words"] = std::move(words);
    }
    ex->write(sse_event(event));
  };
}

// A finished transcription in the shape the request asked for.
Response result_response(const TranscriptionRequest& r, const Transcription& result,
                         double seconds) {
  if (r.shape == Shape::kOriginal) {
    auto res =
        json_response(http::status::ok, stt_success(result, seconds), r.version, r.keep_alive);
    if (!result.vad.empty()) res.set("X-Earshot-VAD", result.vad);
    return res;
  }
  Response res{http::status::ok, r.version};
  res.set(http::field::content_type, std::string(content_type(r.format)));
  // OpenAI's default granularity is the segment; "word" alone gives words without segments.
  res.body() =
      render_transcription(result, r.format,
                           {.task = r.options.task,
                            .segment_granularity = r.segment_granularity || !r.word_granularity,
                            .word_granularity = r.word_granularity});
  if (!result.vad.empty()) res.set("X-Earshot-VAD", result.vad);
  res.keep_alive(r.keep_alive);
  res.prepare_payload();
  return res;
}

// How a job that did not finish is answered: its error, or an error event ending its stream.
class JobFailure {
 public:
  JobFailure(const TranscriptionRequest& r, const std::shared_ptr<Exchange>& ex,
             const bool& streaming)
      : r_(r), ex_(ex), streaming_(streaming) {}

  void operator()(http::status status, std::string_view message, std::string_view code) const {
    if (streaming_) {
      ex_->write(sse_event({{"type", "error"}, {"error", {{"message", message}, {"code", code}}}}));
      ex_->finish();
    } else {
      ex_->respond(error_reply(r_, status, message, {}, code));
    }
  }

 private:
  const TranscriptionRequest& r_;
  const std::shared_ptr<Exchange>& ex_;
  const bool& streaming_;
};

// An engine error as the client hears it: cancelled (by the request deadline, shutdown or a
// client gone), bad input, or an internal failure.
void answer_engine_error(const TranscriptionService& svc, const TranscriptionRequest& r,
                         const Error& e, bool deadline_passed, bool streaming,
                         const JobFailure& fail) {
  switch (e.code()) {
    case ErrorCode::kCancelled:
      if (deadline_passed) {
        const double timeout = std::chrono::duration<double>(svc.engine.request_timeout).count();
        char limit[32];
        std::snprintf(limit, sizeof limit, "%g", timeout);
        log_limit_breach(*svc.log, r.remote,
                         {.limit = "engine.request_timeout",
                          .configured = seconds_text(timeout),
                          .detail = "the transcription was stopped"},
                         streaming ? "ended the stream with an error event"
                                   : answered(http::status::gateway_timeout));
        fail(http::status::gateway_timeout,
             std::string("the transcription took longer than this server's limit of ") + limit +
                 " seconds",
             "timeout");
      } else if (svc.shutting_down != nullptr && svc.shutting_down->load()) {
        fail(http::status::service_unavailable, "the server is shutting down", "shutting_down");
      } else {
        fail(http::status::service_unavailable, "the request was cancelled",
             "cancelled");  // client gone
      }
      return;
    case ErrorCode::kInvalidArgument:
      fail(http::status::bad_request, e.what(), "invalid_request");
      return;
    case ErrorCode::kAudioDecode:
      fail(http::status::bad_request, std::string("the audio cannot be decoded: ") + e.what(),
           "invalid_audio");
      return;
    default:
      svc.log->error("transcription failed: {}", e.what());
      fail(http::status::internal_server_error, e.what(), "internal_error");
  }
}

// The worker-side half of a request: decode, load, transcribe, answer.
void run_job(const TranscriptionService& svc, const TranscriptionRequest& r,
             const std::shared_ptr<Exchange>& ex,
             const std::shared_ptr<std::atomic<bool>>& cancel) {
  const auto start = Clock::now();
  const auto timer = svc.watchdog->arm(start + svc.engine.request_timeout, cancel);
  bool streaming = false;
  const JobFailure fail(r, ex, streaming);
  try {
    const std::vector<float> samples = decode_request_audio(svc, r);
    const auto model = svc.models->acquire(r.model);
    const int threads = svc.threads_per_job();

    if (r.detect_language_only) {
      const auto probs = detect_language(*model, samples, threads);
      svc.watchdog->disarm(timer);
      ex->respond(language_response(r, probs));
      return;
    }

    TranscribeOptions options = r.options;
    if (options.vad) options.vad_model = svc.vad_model;
    options.threads = threads;
    options.batch_steps = svc.engine.batch_decoding && svc.engine.workers > 1;
    options.cancel = cancel.get();
    if (r.stream) {
      start_event_stream(r, ex, options);
      streaming = true;
    }
    const auto result = transcribe(*model, samples, options);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    svc.watchdog->disarm(timer);
    svc.metrics->record_transcription(result.duration, seconds);
    svc.metrics->set_model_load_seconds(svc.models->last_load_seconds());

    if (streaming) {
      std::string text = result.text;
      const auto first = text.find_first_not_of(' ');
      text = first == std::string::npos ? "" : text.substr(first);
      ex->write(sse_event({{"type", "transcript.text.done"}, {"text", text}}));
      ex->finish();
      return;
    }
    ex->respond(result_response(r, result, seconds));
  } catch (const RequestError& b) {
    svc.watchdog->disarm(timer);
    if (b.breach) log_limit_breach(*svc.log, r.remote, *b.breach, answered(b.status));
    fail(b.status, b.what(), b.code);
  } catch (const Error& e) {
    svc.watchdog->disarm(timer);
    answer_engine_error(svc, r, e, timer->fired, streaming, fail);
  } catch (const std::exception& e) {
    svc.watchdog->disarm(timer);
    svc.log->error("transcription failed: {}", e.what());
    fail(http::status::internal_server_error, "internal error", "internal_error");
  }
}

void submit(const std::shared_ptr<const TranscriptionService>& svc, TranscriptionRequest r,
            const RequestContext& ctx, const std::shared_ptr<Exchange>& ex) {
  if (svc->models->empty()) {
    ex->respond(error_reply(
        r, http::status::service_unavailable,
        "no model is configured on this server: get one with `earshot models download base.en` "
        "and start it with `earshot serve --model base.en`",
        "model", "model_not_configured"));
    return;
  }
  if (!r.detect_language_only && !svc->models->resolve(r.model)) {
    ex->respond(error_reply(r, http::status::not_found,
                            "model '" + r.model + "' does not exist on this server", "model",
                            "model_not_found"));
    return;
  }
  auto request = std::make_shared<TranscriptionRequest>(std::move(r));
  Job job;
  job.token_label = ctx.token_label;
  job.cancel = ex->client_gone();
  auto cancel = job.cancel;
  job.run = [svc, request, ex, cancel] { run_job(*svc, *request, ex, cancel); };
  job.drop = [request, ex](const std::string& why) {
    ex->respond(error_reply(*request, http::status::service_unavailable, why, {}, "unavailable"));
  };
  auto reply_busy = [&](http::status status, const std::string& message, const char* code) {
    auto res = error_reply(*request, status, message, {}, code);
    res.set(http::field::retry_after, "5");
    ex->respond(std::move(res));
  };
  auto log_busy = [&](const char* limit, std::size_t configured, std::string detail,
                      http::status status) {
    log_limit_breach(
        *svc->log, request->remote,
        {.limit = limit, .configured = std::to_string(configured), .detail = std::move(detail)},
        answered(status));
  };
  switch (svc->jobs->submit(std::move(job))) {
    case SubmitResult::kAccepted:
      break;
    case SubmitResult::kQueueFull:
      log_busy("engine.max_queued_jobs", svc->jobs->options().max_queued, "the queue is full",
               http::status::service_unavailable);
      reply_busy(http::status::service_unavailable, "the server is busy; try again shortly",
                 "queue_full");
      break;
    case SubmitResult::kTokenBusy:
      log_busy("engine.max_jobs_per_token", svc->jobs->options().max_jobs_per_token,
               "token " + ctx.token_label + " has that many jobs queued or running",
               http::status::too_many_requests);
      reply_busy(http::status::too_many_requests,
                 "too many transcriptions at once for this token (limit " +
                     std::to_string(svc->jobs->options().max_jobs_per_token) + ")",
                 "too_many_jobs");
      break;
    case SubmitResult::kShuttingDown:
      reply_busy(http::status::service_unavailable, "the server is shutting down", "shutting_down");
      break;
  }
}

template <class Parse>
Handler transcription_handler(std::shared_ptr<const TranscriptionService> svc, ErrorStyle style,
                              Parse parse) {
  return
      [svc, style, parse](Request& req, const RequestContext& ctx, std::shared_ptr<Exchange> ex) {
        const unsigned version = req.version();
        const bool keep_alive = req.keep_alive();
        TranscriptionRequest r;
        try {
          r = parse(req, ctx);
        } catch (const RequestError& b) {
          if (b.breach) log_limit_breach(*svc->log, ctx.remote, *b.breach, answered(b.status));
          TranscriptionRequest shape;
          shape.style = style;
          shape.version = version;
          shape.keep_alive = keep_alive;
          ex->respond(error_reply(shape, b.status, b.what(), b.param));
          return;
        }
        r.version = version;
        r.keep_alive = keep_alive;
        r.remote = ctx.remote;
        submit(svc, std::move(r), ctx, ex);
      };
}

}  // namespace

int TranscriptionService::threads_per_job() const {
  if (engine.threads_per_worker > 0) return engine.threads_per_worker;
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int>(
      std::max<std::size_t>(1, cores / std::max<std::size_t>(1, engine.workers)));
}

void add_transcription_routes(Router& router, std::shared_ptr<const TranscriptionService> service) {
  if (!service->log) {
    // Every job logs through service->log; a service given none logs nowhere.
    auto quiet = std::make_shared<TranscriptionService>(*service);
    quiet->log = std::make_shared<spdlog::logger>("earshot-quiet");
    service = std::move(quiet);
  }
  router.add({.path = "/stt",
              .methods = {http::verb::get, http::verb::post},
              .authenticated = true,
              .error_style = ErrorStyle::kOriginal,
              .handler = transcription_handler(service, ErrorStyle::kOriginal, parse_stt)});
  router.add({.path = "/v1/audio/transcriptions",
              .methods = {http::verb::post},
              .authenticated = true,
              .error_style = ErrorStyle::kOpenAI,
              .handler = transcription_handler(service, ErrorStyle::kOpenAI,
                                               [](Request& req, const RequestContext&) {
                                                 return parse_openai(req, false, false);
                                               })});
  router.add({.path = "/v1/audio/translations",
              .methods = {http::verb::post},
              .authenticated = true,
              .error_style = ErrorStyle::kOpenAI,
              .handler = transcription_handler(service, ErrorStyle::kOpenAI,
                                               [](Request& req, const RequestContext&) {
                                                 return parse_openai(req, true, false);
                                               })});
  router.add({.path = "/v1/audio/detect-language",
              .methods = {http::verb::post},
              .authenticated = true,
              .error_style = ErrorStyle::kOpenAI,
              .handler = transcription_handler(service, ErrorStyle::kOpenAI,
                                               [](Request& req, const RequestContext&) {
                                                 return parse_openai(req, false, true);
                                               })});
  router.add(
      {.path = "/v1/models",
       .methods = {http::verb::get},
       .authenticated = true,
       .error_style = ErrorStyle::kOpenAI,
       .handler = [service](Request& req, const RequestContext&, std::shared_ptr<Exchange> ex) {
         json data = json::array();
         auto entry = [](const std::string& id) {
           return json{{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "earshot"}};
         };
         if (!service->models->default_name().empty()) data.push_back(entry("whisper-1"));
         for (const auto& name : service->models->names()) data.push_back(entry(name));
         ex->respond(json_response(http::status::ok,
                                   json_text({{"object", "list"}, {"data", data}}), req.version(),
                                   req.keep_alive()));
       }});
}

}  // namespace earshot::server
