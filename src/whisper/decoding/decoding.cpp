#include "whisper/decoding/decoding.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "earshot/error.h"
#include "whisper/decoding/beam_search.h"
#include "whisper/kernels/kernels.h"
#include "whisper/text/utf8_text.h"

namespace earshot::whisper {

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

// log(sum(exp(x))) over `logits`, with the maximum factored out; -inf when all are masked.
double log_sum_exp(std::span<const float> logits, float max) {
  if (max == kMasked) {
    return -std::numeric_limits<double>::infinity();
  }
  const double sum = sum_exp(logits.data(), static_cast<std::int64_t>(logits.size()), max);
  return max + std::log(sum);
}

float max_of(std::span<const float> logits) {
  return logits.empty() ? kMasked : *std::max_element(logits.begin(), logits.end());
}

// The reference keeps log-probabilities in float32.
float log_softmax_at(std::span<const float> logits, int id) {
  const double lse = log_sum_exp(logits, max_of(logits));
  return static_cast<float>(static_cast<double>(logits[static_cast<std::size_t>(id)]) - lse);
}

DecodingStep record_step(std::span<const float> filtered, int pos) {
  DecodingStep step;
  step.pos = pos;
  std::vector<int> order(filtered.size());
  std::iota(order.begin(), order.end(), 0);
  const std::size_t k = std::min<std::size_t>(step.top_ids.size(), order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](int a, int b) {
                      const float la = filtered[static_cast<std::size_t>(a)];
                      const float lb = filtered[static_cast<std::size_t>(b)];
                      return la > lb || (la == lb && a < b);
                    });
  step.top_logits.fill(kMasked);
  for (std::size_t i = 0; i < k; ++i) {
    step.top_ids[i] = order[i];
    step.top_logits[i] = filtered[static_cast<std::size_t>(order[i])];
  }
  return step;
}

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
    throw Error(ErrorCode::kCancelled, "transcription cancelled");
  }
}

}  // namespace

void LogitsSource::fork(std::span<const int> prefix, int n, int /*max_steps*/) {
  batch_prefix_.assign(prefix.begin(), prefix.end());
  batch_sequences_.assign(static_cast<std::size_t>(n), {});
}

std::span<const float> LogitsSource::feed_batch(std::span<const int> tokens) {
  if (tokens.size() != batch_sequences_.size()) {
    throw Error(ErrorCode::kInvalidArgument, "feed_batch: one token per sequence is needed");
  }
  batch_logits_.clear();
  std::vector<int> whole;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    batch_sequences_[i].push_back(tokens[i]);
    whole = batch_prefix_;
    whole.insert(whole.end(), batch_sequences_[i].begin(), batch_sequences_[i].end());
    reset();
    const std::span<const float> logits = feed(whole);
    batch_logits_.insert(batch_logits_.end(), logits.begin(), logits.end());
  }
  return batch_logits_;
}

void LogitsSource::reorder(std::span<const int> sources) {
  std::vector<std::vector<int>> next;
  next.reserve(sources.size());
  for (const int s : sources) {
    next.push_back(batch_sequences_.at(static_cast<std::size_t>(s)));
  }
  batch_sequences_ = std::move(next);
}

WindowLogitsSource::AlignmentPass WindowLogitsSource::alignment_pass(
    std::span<const int> /*tokens*/) {
  throw Error(ErrorCode::kInvalidArgument, "word timestamps need the model's attention weights");
}

int GreedyDecoder::choose(std::span<const float> filtered_logits) {
  return static_cast<int>(std::max_element(filtered_logits.begin(), filtered_logits.end()) -
                          filtered_logits.begin());
}

TemperatureSampler::TemperatureSampler(float temperature, std::uint64_t seed)
    : temperature_(temperature), rng_(seed) {
  if (!(temperature > 0.0f)) {
    throw Error(ErrorCode::kInvalidArgument, "sampling needs a temperature above 0");
  }
}

int TemperatureSampler::choose(std::span<const float> filtered_logits) {
  const float max = max_of(filtered_logits);
  if (max == kMasked) {
    return 0;  // every token masked: nothing to draw from
  }
  weights_.resize(filtered_logits.size());
  double total = 0.0;
  for (std::size_t i = 0; i < filtered_logits.size(); ++i) {
    weights_[i] = std::exp((static_cast<double>(filtered_logits[i]) - max) / temperature_);
    total += weights_[i];
  }
  double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (u < weights_[i]) {
      return static_cast<int>(i);
    }
    u -= weights_[i];
  }
  // Rounding left u at the very end: take the last token with any weight.
  for (std::size_t i = weights_.size(); i-- > 0;) {
    if (weights_[i] > 0.0) {
      return static_cast<int>(i);
    }
  }
  return 0;
}

double compression_ratio(std::string_view text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<Bytef> out(size);
  const int rc = compress2(out.data(), &size, reinterpret_cast<const Bytef*>(text.data()),
                           static_cast<uLong>(text.size()), Z_DEFAULT_COMPRESSION);
  if (rc != Z_OK) {
    throw Error(ErrorCode::kInternal, "zlib compression failed");
  }
  return static_cast<double>(text.size()) / static_cast<double>(size);
}

DecodingTask::DecodingTask(const Tokenizer& tokenizer, int n_text_ctx, DecodingOptions options)
    : tokenizer_(tokenizer), options_(std::move(options)), n_text_ctx_(n_text_ctx) {
  const SpecialTokens& sp = tokenizer_.special();
  if (options_.sample_len < 0) {
    throw Error(ErrorCode::kInvalidArgument, "sample_len must not be negative");
  }
  if (!(options_.temperature >= 0.0f)) {
    throw Error(ErrorCode::kInvalidArgument, "temperature must not be negative");
  }
  sample_len_ = options_.sample_len > 0 ? options_.sample_len : n_text_ctx_ / 2;

  initial_tokens_ = sp.start_sequence(options_.language, options_.task, options_.timestamps);
  if (!options_.prefix.empty()) {
    std::span<const int> prefix = options_.prefix;
    // prefix_tokens[-max_prefix_len:] in Python: 0 keeps all, a negative count drops from the
    // front.
    const int max_prefix_len = n_text_ctx_ / 2 - sample_len_;
    const auto n = static_cast<int>(prefix.size());
    const int keep = max_prefix_len > 0    ? std::min(n, max_prefix_len)
                     : max_prefix_len == 0 ? n
                                           : std::max(0, n + max_prefix_len);
    prefix = prefix.last(static_cast<std::size_t>(keep));
    initial_tokens_.insert(initial_tokens_.end(), prefix.begin(), prefix.end());
  }
  if (!options_.prompt.empty()) {
    std::span<const int> prompt = options_.prompt;
    const auto max_prompt = static_cast<std::size_t>(n_text_ctx_ / 2 - 1);
    if (prompt.size() > max_prompt) {
      prompt = prompt.last(max_prompt);
    }
    std::vector<int> with_prompt{sp.start_of_prev};
    with_prompt.insert(with_prompt.end(), prompt.begin(), prompt.end());
    with_prompt.insert(with_prompt.end(), initial_tokens_.begin(), initial_tokens_.end());
    initial_tokens_ = std::move(with_prompt);
  }
  for (const int id : initial_tokens_) {
    if (id < 0 || id >= sp.n_vocab) {
      throw Error(ErrorCode::kInvalidArgument,
                  "prompt or prefix token " + std::to_string(id) + " outside the vocabulary");
    }
  }
  if (static_cast<int>(initial_tokens_.size()) >= n_text_ctx_) {
    throw Error(ErrorCode::kInvalidArgument, "prompt and prefix leave no room in the text context");
  }
  sample_begin_ = static_cast<int>(initial_tokens_.size());
  sot_index_ = static_cast<int>(std::find(initial_tokens_.begin(), initial_tokens_.end(), sp.sot) -
                                initial_tokens_.begin());

  if (options_.suppress_blank) {
    filters_.push_back(std::make_unique<SuppressBlank>(tokenizer_, sample_begin_));
  }
  if (!options_.suppress_tokens.empty()) {
    filters_.push_back(std::make_unique<SuppressTokens>(
        expand_suppress_tokens(options_.suppress_tokens, tokenizer_)));
  }
  if (options_.timestamps) {
    std::optional<int> max_initial_index;
    // `if options.max_initial_timestamp:` in the reference: 0 means no limit.
    if (options_.max_initial_timestamp && *options_.max_initial_timestamp > 0.0f) {
      // Python's round() of the quotient (halves to even; 1.0 / 0.02 is 50 either way).
      max_initial_index = static_cast<int>(
          std::nearbyint(static_cast<double>(*options_.max_initial_timestamp) / kTimePrecision));
    }
    filters_.push_back(std::make_unique<TimestampRules>(sp, sample_begin_, max_initial_index));
  }
}

std::unique_ptr<DecodingStrategy> DecodingTask::make_strategy() const {
  if (options_.temperature == 0.0f) {
    return std::make_unique<GreedyDecoder>();
  }
  return std::make_unique<TemperatureSampler>(options_.temperature, options_.seed);
}

std::span<const float> DecodingTask::feed_initial(LogitsSource& source,
                                                  DecodingResult& result) const {
  const SpecialTokens& sp = tokenizer_.special();
  const std::span<const int> tokens = initial_tokens_;
  check_cancel(options_.cancel);
  source.reset();
  // The forward pass is split after sot so that its logits, which no_speech_prob reads, come
  // out of a last-row call; causal attention makes this the same computation.
  const auto sot_end = static_cast<std::size_t>(sot_index_) + 1;
  std::span<const float> logits = source.feed(tokens.first(sot_end));
  {
    const float max = max_of(logits);
    const double lse = log_sum_exp(logits, max);
    // softmax in float32 as the reference's probs_at_sot
    result.no_speech_prob = static_cast<float>(
        std::exp(static_cast<double>(logits[static_cast<std::size_t>(sp.no_speech)]) - lse));
  }
  if (sot_end < tokens.size()) {
    logits = source.feed(tokens.subspan(sot_end));
  }
  return logits;
}

void DecodingTask::apply_filters(std::span<float> logits, std::span<const int> tokens) const {
  for (const auto& filter : filters_) {
    filter->apply(logits, tokens);
  }
}

void DecodingTask::finish(DecodingResult& result, float sum_logprob) const {
  result.text = std::string(strip_whitespace(tokenizer_.decode(result.tokens)));
  result.avg_logprob =
      static_cast<double>(sum_logprob) / static_cast<double>(result.tokens.size() + 1);
  result.compression_ratio = compression_ratio(result.text);
}

DecodingResult DecodingTask::run(LogitsSource& source) const {
  const bool beams = options_.temperature == 0.0f && options_.beam_size > 0;
  const bool samples = options_.temperature > 0.0f && options_.best_of > 1;
  return beams || samples ? run_batched(source) : run_single(source);
}

DecodingResult DecodingTask::run_single(LogitsSource& source) const {
  const SpecialTokens& sp = tokenizer_.special();
  const std::unique_ptr<DecodingStrategy> strategy = make_strategy();
  DecodingResult result;
  result.language = options_.language;
  result.temperature = options_.temperature;

  std::vector<int> tokens = initial_tokens_;
  std::span<const float> logits = feed_initial(source, result);

  std::vector<float> filtered;
  float sum_logprobs = 0.0f;  // float32 accumulation, as the reference's torch tensor
  for (int i = 0; i < sample_len_; ++i) {
    if (i > 0) {
      check_cancel(options_.cancel);
      logits = source.feed(std::span<const int>(tokens).last(1));
    }
    filtered.assign(logits.begin(), logits.end());
    apply_filters(filtered, tokens);
    const int chosen = strategy->choose(filtered);
    const float logprob = log_softmax_at(filtered, chosen);
    if (options_.record_steps) {
      DecodingStep step = record_step(filtered, static_cast<int>(tokens.size()));
      step.chosen = chosen;
      step.chosen_logprob = logprob;
      result.steps.push_back(step);
    }
    sum_logprobs += logprob;
    tokens.push_back(chosen);
    if (chosen == sp.eot) {
      result.ended_with_eot = true;
      break;
    }
    // The reference stops once the sequence outgrows the text context.
    if (static_cast<int>(tokens.size()) > n_text_ctx_) {
      break;
    }
  }

  result.tokens.assign(tokens.begin() + sample_begin_,
                       tokens.end() - (result.ended_with_eot ? 1 : 0));
  finish(result, sum_logprobs);
  return result;
}

DecodingResult DecodingTask::run_batched(LogitsSource& source) const {
  const SpecialTokens& sp = tokenizer_.special();
  const bool beams = options_.temperature == 0.0f;
  const int n_group = beams ? options_.beam_size : options_.best_of;
  auto rows = static_cast<std::size_t>(n_group);
  DecodingResult result;
  result.language = options_.language;
  result.temperature = options_.temperature;

  std::optional<BeamSearchDecoder> beam_search;
  std::vector<TemperatureSampler> samplers;
  if (beams) {
    beam_search.emplace(n_group, sp.eot, options_.patience);
  } else {
    for (std::size_t r = 0; r < rows; ++r) {
      // One generator per candidate: each sample depends only on the seed and its index.
      samplers.emplace_back(options_.temperature, options_.seed + 0x9E3779B97F4A7C15ull * r);
    }
  }

  // Every row starts as the initial tokens, as the reference's repeat_interleave.
  const std::span<const float> first = feed_initial(source, result);
  const std::size_t n_vocab = first.size();
  std::vector<float> logits(first.begin(), first.end());
  for (std::size_t r = 1; r < rows; ++r) {
    logits.insert(logits.end(), first.begin(), first.end());
  }
  source.fork(initial_tokens_, n_group, sample_len_);

  std::vector<std::vector<int>> sequences(rows, initial_tokens_);
  std::vector<float> sum_logprobs(rows, 0.0f);
  std::vector<float> logprobs(beams ? rows * n_vocab : 0);  // beam search ranks them all
  std::vector<int> next(rows);
  for (int i = 0; i < sample_len_; ++i) {
    if (i > 0) {
      check_cancel(options_.cancel);
      const std::span<const float> batch = source.feed_batch(next);
      logits.assign(batch.begin(), batch.end());
    }
    const auto finished = [&](std::size_t r) {
      return !beams && sequences[r].back() == sp.eot &&
             static_cast<int>(sequences[r].size()) > sample_begin_;
    };
    for (std::size_t r = 0; r < rows; ++r) {
      if (finished(r)) {
        continue;  // its next token is eot whatever the logits say
      }
      const std::span<float> row(logits.data() + r * n_vocab, n_vocab);
      apply_filters(row, sequences[r]);
      if (beams) {
        const double lse = log_sum_exp(row, max_of(row));
        for (std::size_t t = 0; t < n_vocab; ++t) {
          logprobs[r * n_vocab + t] = static_cast<float>(static_cast<double>(row[t]) - lse);
        }
      }
    }
    bool completed = false;
    if (beams) {
      const BeamSearchDecoder::Step step = beam_search->update(sequences, logprobs, sum_logprobs);
      // Fewer rows than beams remain only when fewer tokens than beams are allowed at all.
      rows = sequences.size();
      if (rows == 0) {
        break;
      }
      source.reorder(step.sources);
      next.resize(rows);
      for (std::size_t r = 0; r < rows; ++r) {
        next[r] = sequences[r].back();
      }
      logprobs.resize(rows * n_vocab);
      completed = step.completed;
    } else {
      completed = true;
      for (std::size_t r = 0; r < rows; ++r) {
        std::vector<int>& seq = sequences[r];
        if (finished(r)) {
          next[r] = sp.eot;  // finished rows repeat eot without adding to their score
        } else {
          const std::span<const float> row =
              std::span<const float>(logits).subspan(r * n_vocab, n_vocab);
          next[r] = samplers[r].choose(row);
          sum_logprobs[r] += log_softmax_at(row, next[r]);
        }
        seq.push_back(next[r]);
        completed = completed && next[r] == sp.eot;
      }
    }
    if (completed || static_cast<int>(sequences.front().size()) > n_text_ctx_) {
      break;
    }
  }

  // Candidates without the initial tokens, cut at their first eot.
  std::vector<std::vector<int>> candidates;
  std::vector<float> candidate_sums;
  const auto cut = [&](const std::vector<int>& seq) {
    const auto begin = seq.begin() + sample_begin_;
    return std::vector<int>(begin, std::find(begin, seq.end(), sp.eot));
  };
  if (beams) {
    for (const BeamCandidate& c : beam_search->finalize(sequences, sum_logprobs)) {
      candidates.push_back(cut(c.tokens));
      candidate_sums.push_back(c.sum_logprob);
    }
  } else {
    for (std::size_t r = 0; r < rows; ++r) {
      candidates.push_back(cut(sequences[r]));
      candidate_sums.push_back(sum_logprobs[r]);
    }
  }
  const std::size_t best = rank_candidates(candidates, candidate_sums, options_.length_penalty);
  result.tokens = std::move(candidates[best]);
  if (beams) {
    // finalize() lists the finished hypotheses first, then unfinished beams given an eot.
    result.ended_with_eot = best < beam_search->finished_count();
  } else {
    const std::vector<int>& seq = sequences[best];
    result.ended_with_eot = std::find(seq.begin() + sample_begin_, seq.end(), sp.eot) != seq.end();
  }
  finish(result, candidate_sums[best]);
  return result;
}

std::vector<LanguageProbability> language_probabilities(std::span<const float> sot_logits,
                                                        const SpecialTokens& special) {
  const auto langs = special.languages();
  const std::span<const float> lang_logits =
      sot_logits.subspan(static_cast<std::size_t>(special.first_language), langs.size());
  const double lse = log_sum_exp(lang_logits, max_of(lang_logits));
  std::vector<LanguageProbability> probs;
  probs.reserve(langs.size());
  for (std::size_t i = 0; i < langs.size(); ++i) {
    probs.push_back({std::string(langs[i].code),
                     static_cast<float>(std::exp(static_cast<double>(lang_logits[i]) - lse))});
  }
  std::stable_sort(probs.begin(), probs.end(),
                   [](const auto& a, const auto& b) { return a.probability > b.probability; });
  return probs;
}

std::vector<LanguageProbability> language_probabilities(LogitsSource& source,
                                                        const SpecialTokens& special) {
  source.reset();
  const int sot = special.sot;
  return language_probabilities(source.feed(std::span<const int>(&sot, 1)), special);
}

}  // namespace earshot::whisper
