#pragma once

#include <optional>
#include <string_view>

namespace earshot {

// The shapes a transcription can be written in: OpenAI's `response_format` values and
// the files OpenAI's `whisper` command writes.
enum class OutputFormat {
  kText,         // one line per segment
  kJson,         // {"text": ...}
  kVerboseJson,  // OpenAI's verbose_json: task, language, duration, text, segments
  kSrt,          // SubRip subtitles
  kVtt,          // WebVTT subtitles
  kTsv,          // start<TAB>end<TAB>text, times in integer milliseconds
};

// Every name parse_output_format accepts, for messages: "txt, text, json, ...".
inline constexpr std::string_view kOutputFormatNames =
    "txt, text, json, verbose_json, srt, vtt, tsv";

// "txt" (the CLI's name) or "text" (the API's), "json", "verbose_json", "srt", "vtt", "tsv";
// nullopt for anything else, including other letter cases.
std::optional<OutputFormat> parse_output_format(std::string_view name);

// The API's name: "text", "json", "verbose_json", "srt", "vtt", "tsv".
std::string_view output_format_name(OutputFormat format);

// The HTTP Content-Type OpenAI's API sends for the format: application/json for the JSON
// forms, "text/plain; charset=utf-8" for text, srt and vtt (OpenAI does not use
// application/x-subrip or text/vtt), and for tsv, which the API does not offer.
std::string_view content_type(OutputFormat format);

// File name extension without the dot, as OpenAI's writers name their files: "txt",
// "json" (also for verbose_json), "srt", "vtt", "tsv".
std::string_view file_extension(OutputFormat format);

}  // namespace earshot
