#pragma once

#include "server/router.h"

namespace earshot::server {

// GET /ping (authenticated, the original server's liveness answer) and GET /health
// (unauthenticated, for load balancers).
void add_basic_routes(Router& router);

}  // namespace earshot::server
