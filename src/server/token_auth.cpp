#include "server/token_auth.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server/ascii.h"

namespace earshot::server {
namespace {

Sha256Digest digest_from_hex(const std::string& hex) {
  Sha256Digest d{};
  auto nibble = [](char c) -> std::uint8_t {
    return static_cast<std::uint8_t>(c <= '9' ? c - '0' : std::tolower(c) - 'a' + 10);
  };
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return d;
}

}  // namespace

Sha256Digest sha256(std::string_view data) {
  Sha256Digest d{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != d.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return d;
}

int AuthDecision::http_status() const {
  switch (outcome) {
    case AuthOutcome::kAccepted:
      return 200;
    case AuthOutcome::kMissingHeader:
      return 401;
    default:
      return 403;
  }
}

std::string_view AuthDecision::reason() const {
  switch (outcome) {
    case AuthOutcome::kAccepted:
      return "OK";
    case AuthOutcome::kMissingHeader:
      return "Missing authorization header";
    case AuthOutcome::kInvalidHeader:
      return "Invalid authorization header";
    case AuthOutcome::kInvalidScheme:
      return "Invalid token scheme";
    case AuthOutcome::kUnknownToken:
      return "Token doesn't exist";
  }
  return "";
}

TokenAuth::TokenAuth(const std::vector<TokenEntry>& tokens, std::vector<std::string> schemes) {
  for (const auto& t : tokens) {
    tokens_.push_back(
        {t.sha256_hex.empty() ? sha256(t.plaintext) : digest_from_hex(t.sha256_hex), t.label});
  }
  for (auto& s : schemes) schemes_.push_back(ascii_lower(s));
}

AuthDecision TokenAuth::decide(std::optional<std::string_view> header) const {
  AuthDecision d;
  if (!header) {
    d.outcome = AuthOutcome::kMissingHeader;
    return d;
  }
  // The original split the value on one space and required exactly two parts: so one
  // separating space, no empty scheme or token, and nothing else.
  const std::string_view value = *header;
  const auto space = value.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= value.size() ||
      value.find(' ', space + 1) != std::string_view::npos) {
    d.outcome = AuthOutcome::kInvalidHeader;
    return d;
  }
  const auto scheme = ascii_lower(value.substr(0, space));
  if (std::find(schemes_.begin(), schemes_.end(), scheme) == schemes_.end()) {
    d.outcome = AuthOutcome::kInvalidScheme;
    return d;
  }
  // Hash the presented token and compare with every known digest without an early exit, so
  // the time taken says nothing about which token matched or how much of it.
  const auto presented = sha256(value.substr(space + 1));
  const Known* match = nullptr;
  for (const auto& known : tokens_) {
    const bool equal = CRYPTO_memcmp(known.digest.data(), presented.data(), presented.size()) == 0;
    if (equal && match == nullptr) match = &known;
  }
  if (match == nullptr) {
    d.outcome = AuthOutcome::kUnknownToken;
    return d;
  }
  d.outcome = AuthOutcome::kAccepted;
  d.label = match->label;
  return d;
}

}  // namespace earshot::server
