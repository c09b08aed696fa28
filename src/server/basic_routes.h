#pragma once

#include <functional>
#include <string>

#include "server/router.h"

namespace earshot::server {

// What /health reports: ready (200) or not yet (503, e.g. the default model is loading).
struct Readiness {
  bool ready = true;
  std::string status = "ok";  // "ok", "loading", "error"
  std::string detail;         // why not ready; empty when ready
};

// GET /ping (authenticated, the original server's liveness answer) and GET /health
// (unauthenticated, for load balancers).
void add_basic_routes(Router& router, std::function<Readiness()> readiness = {});

}  // namespace earshot::server
