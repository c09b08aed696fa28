#include "format/output_format.h"

#include <array>
#include <utility>

namespace earshot {
namespace {

constexpr std::array<std::pair<std::string_view, OutputFormat>, 7> kNames = {{
    {"txt", OutputFormat::kText},
    {"text", OutputFormat::kText},
    {"json", OutputFormat::kJson},
    {"verbose_json", OutputFormat::kVerboseJson},
    {"srt", OutputFormat::kSrt},
    {"vtt", OutputFormat::kVtt},
    {"tsv", OutputFormat::kTsv},
}};

constexpr std::string_view kPlainText = "text/plain; charset=utf-8";

}  // namespace

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  for (const auto& [known, format] : kNames) {
    if (name == known) {
      return format;
    }
  }
  return std::nullopt;
}

std::string_view output_format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::kText:
      return "text";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kVerboseJson:
      return "verbose_json";
    case OutputFormat::kSrt:
      return "srt";
    case OutputFormat::kVtt:
      return "vtt";
    case OutputFormat::kTsv:
      return "tsv";
  }
  return "text";
}

std::string_view content_type(OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
    case OutputFormat::kVerboseJson:
      return "application/json";
    case OutputFormat::kText:
    case OutputFormat::kSrt:
    case OutputFormat::kVtt:
    case OutputFormat::kTsv:
      return kPlainText;
  }
  return kPlainText;
}

std::string_view file_extension(OutputFormat format) {
  switch (format) {
    case OutputFormat::kText:
      return "txt";
    case OutputFormat::kVerboseJson:
      return "json";
    default:
      return output_format_name(format);  // json, srt, vtt, tsv: the format's own name
  }
}

}  // namespace earshot
