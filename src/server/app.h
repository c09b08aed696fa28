#pragma once

#include "server/config.h"

namespace earshot::server {

// `earshot serve`: listens as configured, serves until SIGINT/SIGTERM (graceful) and reloads
// the token list on SIGHUP. Returns the process exit code.
int serve(const Config& config);

}  // namespace earshot::server
