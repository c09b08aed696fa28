#pragma once

// Whisper's special tokens. They are not stored in a ggml model file: their ids follow from
// n_vocab alone, as in OpenAI's tokenizer.py.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "earshot/whisper.h"

namespace earshot::whisper {

struct Language {
  std::string_view code;  // ISO 639-1 where one exists ("en"), else Whisper's own ("haw", "yue")
  std::string_view name;  // English name as in OpenAI's LANGUAGES table ("english")
};

// Every language Whisper knows, in token order: the i-th has id first_language + i. Models with
// n_vocab 51865 know the first 99, large-v3 (51866) all 100.
std::span<const Language> whisper_languages();

// The code for a language given by code ("de") or English name ("German"), case-insensitive,
// including the aliases OpenAI's TO_LANGUAGE_CODE accepts ("castilian", "mandarin", ...);
// nullopt when Whisper does not know it.
std::optional<std::string_view> find_language_code(std::string_view code_or_name);

// <|0.00|> .. <|30.00|>, one per 0.02 s (a 30 s window has 1500 encoder positions).
inline constexpr int kTimestampCount = 1501;
inline constexpr double kTimePrecision = 0.02;  // seconds per timestamp index

struct SpecialTokens {
  // Throws Error(kModelFormat) unless n_vocab is 51864 (English-only), 51865 (multilingual) or
  // 51866 (large-v3, which adds <|yue|>).
  static SpecialTokens for_vocab_size(int n_vocab);

  int n_vocab = 0;
  bool multilingual = false;
  int n_languages = 0;  // 99 or 100; English-only models still have the (unused) language ids

  int eot = 0;             // <|endoftext|>, also the count of ordinary (BPE) tokens
  int sot = 0;             // <|startoftranscript|>
  int first_language = 0;  // <|en|>
  int translate = 0;
  int transcribe = 0;
  int start_of_lm = 0;
  int start_of_prev = 0;
  int no_speech = 0;
  int no_timestamps = 0;
  int timestamp_begin = 0;  // <|0.00|>

  int timestamp_last() const { return timestamp_begin + kTimestampCount - 1; }
  bool is_timestamp(int id) const { return id >= timestamp_begin && id < n_vocab; }
  bool is_special(int id) const { return id >= eot && id < n_vocab; }
  bool is_language(int id) const {
    return id >= first_language && id < first_language + n_languages;
  }

  // The languages this vocabulary has tokens for (the first n_languages of whisper_languages()).
  std::span<const Language> languages() const;
  std::optional<int> language_token(std::string_view code) const;
  // The code of a language token; nullopt for any other id.
  std::optional<std::string_view> language_code(int id) const;

  // The text tiktoken gives a special token: "<|endoftext|>", "<|en|>", "<|12.34|>".
  // Precondition: is_special(id).
  std::string text(int id) const;

  // What decoding starts from: [sot] for English-only models, else [sot, <|lang|>, <|task|>];
  // plus <|notimestamps|> when timestamps are off. Throws Error(kInvalidArgument) for a
  // language the model does not know (multilingual models only).
  std::vector<int> start_sequence(std::string_view language, Task task, bool timestamps) const;
};

}  // namespace earshot::whisper
