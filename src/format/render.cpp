#include "format/render.h"

namespace earshot {

std::string render_transcription(const Transcription& result, OutputFormat format,
                                 const RenderOptions& options) {
  switch (format) {
    case OutputFormat::kText:
      return render_text(result);
    case OutputFormat::kJson:
      return render_json(result);
    case OutputFormat::kVerboseJson:
      return render_verbose_json(result, options);
    case OutputFormat::kSrt:
      return render_srt(result, options.subtitles);
    case OutputFormat::kVtt:
      return render_vtt(result, options.subtitles);
    case OutputFormat::kTsv:
      return render_tsv(result);
  }
  return render_text(result);
}

}  // namespace earshot
