#include "server/limit_breach.h"

#include <cstdio>

namespace earshot::server {

void log_limit_breach(spdlog::logger& log, std::string_view client, const LimitBreach& breach,
                      std::string_view outcome) {
  log.warn("{} limit {} ({}) breached: {}; {}", client, breach.limit, breach.configured,
           breach.detail, outcome);
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", seconds);
  return text;
}

}  // namespace earshot::server
