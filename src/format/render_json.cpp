// OpenAI API's json and verbose_json response bodies.

#include <nlohmann/json.hpp>

#include "format/language_names.h"
#include "format/render.h"
#include "format/text_cleanup.h"

namespace earshot {
namespace {

// Field order matters to people reading the output, so objects keep insertion order.
using Json = nlohmann::ordered_json;

std::string dump(const Json& json) {
  // Texts are valid UTF-8 already; `replace` only keeps a missed byte from throwing.
  return json.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

std::string whole_text(const Transcription& result) {
  return make_valid_utf8(strip_whitespace(result.text));
}

}  // namespace

std::string render_json(const Transcription& result) {
  Json json;
  json["text"] = whole_text(result);
  return dump(json);
}

std::string render_verbose_json(const Transcription& result, Task task) {
  return render_verbose_json(result, RenderOptions{.task = task});
}

std::string render_verbose_json(const Transcription& result, const RenderOptions& options) {
  Json segments = Json::array();
  Json top_words = Json::array();
  for (const Segment& segment : result.segments) {
    Json entry;
    entry["id"] = segment.id;
    entry["seek"] = segment.seek;
    entry["start"] = segment.start;
    entry["end"] = segment.end;
    // Segment texts keep their leading space, as in OpenAI's responses.
    entry["text"] = make_valid_utf8(segment.text);
    entry["tokens"] = segment.tokens;
    entry["temperature"] = segment.temperature;
    entry["avg_logprob"] = segment.avg_logprob;
    entry["compression_ratio"] = segment.compression_ratio;
    entry["no_speech_prob"] = segment.no_speech_prob;
    if (!segment.words.empty()) {
      Json words = Json::array();
      for (const Word& w : segment.words) {
        Json word;
        word["word"] = make_valid_utf8(w.word);
        word["start"] = w.start;
        word["end"] = w.end;
        word["probability"] = w.probability;
        words.push_back(std::move(word));
        // OpenAI's API lists words without their leading space or a probability.
        Json top;
        top["word"] = make_valid_utf8(strip_whitespace(w.word));
        top["start"] = w.start;
        top["end"] = w.end;
        top_words.push_back(std::move(top));
      }
      entry["words"] = std::move(words);
    }
    segments.push_back(std::move(entry));
  }
  Json json;
  json["task"] = options.task == Task::kTranslate ? "translate" : "transcribe";
  json["language"] = language_name(result.language);
  json["duration"] = result.duration;
  json["text"] = whole_text(result);
  if (options.word_granularity) {
    json["words"] = std::move(top_words);
  }
  if (options.segment_granularity || !options.word_granularity) {
    json["segments"] = std::move(segments);
  }
  return dump(json);
}

}  // namespace earshot
