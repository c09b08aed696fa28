#pragma once

#include <string_view>

namespace earshot {

// The English name OpenAI's API reports in verbose_json for a Whisper language code
// ("en" -> "english", "yue" -> "cantonese"), the names of whisper/tokenizer.py's LANGUAGES.
// A code it does not know is returned unchanged.
std::string_view language_name(std::string_view code);

}  // namespace earshot
