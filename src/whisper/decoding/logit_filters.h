#pragma once

// The logit filters of OpenAI's decoding.py, applied in this order before a token is chosen:
// SuppressBlank, SuppressTokens, TimestampRules (conformance README section 6, B2..B5).

#include <optional>
#include <span>
#include <vector>

#include "whisper/text/special_tokens.h"

namespace earshot::whisper {

class Tokenizer;

class LogitFilter {
 public:
  virtual ~LogitFilter() = default;
  // `logits`: the next position's logits over the whole vocabulary, changed in place (a masked
  // id gets -infinity). `tokens`: the sequence so far, prompt and start sequence included.
  virtual void apply(std::span<float> logits, std::span<const int> tokens) const = 0;
};

// At the first sampled position only, masks the tokens of " " and eot: a transcript never
// starts blank or empty.
class SuppressBlank final : public LogitFilter {
 public:
  SuppressBlank(const Tokenizer& tokenizer, int sample_begin);
  void apply(std::span<float> logits, std::span<const int> tokens) const override;

 private:
  std::vector<int> blank_;
  int sample_begin_;
};

// Masks a fixed set of ids at every position.
class SuppressTokens final : public LogitFilter {
 public:
  explicit SuppressTokens(std::vector<int> ids);
  void apply(std::span<float> logits, std::span<const int> tokens) const override;
  const std::vector<int>& ids() const { return ids_; }

 private:
  std::vector<int> ids_;
};

// The set suppress_tokens expands to (DecodingTask._get_suppress_tokens): the requested ids,
// -1 standing for Tokenizer::non_speech_tokens(), plus translate, transcribe, sot,
// startofprev, startoflm and nospeech always; sorted, without duplicates. Language tokens,
// <|notimestamps|> and timestamps are never added.
std::vector<int> expand_suppress_tokens(std::span<const int> requested, const Tokenizer& tokenizer);

// Timestamp grammar (B2..B4): never <|notimestamps|>; timestamps in pairs; timestamps never
// decrease and a segment closed after text has nonzero length; the first sampled token is a
// timestamp no later than max_initial_timestamp; a timestamp is forced when the timestamps'
// total probability exceeds that of every other single token.
class TimestampRules final : public LogitFilter {
 public:
  // `max_initial_timestamp_index`: the last allowed first timestamp, in 0.02 s steps
  // (round(max_initial_timestamp / 0.02)); nullopt = no limit.
  TimestampRules(const SpecialTokens& special, int sample_begin,
                 std::optional<int> max_initial_timestamp_index);
  void apply(std::span<float> logits, std::span<const int> tokens) const override;

 private:
  SpecialTokens special_;
  int sample_begin_;
  std::optional<int> max_initial_timestamp_index_;
};

}  // namespace earshot::whisper
