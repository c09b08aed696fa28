#pragma once

#include <memory>

#include <spdlog/logger.h>

#include "server/config.h"

namespace earshot::server {

// A logger writing to stderr at the configured level, as text or one JSON object per line
// ({"time","level","msg"}). Never given a token: callers log a token's label.
std::shared_ptr<spdlog::logger> make_logger(const LogConfig& config);

}  // namespace earshot::server
