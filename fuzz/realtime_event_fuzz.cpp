// A realtime session's client events: session updates in either shape must be applied or
// refused with a ProtocolError (leaving the settings as they were), and base64 audio decoded
// or refused, for any bytes.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "server/realtime_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using earshot::server::RealtimeSettings;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto event = nlohmann::json::parse(text, nullptr, false);
  if (event.is_object()) {
    RealtimeSettings settings;
    const RealtimeSettings before = settings;
    const auto error = earshot::server::apply_session_update(event, settings);
    if (error && (settings.model != before.model || settings.input_rate != before.input_rate)) {
      __builtin_trap();
    }
    if (!error && settings.input_rate != 16000 && settings.input_rate != 24000) __builtin_trap();
    (void)earshot::server::session_json(settings, "sess_fuzz").dump();
    if (event.contains("audio") && event["audio"].is_string()) {
      (void)earshot::server::decode_base64(event["audio"].get<std::string>());
    }
  }
  if (const auto bytes = earshot::server::decode_base64(text)) {
    if (bytes->size() > text.size()) __builtin_trap();
  }
  return 0;
}
