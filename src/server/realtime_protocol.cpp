#include "server/realtime_protocol.h"

namespace earshot::server {
namespace {

using nlohmann::json;

ProtocolError invalid(std::string param, std::string message) {
  return {"invalid_value", std::move(message), std::move(param)};
}

std::optional<ProtocolError> only_keys(const json& object, const std::string& where,
                                       std::initializer_list<std::string_view> keys) {
  for (const auto& [key, unused] : object.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return ProtocolError{"unknown_parameter", "Unknown parameter: '" + where + "." + key + "'.",
                           where + "." + key};
    }
  }
  return std::nullopt;
}

std::optional<ProtocolError> read_transcription(const json& t, const std::string& where,
                                                RealtimeSettings& s) {
  if (t.is_null()) return std::nullopt;
  if (!t.is_object()) return invalid(where, "Expected an object.");
  if (auto e = only_keys(t, where, {"model", "language", "prompt"})) return e;
  if (t.contains("model")) {
    if (!t["model"].is_string()) return invalid(where + ".model", "Expected a string.");
    s.model = t["model"].get<std::string>();
  }
  if (t.contains("language")) {
    if (t["language"].is_null()) {
      s.language.clear();
    } else if (!t["language"].is_string()) {
      return invalid(where + ".language", "Expected a string.");
    } else {
      s.language = t["language"].get<std::string>();
    }
  }
  if (t.contains("prompt")) {
    if (!t["prompt"].is_string()) return invalid(where + ".prompt", "Expected a string.");
    s.prompt = t["prompt"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<ProtocolError> read_turn_detection(const json& t, const std::string& where,
                                                 RealtimeSettings& s) {
  if (t.is_null()) {
    s.turn_detection.reset();
    return std::nullopt;
  }
  if (!t.is_object()) return invalid(where, "Expected an object or null.");
  if (auto e =
          only_keys(t, where,
                    {"type", "threshold", "prefix_padding_ms", "silence_duration_ms",
                     "create_response", "interrupt_response", "idle_timeout_ms", "eagerness"})) {
    return e;
  }
  const std::string type = t.value("type", "server_vad");
  // semantic_vad ends turns by meaning in OpenAI's service; here it is the same Silero VAD.
  if (type != "server_vad" && type != "semantic_vad") {
    return invalid(where + ".type", "Expected 'server_vad' or 'semantic_vad'.");
  }
  ServerVadSettings v = s.turn_detection.value_or(ServerVadSettings{});
  if (t.contains("threshold")) {
    if (!t["threshold"].is_number() || t["threshold"].get<double>() <= 0.0 ||
        t["threshold"].get<double>() >= 1.0) {
      return invalid(where + ".threshold", "Expected a number between 0 and 1.");
    }
    v.threshold = t["threshold"].get<double>();
  }
  const auto ms = [&](const char* key, int lo, int hi, int& out) -> std::optional<ProtocolError> {
    if (!t.contains(key)) return std::nullopt;
    if (!t[key].is_number_integer() || t[key].get<long long>() < lo ||
        t[key].get<long long>() > hi) {
      return invalid(where + "." + key, "Expected an integer from " + std::to_string(lo) + " to " +
                                            std::to_string(hi) + ".");
    }
    out = t[key].get<int>();
    return std::nullopt;
  };
  if (auto e = ms("prefix_padding_ms", 0, 5000, v.prefix_padding_ms)) return e;
  if (auto e = ms("silence_duration_ms", 100, 10000, v.silence_duration_ms)) return e;
  s.turn_detection = v;
  return std::nullopt;
}

std::optional<ProtocolError> read_include(const json& i, const std::string& where,
                                          RealtimeSettings& s) {
  if (i.is_null()) {
    s.logprobs = false;
    return std::nullopt;
  }
  if (!i.is_array()) return invalid(where, "Expected an array.");
  bool logprobs = false;
  for (const auto& v : i) {
    if (!v.is_string()) return invalid(where, "Expected strings.");
    if (v == "item.input_audio_transcription.logprobs") {
      logprobs = true;
    } else {
      return invalid(where, "Unsupported include: '" + v.get<std::string>() + "'.");
    }
  }
  s.logprobs = logprobs;
  return std::nullopt;
}

std::optional<ProtocolError> read_current(const json& session, RealtimeSettings& s) {
  if (auto e = only_keys(
          session, "session",
          {"type", "audio", "include", "id", "object", "model", "expires_at", "client_secret"})) {
    return e;
  }
  if (session.contains("type") && session["type"] != "transcription") {
    return invalid("session.type",
                   "This server holds transcription sessions: expected 'transcription'.");
  }
  if (session.contains("include")) {
    if (auto e = read_include(session["include"], "session.include", s)) return e;
  }
  if (!session.contains("audio")) return std::nullopt;
  const json& audio = session["audio"];
  if (!audio.is_object()) return invalid("session.audio", "Expected an object.");
  if (auto e = only_keys(audio, "session.audio", {"input"})) return e;
  if (!audio.contains("input")) return std::nullopt;
  const json& input = audio["input"];
  const std::string where = "session.audio.input";
  if (!input.is_object()) return invalid(where, "Expected an object.");
  if (auto e = only_keys(input, where,
                         {"format", "transcription", "turn_detection", "noise_reduction"})) {
    return e;
  }
  if (input.contains("format")) {
    const json& f = input["format"];
    if (!f.is_object()) return invalid(where + ".format", "Expected an object.");
    if (f.value("type", "audio/pcm") != "audio/pcm") {
      return invalid(where + ".format.type", "Only 'audio/pcm' (PCM16 mono) is supported.");
    }
    if (f.contains("rate")) {
      if (!f["rate"].is_number_integer() ||
          (f["rate"].get<long long>() != 24000 && f["rate"].get<long long>() != 16000)) {
        return invalid(where + ".format.rate", "Expected 24000 or 16000.");
      }
      s.input_rate = f["rate"].get<int>();
    }
  }
  if (input.contains("transcription")) {
    if (auto e = read_transcription(input["transcription"], where + ".transcription", s)) return e;
  }
  if (input.contains("turn_detection")) {
    if (auto e = read_turn_detection(input["turn_detection"], where + ".turn_detection", s))
      return e;
  }
  return std::nullopt;
}

std::optional<ProtocolError> read_beta(const json& session, RealtimeSettings& s) {
  if (auto e = only_keys(session, "session",
                         {"input_audio_format", "input_audio_transcription", "turn_detection",
                          "input_audio_noise_reduction", "include", "modalities", "id", "object",
                          "expires_at", "client_secret"})) {
    return e;
  }
  if (session.contains("input_audio_format")) {
    const auto& f = session["input_audio_format"];
    if (f != "pcm16") {
      return invalid("session.input_audio_format",
                     "Only 'pcm16' (24 kHz PCM16 mono) is supported.");
    }
    s.input_rate = 24000;
  }
  if (session.contains("input_audio_transcription")) {
    if (auto e = read_transcription(session["input_audio_transcription"],
                                    "session.input_audio_transcription", s)) {
      return e;
    }
  }
  if (session.contains("turn_detection")) {
    if (auto e = read_turn_detection(session["turn_detection"], "session.turn_detection", s))
      return e;
  }
  if (session.contains("include")) {
    if (auto e = read_include(session["include"], "session.include", s)) return e;
  }
  return std::nullopt;
}

json turn_detection_json(const RealtimeSettings& s) {
  if (!s.turn_detection) return nullptr;
  return {{"type", "server_vad"},
          {"threshold", s.turn_detection->threshold},
          {"prefix_padding_ms", s.turn_detection->prefix_padding_ms},
          {"silence_duration_ms", s.turn_detection->silence_duration_ms}};
}

}  // namespace

std::optional<ProtocolError> apply_session_update(const json& event, RealtimeSettings& settings) {
  const bool beta = event.value("type", "") == "transcription_session.update";
  if (!event.contains("session") || !event["session"].is_object()) {
    return ProtocolError{"missing_required_parameter", "Missing required parameter: 'session'.",
                         "session"};
  }
  RealtimeSettings next = settings;
  next.beta = beta;
  auto error = beta ? read_beta(event["session"], next) : read_current(event["session"], next);
  if (error) return error;
  settings = next;
  return std::nullopt;
}

json session_json(const RealtimeSettings& s, const std::string& id) {
  const json transcription = {{"model", s.model}, {"language", s.language}, {"prompt", s.prompt}};
  json include = json::array();
  if (s.logprobs) include.push_back("item.input_audio_transcription.logprobs");
  if (s.beta) {
    return {{"id", id},
            {"object", "realtime.transcription_session"},
            {"input_audio_format", "pcm16"},
            {"input_audio_transcription", transcription},
            {"turn_detection", turn_detection_json(s)},
            {"input_audio_noise_reduction", nullptr},
            {"include", include}};
  }
  return {{"type", "transcription"},
          {"id", id},
          {"object", "realtime.transcription_session"},
          {"audio",
           {{"input",
             {{"format", {{"type", "audio/pcm"}, {"rate", s.input_rate}}},
              {"transcription", transcription},
              {"turn_detection", turn_detection_json(s)},
              {"noise_reduction", nullptr}}}}},
          {"include", include}};
}

json error_event(const ProtocolError& e, const std::string& event_id) {
  return {{"type", "error"},
          {"error",
           {{"type", "invalid_request_error"},
            {"code", e.code},
            {"message", e.message},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"event_id", event_id.empty() ? json(nullptr) : json(event_id)}}}};
}

std::optional<std::string> decode_base64(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3 + 3);
  std::uint32_t bits = 0;
  int count = 0;
  std::size_t padding = 0;
  for (const char c : text) {
    int v = 0;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else {
      return std::nullopt;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    if (++count == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xFF));
      out.push_back(static_cast<char>((bits >> 8) & 0xFF));
      out.push_back(static_cast<char>(bits & 0xFF));
      bits = 0;
      count = 0;
    }
  }
  if (count == 1 || padding > 2) return std::nullopt;
  if (count == 2) out.push_back(static_cast<char>((bits >> 4) & 0xFF));
  if (count == 3) {
    out.push_back(static_cast<char>((bits >> 10) & 0xFF));
    out.push_back(static_cast<char>((bits >> 2) & 0xFF));
  }
  return out;
}

}  // namespace earshot::server
