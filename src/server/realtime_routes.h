#pragma once

// GET /v1/realtime: OpenAI's Realtime API transcription sessions over WebSocket
// (realtime_session.h), at most realtime.max_sessions at once.

#include <memory>

#include "server/realtime_session.h"
#include "server/router.h"

namespace earshot::server {

struct TranscriptionService;

void add_realtime_routes(Router& router, std::shared_ptr<const TranscriptionService> service,
                         RealtimeConfig config);

}  // namespace earshot::server
