#pragma once

// The token check of the original aiohttp middleware, decision for decision:
//   no Authorization header                 -> 401 "Missing authorization header"
//   not exactly "<scheme> <token>"          -> 403 "Invalid authorization header"
//   scheme not accepted (case-insensitive)  -> 403 "Invalid token scheme"
//   unknown token                           -> 403 "Token doesn't exist"
// Tokens are kept only as SHA-256 digests and compared in constant time.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"

namespace earshot::server {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::string_view data);

enum class AuthOutcome { kAccepted, kMissingHeader, kInvalidHeader, kInvalidScheme, kUnknownToken };

struct AuthDecision {
  AuthOutcome outcome = AuthOutcome::kMissingHeader;
  std::string label;  // the accepted token's label (never the token)

  bool accepted() const { return outcome == AuthOutcome::kAccepted; }
  int http_status() const;          // 200, 401 or 403
  std::string_view reason() const;  // the original server's message
};

// A browser cannot set headers on a WebSocket: OpenAI's browser client passes the key as a
// subprotocol "openai-insecure-api-key.<key>", which the WebSocket routes accept as a token.
inline constexpr std::string_view kSubprotocolKeyPrefix = "openai-insecure-api-key.";

class TokenAuth {
 public:
  // Hashes plaintext tokens; ConfigError-free: the config parser already validated entries.
  TokenAuth(const std::vector<TokenEntry>& tokens, std::vector<std::string> schemes);

  // `header` is the Authorization value, or nullopt when the request has none.
  AuthDecision decide(std::optional<std::string_view> header) const;

  std::size_t size() const { return tokens_.size(); }

 private:
  struct Known {
    Sha256Digest digest;
    std::string label;
  };
  std::vector<Known> tokens_;
  std::vector<std::string> schemes_;  // lower-cased
};

}  // namespace earshot::server
