#pragma once

// What the server decides from a request's header alone, before its body is read: the
// route, the token, the method and the declared size. A pure function of the header and
// the server's settings, so that each rule is tested without a socket; the session carries
// out the verdict (answers, logs the breach, records a failed authentication).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "server/config.h"
#include "server/limit_breach.h"
#include "server/router.h"
#include "server/token_auth.h"

namespace earshot::server {

// A refused request: the answer, and what the session must also do.
struct HeaderRefusal {
  http::status status = http::status::bad_request;
  std::string message;
  std::optional<std::string> allow;        // the Allow header of a 405
  std::optional<std::string> retry_after;  // the Retry-After header of a 429
  std::optional<LimitBreach> breach;       // a resource limit went over: log it once
  bool auth_failed = false;                // count a failed authentication for the address
};

struct HeaderAdmission {
  const Route* route = nullptr;  // nullptr for an unknown path
  std::string path;              // the target without the query
  std::string query;             // after '?', undecoded
  ErrorStyle style = ErrorStyle::kOriginal;
  std::string token_label;               // the accepted token's label, on authenticated routes
  std::optional<HeaderRefusal> refusal;  // nullopt: read the body and dispatch
};

// `blocked_for`: how much longer the client's address is blocked for failed
// authentications (AuthFailureLimiter::blocked), nullopt when it is not.
// `content_length`: the declared body length, nullopt when chunked or absent.
HeaderAdmission admit_header(const Request& header, std::optional<std::uint64_t> content_length,
                             const Router& router, const TokenAuth& auth, const HttpConfig& config,
                             std::optional<std::chrono::seconds> blocked_for);

}  // namespace earshot::server
