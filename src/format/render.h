#pragma once

// A transcription result in each output format, following OpenAI: its API's json and
// verbose_json responses, and the writers of its `whisper` command (whisper/utils.py) for
// txt, srt, vtt and tsv. Every text is made valid UTF-8 first (see make_valid_utf8).

#include <string>

#include "earshot/whisper.h"
#include "format/output_format.h"

namespace earshot {

struct RenderOptions {
  Task task = Task::kTranscribe;  // what produced the result; verbose_json reports it
};

std::string render_transcription(const Transcription& result, OutputFormat format,
                                 const RenderOptions& options = {});

// Each segment's text, whitespace-trimmed, on a line of its own.
std::string render_text(const Transcription& result);
// {"text":"..."} with the whole text trimmed.
std::string render_json(const Transcription& result);
// {"task","language" (English name, as OpenAI),"duration","text","segments":[...]}.
std::string render_verbose_json(const Transcription& result, Task task);
// Cues numbered from 1, "HH:MM:SS,mmm --> HH:MM:SS,mmm", each followed by a blank line.
std::string render_srt(const Transcription& result);
// "WEBVTT", a blank line, then cues "HH:MM:SS.mmm --> HH:MM:SS.mmm", each followed by a
// blank line.
std::string render_vtt(const Transcription& result);
// A "start\tend\ttext" header, then one line per segment with integer milliseconds.
std::string render_tsv(const Transcription& result);

}  // namespace earshot
