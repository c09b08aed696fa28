#include "whisper/text/special_tokens.h"

#include <array>
#include <cstdio>

#include "earshot/error.h"

namespace earshot::whisper {

namespace {

// OpenAI's tokenizer.py LANGUAGES, in dictionary (= token) order.
constexpr std::array<Language, 100> kLanguages{{
    {"en", "english"},        {"zh", "chinese"},     {"de", "german"},        {"es", "spanish"},
    {"ru", "russian"},        {"ko", "korean"},      {"fr", "french"},        {"ja", "japanese"},
    {"pt", "portuguese"},     {"tr", "turkish"},     {"pl", "polish"},        {"ca", "catalan"},
    {"nl", "dutch"},          {"ar", "arabic"},      {"sv", "swedish"},       {"it", "italian"},
    {"id", "indonesian"},     {"hi", "hindi"},       {"fi", "finnish"},       {"vi", "vietnamese"},
    {"he", "hebrew"},         {"uk", "ukrainian"},   {"el", "greek"},         {"ms", "malay"},
    {"cs", "czech"},          {"ro", "romanian"},    {"da", "danish"},        {"hu", "hungarian"},
    {"ta", "tamil"},          {"no", "norwegian"},   {"th", "thai"},          {"ur", "urdu"},
    {"hr", "croatian"},       {"bg", "bulgarian"},   {"lt", "lithuanian"},    {"la", "latin"},
    {"mi", "maori"},          {"ml", "malayalam"},   {"cy", "welsh"},         {"sk", "slovak"},
    {"te", "telugu"},         {"fa", "persian"},     {"lv", "latvian"},       {"bn", "bengali"},
    {"sr", "serbian"},        {"az", "azerbaijani"}, {"sl", "slovenian"},     {"kn", "kannada"},
    {"et", "estonian"},       {"mk", "macedonian"},  {"br", "breton"},        {"eu", "basque"},
    {"is", "icelandic"},      {"hy", "armenian"},    {"ne", "nepali"},        {"mn", "mongolian"},
    {"bs", "bosnian"},        {"kk", "kazakh"},      {"sq", "albanian"},      {"sw", "swahili"},
    {"gl", "galician"},       {"mr", "marathi"},     {"pa", "punjabi"},       {"si", "sinhala"},
    {"km", "khmer"},          {"sn", "shona"},       {"yo", "yoruba"},        {"so", "somali"},
    {"af", "afrikaans"},      {"oc", "occitan"},     {"ka", "georgian"},      {"be", "belarusian"},
    {"tg", "tajik"},          {"sd", "sindhi"},      {"gu", "gujarati"},      {"am", "amharic"},
    {"yi", "yiddish"},        {"lo", "lao"},         {"uz", "uzbek"},         {"fo", "faroese"},
    {"ht", "haitian creole"}, {"ps", "pashto"},      {"tk", "turkmen"},       {"nn", "nynorsk"},
    {"mt", "maltese"},        {"sa", "sanskrit"},    {"lb", "luxembourgish"}, {"my", "myanmar"},
    {"bo", "tibetan"},        {"tl", "tagalog"},     {"mg", "malagasy"},      {"as", "assamese"},
    {"tt", "tatar"},          {"haw", "hawaiian"},   {"ln", "lingala"},       {"ha", "hausa"},
    {"ba", "bashkir"},        {"jw", "javanese"},    {"su", "sundanese"},     {"yue", "cantonese"},
}};

// tokenizer.py's extra TO_LANGUAGE_CODE entries.
constexpr std::array<Language, 13> kLanguageAliases{{
    {"my", "burmese"},
    {"ca", "valencian"},
    {"nl", "flemish"},
    {"ht", "haitian"},
    {"lb", "letzeburgesch"},
    {"ps", "pushto"},
    {"pa", "panjabi"},
    {"ro", "moldavian"},
    {"ro", "moldovan"},
    {"si", "sinhalese"},
    {"es", "castilian"},
    {"zh", "mandarin"},
    {"yue", "cantonese"},
}};

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// Ids of the first special token in each layout: GPT-2's vocabulary (English-only models) has
// 50256 ordinary tokens, the multilingual one 50257.
constexpr int kEnglishVocab = 51864;
constexpr int kMultilingualVocab = 51865;
constexpr int kV3Vocab = 51866;

}  // namespace

std::span<const Language> whisper_languages() {
  return kLanguages;
}

std::optional<std::string_view> find_language_code(std::string_view code_or_name) {
  for (const Language& l : kLanguages) {
    if (equals_ignoring_ascii_case(l.code, code_or_name) ||
        equals_ignoring_ascii_case(l.name, code_or_name)) {
      return l.code;
    }
  }
  for (const Language& l : kLanguageAliases) {
    if (equals_ignoring_ascii_case(l.name, code_or_name)) {
      return l.code;
    }
  }
  return std::nullopt;
}

SpecialTokens SpecialTokens::for_vocab_size(int n_vocab) {
  if (n_vocab != kEnglishVocab && n_vocab != kMultilingualVocab && n_vocab != kV3Vocab) {
    throw Error(ErrorCode::kModelFormat, "unsupported vocabulary size " + std::to_string(n_vocab) +
                                             " (Whisper models have 51864, 51865 or 51866 tokens)");
  }
  SpecialTokens t;
  t.n_vocab = n_vocab;
  t.multilingual = n_vocab >= kMultilingualVocab;
  t.n_languages = n_vocab == kV3Vocab ? 100 : 99;
  t.eot = t.multilingual ? 50257 : 50256;
  t.sot = t.eot + 1;
  t.first_language = t.sot + 1;
  t.translate = t.first_language + t.n_languages;
  t.transcribe = t.translate + 1;
  t.start_of_lm = t.transcribe + 1;
  t.start_of_prev = t.start_of_lm + 1;
  t.no_speech = t.start_of_prev + 1;
  t.no_timestamps = t.no_speech + 1;
  t.timestamp_begin = t.no_timestamps + 1;
  if (t.timestamp_last() != n_vocab - 1) {
    throw Error(ErrorCode::kInternal, "special-token layout does not fill the vocabulary");
  }
  return t;
}

std::span<const Language> SpecialTokens::languages() const {
  return whisper_languages().first(static_cast<std::size_t>(n_languages));
}

std::optional<int> SpecialTokens::language_token(std::string_view code) const {
  const auto langs = languages();
  for (std::size_t i = 0; i < langs.size(); ++i) {
    if (langs[i].code == code) {
      return first_language + static_cast<int>(i);
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> SpecialTokens::language_code(int id) const {
  if (!is_language(id)) {
    return std::nullopt;
  }
  return whisper_languages()[static_cast<std::size_t>(id - first_language)].code;
}

std::string SpecialTokens::text(int id) const {
  if (is_timestamp(id)) {
    // Python's f"<|{i * 0.02:.2f}|>": the double product, correctly rounded like printf.
    char buf[32];
    std::snprintf(buf, sizeof buf, "<|%.2f|>", (id - timestamp_begin) * kTimePrecision);
    return buf;
  }
  if (auto code = language_code(id)) {
    return "<|" + std::string(*code) + "|>";
  }
  if (id == eot) {
    return "<|endoftext|>";
  }
  if (id == sot) {
    return "<|startoftranscript|>";
  }
  if (id == translate) {
    return "<|translate|>";
  }
  if (id == transcribe) {
    return "<|transcribe|>";
  }
  if (id == start_of_lm) {
    return "<|startoflm|>";
  }
  if (id == start_of_prev) {
    return "<|startofprev|>";
  }
  if (id == no_speech) {
    return "<|nospeech|>";
  }
  if (id == no_timestamps) {
    return "<|notimestamps|>";
  }
  throw Error(ErrorCode::kInternal, "token " + std::to_string(id) + " is not a special token");
}

std::vector<int> SpecialTokens::start_sequence(std::string_view language, Task task,
                                               bool timestamps) const {
  std::vector<int> seq{sot};
  if (multilingual) {
    const auto lang = language_token(language);
    if (!lang) {
      throw Error(ErrorCode::kInvalidArgument,
                  "unknown language '" + std::string(language) + "' for this model");
    }
    seq.push_back(*lang);
    seq.push_back(task == Task::kTranslate ? translate : transcribe);
  }
  if (!timestamps) {
    seq.push_back(no_timestamps);
  }
  return seq;
}

}  // namespace earshot::whisper
