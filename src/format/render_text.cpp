// The line-oriented formats: txt and tsv (whisper/utils.py WriteTXT, WriteTSV).

#include "format/render.h"
#include "format/text_cleanup.h"
#include "format/timestamp.h"

namespace earshot {

std::string render_text(const Transcription& result) {
  std::string out;
  if (result.segments.empty()) {
    // A result without segments (e.g. nothing but its text) still prints its text.
    const std::string text = make_valid_utf8(strip_whitespace(result.text));
    if (!text.empty()) {
      out = text + "\n";
    }
    return out;
  }
  for (const Segment& segment : result.segments) {
    out += make_valid_utf8(strip_whitespace(segment.text));
    out += '\n';
  }
  return out;
}

std::string render_tsv(const Transcription& result) {
  std::string out = "start\tend\ttext\n";
  for (const Segment& segment : result.segments) {
    // A tab inside the text would add a column.
    const std::string text =
        replace_all(make_valid_utf8(strip_whitespace(segment.text)), "\t", " ");
    out += std::to_string(to_milliseconds(segment.start)) + '\t' +
           std::to_string(to_milliseconds(segment.end)) + '\t' + text + '\n';
  }
  return out;
}

}  // namespace earshot
