// SubRip and WebVTT (whisper/utils.py WriteSRT, WriteVTT).

#include "format/render.h"
#include "format/text_cleanup.h"
#include "format/timestamp.h"

namespace earshot {
namespace {

// "-->" inside a cue's text would read as a timing line.
std::string cue_text(const Segment& segment) {
  return replace_all(make_valid_utf8(strip_whitespace(segment.text)), "-->", "->");
}

std::string cue_timing(const Segment& segment, char decimal_marker) {
  return format_timestamp(segment.start, decimal_marker) + " --> " +
         format_timestamp(segment.end, decimal_marker);
}

}  // namespace

std::string render_srt(const Transcription& result) {
  std::string out;
  int number = 1;
  for (const Segment& segment : result.segments) {
    out += std::to_string(number++) + '\n' + cue_timing(segment, ',') + '\n' + cue_text(segment) +
           "\n\n";
  }
  return out;
}

std::string render_vtt(const Transcription& result) {
  std::string out = "WEBVTT\n\n";
  for (const Segment& segment : result.segments) {
    out += cue_timing(segment, '.') + '\n' + cue_text(segment) + "\n\n";
  }
  return out;
}

}  // namespace earshot
