#include "format/language_names.h"

#include "whisper/text/special_tokens.h"

namespace earshot {

// One table of Whisper's languages serves the engine and the formats: whisper_languages().
std::string_view language_name(std::string_view code) {
  for (const auto& language : whisper::whisper_languages()) {
    if (language.code == code) return language.name;
  }
  return code;
}

}  // namespace earshot
