#pragma once

// One log line for each breach of a resource limit (docs/security.md): the client's address,
// the limit by its configuration name, its configured value, what the client did and how
// the server answered. Never a token: a token is named by its label.

#include <string>
#include <string_view>

#include <spdlog/logger.h>

namespace earshot::server {

struct LimitBreach {
  std::string limit;       // the limit's configuration name, e.g. "request_max_size"
  std::string configured;  // its configured value with its unit, e.g. "10485760 bytes"
  std::string detail;      // what went over it, e.g. "Content-Length 20000000"
};

// Logs at warn: `<client> limit <limit> (<configured>) breached: <detail>; <outcome>`,
// e.g. "127.0.0.1:5000 limit request_max_size (10485760 bytes) breached: Content-Length
// 20000000; answered 413". `outcome` says what the server did ("answered 413", "closed").
void log_limit_breach(spdlog::logger& log, std::string_view client, const LimitBreach& breach,
                      std::string_view outcome);

// "2.5 s", "60 s": a duration as the configuration states it (seconds).
std::string seconds_text(double seconds);

}  // namespace earshot::server
