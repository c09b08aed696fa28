#pragma once

// A transcription result in each output format, following OpenAI: its API's json and
// verbose_json responses, and the writers of its `whisper` command (whisper/utils.py) for
// txt, srt, vtt and tsv. Every text is made valid UTF-8 first (see make_valid_utf8).

#include <optional>
#include <string>

#include "earshot/whisper.h"
#include "format/output_format.h"

namespace earshot {

// Word-level subtitle cues (OpenAI's SubtitlesWriter options; used when segments have words).
struct SubtitleOptions {
  std::optional<int> max_line_width = {};      // characters per line; nullopt = 1000
  std::optional<int> max_line_count = {};      // lines per cue; nullopt = cues follow segments
  std::optional<int> max_words_per_line = {};  // nullopt = 1000; only without max_line_width
  bool highlight_words = false;                // one cue per word, the word underlined (<u>...</u>)
};

struct RenderOptions {
  Task task = Task::kTranscribe;    // what produced the result; verbose_json reports it
  bool segment_granularity = true;  // verbose_json: "segments" (OpenAI's timestamp_granularities)
  bool word_granularity = false;    // verbose_json: top-level "words" as OpenAI's API writes them
  SubtitleOptions subtitles = {};   // srt / vtt
};

std::string render_transcription(const Transcription& result, OutputFormat format,
                                 const RenderOptions& options = {});

// Each segment's text, whitespace-trimmed, on a line of its own.
std::string render_text(const Transcription& result);
// {"text":"..."} with the whole text trimmed.
std::string render_json(const Transcription& result);
// {"task","language" (English name, as OpenAI),"duration","text","segments":[...]}.
// Segments carry their "words" (word, start, end, probability) when they have any.
std::string render_verbose_json(const Transcription& result, Task task);
std::string render_verbose_json(const Transcription& result, const RenderOptions& options);
// Cues numbered from 1, "HH:MM:SS,mmm --> HH:MM:SS,mmm", each followed by a blank line.
// With words (word_timestamps), cues are built from words under `subtitles`, as OpenAI's
// writers do.
std::string render_srt(const Transcription& result, const SubtitleOptions& subtitles = {});
// "WEBVTT", a blank line, then cues "HH:MM:SS.mmm --> HH:MM:SS.mmm", each followed by a
// blank line.
std::string render_vtt(const Transcription& result, const SubtitleOptions& subtitles = {});
// A "start\tend\ttext" header, then one line per segment with integer milliseconds.
std::string render_tsv(const Transcription& result);

}  // namespace earshot
