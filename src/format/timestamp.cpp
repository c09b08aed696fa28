#include "format/timestamp.h"

#include <cmath>
#include <cstdio>

namespace earshot {

std::int64_t to_milliseconds(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0) {
    return 0;
  }
  // nearbyint rounds half to even in the default rounding mode, like Python's round().
  return static_cast<std::int64_t>(std::nearbyint(seconds * 1000.0));
}

std::string format_timestamp(double seconds, char decimal_marker) {
  const std::int64_t total_ms = to_milliseconds(seconds);
  const std::int64_t hours = total_ms / 3'600'000;
  const std::int64_t minutes = total_ms / 60'000 % 60;
  const std::int64_t secs = total_ms / 1000 % 60;
  const std::int64_t millis = total_ms % 1000;
  char text[64];
  std::snprintf(text, sizeof text, "%02lld:%02lld:%02lld%c%03lld", static_cast<long long>(hours),
                static_cast<long long>(minutes), static_cast<long long>(secs), decimal_marker,
                static_cast<long long>(millis));
  return text;
}

}  // namespace earshot
