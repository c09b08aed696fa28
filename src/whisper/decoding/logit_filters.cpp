#include "whisper/decoding/logit_filters.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "earshot/error.h"
#include "whisper/text/tokenizer.h"

namespace earshot::whisper {

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

void mask_range(std::span<float> logits, int begin, int end) {
  begin = std::clamp(begin, 0, static_cast<int>(logits.size()));
  end = std::clamp(end, begin, static_cast<int>(logits.size()));
  std::fill(logits.begin() + begin, logits.begin() + end, kMasked);
}

void mask_id(std::span<float> logits, int id) {
  if (id >= 0 && static_cast<std::size_t>(id) < logits.size()) {
    logits[static_cast<std::size_t>(id)] = kMasked;
  }
}

}  // namespace

SuppressBlank::SuppressBlank(const Tokenizer& tokenizer, int sample_begin)
    : blank_(tokenizer.encode(" ")), sample_begin_(sample_begin) {
  blank_.push_back(tokenizer.special().eot);
}

void SuppressBlank::apply(std::span<float> logits, std::span<const int> tokens) const {
  if (static_cast<int>(tokens.size()) != sample_begin_) {
    return;
  }
  for (const int id : blank_) {
    mask_id(logits, id);
  }
}

SuppressTokens::SuppressTokens(std::vector<int> ids) : ids_(std::move(ids)) {}

void SuppressTokens::apply(std::span<float> logits, std::span<const int> /*tokens*/) const {
  for (const int id : ids_) {
    mask_id(logits, id);
  }
}

std::vector<int> expand_suppress_tokens(std::span<const int> requested,
                                        const Tokenizer& tokenizer) {
  const SpecialTokens& sp = tokenizer.special();
  std::vector<int> ids;
  bool non_speech = false;
  for (const int id : requested) {
    if (id == -1) {
      non_speech = true;
    } else if (id >= 0 && id < sp.n_vocab) {
      ids.push_back(id);
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  "suppress_tokens: id " + std::to_string(id) + " outside the vocabulary");
    }
  }
  if (non_speech) {
    const std::vector<int> symbols = tokenizer.non_speech_tokens();
    ids.insert(ids.end(), symbols.begin(), symbols.end());
  }
  ids.insert(ids.end(),
             {sp.transcribe, sp.translate, sp.sot, sp.start_of_prev, sp.start_of_lm, sp.no_speech});
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

TimestampRules::TimestampRules(const SpecialTokens& special, int sample_begin,
                               std::optional<int> max_initial_timestamp_index)
    : special_(special),
      sample_begin_(sample_begin),
      max_initial_timestamp_index_(max_initial_timestamp_index) {}

void TimestampRules::apply(std::span<float> logits, std::span<const int> tokens) const {
  const int ts_begin = special_.timestamp_begin;
  const int n_vocab = static_cast<int>(logits.size());
  // <|notimestamps|> is what without_timestamps decoding starts with, never a choice here.
  mask_id(logits, special_.no_timestamps);

  const std::span<const int> sampled =
      tokens.subspan(std::min(tokens.size(), static_cast<std::size_t>(sample_begin_)));
  const auto is_ts = [&](int id) { return id >= ts_begin; };
  const bool last_was_timestamp = !sampled.empty() && is_ts(sampled.back());
  const bool penultimate_was_timestamp = sampled.size() < 2 || is_ts(sampled[sampled.size() - 2]);
  if (last_was_timestamp) {
    if (penultimate_was_timestamp) {
      mask_range(logits, ts_begin, n_vocab);  // a pair was just completed: text follows
    } else {
      mask_range(logits, 0, special_.eot);  // a segment is open: close it or end
    }
  }

  const auto last_ts = std::find_if(sampled.rbegin(), sampled.rend(), is_ts);
  if (last_ts != sampled.rend()) {
    // Timestamps never decrease. Right after text a timestamp must be strictly later, so no
    // segment has zero length; closing a segment and opening the next at the same time is fine.
    const int floor = last_was_timestamp && !penultimate_was_timestamp ? *last_ts : *last_ts + 1;
    mask_range(logits, ts_begin, floor);
  }

  if (static_cast<int>(tokens.size()) == sample_begin_) {
    mask_range(logits, 0, ts_begin);  // the first sampled token is a timestamp
    if (max_initial_timestamp_index_) {
      mask_range(logits, ts_begin + *max_initial_timestamp_index_ + 1, n_vocab);
    }
  }

  // If the timestamps together are more probable than any single other token, take a
  // timestamp. log_softmax's normaliser cancels on both sides of the comparison, so the raw
  // logits are compared (as the reference does, in its float32 log-probabilities).
  float max_other = kMasked;
  for (int i = 0; i < ts_begin && i < n_vocab; ++i) {
    max_other = std::max(max_other, logits[static_cast<std::size_t>(i)]);
  }
  float max_ts = kMasked;
  for (int i = ts_begin; i < n_vocab; ++i) {
    max_ts = std::max(max_ts, logits[static_cast<std::size_t>(i)]);
  }
  if (max_ts == kMasked) {
    return;  // every timestamp masked: logsumexp is -inf, never greater
  }
  double sum = 0.0;
  for (int i = ts_begin; i < n_vocab; ++i) {
    sum += std::exp(static_cast<double>(logits[static_cast<std::size_t>(i)]) - max_ts);
  }
  const double timestamp_logsumexp = max_ts + std::log(sum);
  if (timestamp_logsumexp > static_cast<double>(max_other)) {
    mask_range(logits, 0, ts_begin);
  }
}

}  // namespace earshot::whisper
