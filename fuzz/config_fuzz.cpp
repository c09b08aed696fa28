// config.json: parse_config must accept a valid document or throw ConfigError, never
// anything else; an accepted token list must be usable by TokenAuth.

#include <cstdint>
#include <string>

#include "server/config.h"
#include "server/token_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = earshot::server::parse_config(text, "fuzz.json");
    if (config.http.allowed_tokens.empty()) __builtin_trap();
    const earshot::server::TokenAuth auth(config.http.allowed_tokens, config.http.auth_schemes);
    if (auth.size() != config.http.allowed_tokens.size()) __builtin_trap();
  } catch (const earshot::server::ConfigError&) {
  }
  return 0;
}
