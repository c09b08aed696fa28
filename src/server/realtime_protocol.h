#pragma once

// OpenAI's Realtime API transcription sessions as earshot speaks them: the session's
// settings, read from a client's session.update (the current shape, session.type =
// "transcription") or transcription_session.update (the earlier beta shape), and the JSON of
// the server's events. Pure functions of their inputs, tested without a socket.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace earshot::server {

struct ServerVadSettings {
  double threshold = 0.5;         // speech at a Silero probability at or above this
  int prefix_padding_ms = 300;    // audio kept before the speech started
  int silence_duration_ms = 500;  // this much silence ends the turn
};

struct RealtimeSettings {
  bool beta = false;       // the client speaks the beta shape: answer in it
  int input_rate = 24000;  // PCM16 mono sample rate of input_audio_buffer.append
  std::string model = "whisper-1";
  std::string language;  // "" = detect
  std::string prompt;
  std::optional<ServerVadSettings> turn_detection;  // nullopt: the client commits
  bool logprobs = false;  // include: item.input_audio_transcription.logprobs
};

// An event the client sent that cannot be used: answered with an `error` event.
struct ProtocolError {
  std::string code;  // "invalid_value", "unknown_parameter", ...
  std::string message;
  std::string param;  // "session.audio.input.format.rate", ...
};

// Applies a session.update / transcription_session.update event's "session" to `settings`
// (fields it does not name stay). nullopt when applied; else the first error, and
// `settings` unchanged.
std::optional<ProtocolError> apply_session_update(const nlohmann::json& event,
                                                  RealtimeSettings& settings);

// The "session" object of session.created / session.updated (or the beta
// transcription_session.*), in the shape `settings.beta` names.
nlohmann::json session_json(const RealtimeSettings& settings, const std::string& id);

// An error event in OpenAI's shape; `event_id` is the client's event it answers, if it had one.
nlohmann::json error_event(const ProtocolError& error, const std::string& event_id);

// Strict base64 (RFC 4648, padding optional) to bytes; nullopt on any other character.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace earshot::server
