#pragma once

#include <cstdint>
#include <string>

namespace earshot {

// Seconds to whole milliseconds as OpenAI's writers compute them, Python's round():
// halves go to the even neighbour. Negative and non-finite times become 0.
std::int64_t to_milliseconds(double seconds);

// "HH:MM:SS<marker>mmm" (hours grow past two digits when needed): SubRip uses ',' as the
// marker, WebVTT '.'.
std::string format_timestamp(double seconds, char decimal_marker);

}  // namespace earshot
