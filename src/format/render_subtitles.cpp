// SubRip and WebVTT (whisper/utils.py WriteSRT, WriteVTT).

#include <algorithm>
#include <string>
#include <vector>

#include "format/render.h"
#include "format/text_cleanup.h"
#include "format/timestamp.h"

namespace earshot {
namespace {

// "-->" inside a cue's text would read as a timing line.
std::string cue_text(const Segment& segment) {
  return replace_all(make_valid_utf8(strip_whitespace(segment.text)), "-->", "->");
}

struct Cue {
  double start = 0;
  double end = 0;
  std::string text;
};

// Python's len() of a str: code points.
std::size_t text_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// SubtitlesWriter.iterate_result of OpenAI's utils.py: words fill lines up to max_line_width,
// lines fill cues up to max_line_count; a pause over 3 s starts a new cue; without both limits,
// cues follow segments.
std::vector<Cue> word_cues(const Transcription& result, const SubtitleOptions& o) {
  const bool preserve_segments = !o.max_line_count || !o.max_line_width;
  const auto max_line_width = static_cast<std::size_t>(o.max_line_width.value_or(1000));
  const auto max_words_per_line =
      static_cast<std::size_t>(o.max_line_width ? 1000 : o.max_words_per_line.value_or(1000));
  std::vector<std::vector<Word>> subtitles;
  std::vector<Word> subtitle;
  std::size_t line_len = 0;
  int line_count = 1;
  double last = 0.0;
  for (const Segment& segment : result.segments) {
    if (!segment.words.empty()) {
      last = segment.words.front().start;
      break;
    }
  }
  for (const Segment& segment : result.segments) {
    for (std::size_t chunk = 0; chunk < segment.words.size(); chunk += max_words_per_line) {
      const std::size_t count = std::min(max_words_per_line, segment.words.size() - chunk);
      for (std::size_t i = 0; i < count; ++i) {
        Word timing = segment.words[chunk + i];
        const bool long_pause = !preserve_segments && timing.start - last > 3.0;
        const bool has_room = line_len + text_length(timing.word) <= max_line_width;
        const bool seg_break = i == 0 && !subtitle.empty() && preserve_segments;
        if (line_len > 0 && has_room && !long_pause && !seg_break) {
          line_len += text_length(timing.word);  // the line continues
        } else {
          timing.word = std::string(strip_whitespace(timing.word));
          if ((!subtitle.empty() && o.max_line_count &&
               (long_pause || line_count >= *o.max_line_count)) ||
              seg_break) {
            subtitles.push_back(std::move(subtitle));  // a new cue
            subtitle.clear();
            line_count = 1;
          } else if (line_len > 0) {
            ++line_count;  // a new line
            timing.word = "\n" + timing.word;
          }
          line_len = text_length(strip_whitespace(timing.word));
        }
        last = timing.start;
        subtitle.push_back(std::move(timing));
      }
    }
  }
  if (!subtitle.empty()) {
    subtitles.push_back(std::move(subtitle));
  }

  std::vector<Cue> cues;
  for (const auto& words : subtitles) {
    if (!o.highlight_words) {
      Cue cue{words.front().start, words.back().end, {}};
      for (const Word& w : words) {
        cue.text += w.word;
      }
      cues.push_back(std::move(cue));
      continue;
    }
    // One cue per word with that word underlined; gaps between words get the plain line.
    double last_end = words.front().start;
    for (std::size_t i = 0; i < words.size(); ++i) {
      const Word& highlighted = words[i];
      if (last_end != highlighted.start) {
        Cue gap{last_end, highlighted.start, {}};
        for (const Word& w : words) {
          gap.text += w.word;
        }
        cues.push_back(std::move(gap));
      }
      Cue cue{highlighted.start, highlighted.end, {}};
      for (std::size_t j = 0; j < words.size(); ++j) {
        if (j != i) {
          cue.text += words[j].word;
          continue;
        }
        // re.sub(r"^(\s*)(.*)$", r"\1<u>\2</u>", word): leading whitespace stays outside.
        const std::string& w = words[j].word;
        const std::size_t body = w.find_first_not_of(" \t\n");
        const std::size_t split = body == std::string::npos ? w.size() : body;
        cue.text += w.substr(0, split) + "<u>" + w.substr(split) + "</u>";
      }
      cues.push_back(std::move(cue));
      last_end = highlighted.end;
    }
  }
  return cues;
}

std::vector<Cue> cues_of(const Transcription& result, const SubtitleOptions& o) {
  const bool has_words = std::any_of(result.segments.begin(), result.segments.end(),
                                     [](const Segment& s) { return !s.words.empty(); });
  if (has_words) {
    std::vector<Cue> cues = word_cues(result, o);
    for (Cue& cue : cues) {
      cue.text = replace_all(make_valid_utf8(cue.text), "-->", "->");
    }
    return cues;
  }
  std::vector<Cue> cues;
  for (const Segment& segment : result.segments) {
    cues.push_back({segment.start, segment.end, cue_text(segment)});
  }
  return cues;
}

std::string timing_line(const Cue& cue, char decimal_marker) {
  return format_timestamp(cue.start, decimal_marker) + " --> " +
         format_timestamp(cue.end, decimal_marker);
}

}  // namespace

std::string render_srt(const Transcription& result, const SubtitleOptions& subtitles) {
  std::string out;
  int number = 1;
  for (const Cue& cue : cues_of(result, subtitles)) {
    out += std::to_string(number++) + '\n' + timing_line(cue, ',') + '\n' + cue.text + "\n\n";
  }
  return out;
}

std::string render_vtt(const Transcription& result, const SubtitleOptions& subtitles) {
  std::string out = "WEBVTT\n\n";
  for (const Cue& cue : cues_of(result, subtitles)) {
    out += timing_line(cue, '.') + '\n' + cue.text + "\n\n";
  }
  return out;
}

}  // namespace earshot
