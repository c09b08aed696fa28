// The Authorization header decision. Input: the header value; an empty input stands for a
// request without the header.

#include <cstdint>
#include <optional>
#include <string_view>

#include "server/token_auth.h"

using earshot::server::AuthOutcome;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const earshot::server::TokenAuth auth(
      {{"alice", "token1", ""},
       // sha256 of "token2"
       {"bob", "", "d8cc7aed3851ac3338fcc15df3b6807b89125837f77a75b9ecb13ed2afe3b49f"},
       {"token-3", "a-much-longer-token-with-symbols:/+=", ""}},
      {"Token", "Bearer"});
  std::optional<std::string_view> header;
  if (size > 0) header = std::string_view(reinterpret_cast<const char*>(data), size);
  const auto d = auth.decide(header);
  const int status = d.http_status();
  if (d.accepted() != (status == 200) || d.reason().empty()) __builtin_trap();
  if (!header && d.outcome != AuthOutcome::kMissingHeader) __builtin_trap();
  if (d.accepted()) {
    // Only "<scheme> <known token>" gets in, and it is named by its label.
    const auto space = header->find(' ');
    const auto token = header->substr(space + 1);
    if ((token != "token1" || d.label != "alice") && (token != "token2" || d.label != "bob") &&
        (token != "a-much-longer-token-with-symbols:/+=" || d.label != "token-3")) {
      __builtin_trap();
    }
  } else if (!d.label.empty()) {
    __builtin_trap();
  }
  return 0;
}
