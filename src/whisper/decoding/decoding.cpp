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

namespace {

// The candidates a batched decode ends with: token sequences without the initial tokens, cut
// at their first eot, their summed log-probabilities, and whether each ended with eot.
struct Candidates {
  std::vector<std::vector<int>> tokens;
  std::vector<float> sum_logprobs;
  std::vector<bool> ended_with_eot;
};

// How the rows of a batched decode choose their next tokens, as the reference's TokenDecoder:
// beam search at temperature 0, best_of independent samples above it. DecodingTask feeds the
// network, applies the logit filters and ranks the candidates; this holds the rest.
class TokenDecoder {
 public:
  virtual ~TokenDecoder() = default;
  // Whether row r is done: its logits are not filtered and its next token is eot.
  virtual bool row_finished(const std::vector<int>& sequence) const = 0;
  // One step over the rows' filtered logits [rows x n_vocab]: appends each row's next token
  // to `sequences` (which beam search replaces, and may shorten) and adds its log-probability
  // to `sum_logprobs`; `next` gets the tokens the network is fed next, and `source` follows a
  // reordering of the rows. True when decoding is complete.
  virtual bool update(std::vector<std::vector<int>>& sequences, std::span<const float> logits,
                      std::vector<float>& sum_logprobs, std::vector<int>& next,
                      LogitsSource& source) = 0;
  virtual Candidates finalize(const std::vector<std::vector<int>>& sequences,
                              std::span<const float> sum_logprobs) const = 0;
};

// The candidate of `sequence`: without the initial tokens, cut at its first eot.
std::vector<int> cut_candidate(const std::vector<int>& sequence, int sample_begin, int eot) {
  const auto begin = sequence.begin() + sample_begin;
  return {begin, std::find(begin, sequence.end(), eot)};
}

class BeamSearchTokenDecoder final : public TokenDecoder {
 public:
  BeamSearchTokenDecoder(int beam_size, int eot, float patience, int sample_begin)
      : search_(beam_size, eot, patience), eot_(eot), sample_begin_(sample_begin) {}

  bool row_finished(const std::vector<int>& /*sequence*/) const override { return false; }

  bool update(std::vector<std::vector<int>>& sequences, std::span<const float> logits,
              std::vector<float>& sum_logprobs, std::vector<int>& next,
              LogitsSource& source) override {
    const std::size_t n_vocab = logits.size() / sequences.size();
    // Beam search ranks every token of every row by its log-probability.
    logprobs_.resize(logits.size());
    for (std::size_t r = 0; r < sequences.size(); ++r) {
      const std::span<const float> row = logits.subspan(r * n_vocab, n_vocab);
      const double lse = log_sum_exp(row, max_of(row));
      for (std::size_t t = 0; t < n_vocab; ++t) {
        logprobs_[r * n_vocab + t] = static_cast<float>(static_cast<double>(row[t]) - lse);
      }
    }
    const BeamSearchDecoder::Step step = search_.update(sequences, logprobs_, sum_logprobs);
    // Fewer rows than beams remain only when fewer tokens than beams are allowed at all.
    if (sequences.empty()) {
      return true;
    }
    source.reorder(step.sources);
    next.resize(sequences.size());
    for (std::size_t r = 0; r < sequences.size(); ++r) {
      next[r] = sequences[r].back();
    }
    return step.completed;
  }

  Candidates finalize(const std::vector<std::vector<int>>& sequences,
                      std::span<const float> sum_logprobs) const override {
    Candidates out;
    // finalize() lists the finished hypotheses first, then unfinished beams given an eot.
    const std::vector<BeamCandidate> all = search_.finalize(sequences, sum_logprobs);
    for (std::size_t i = 0; i < all.size(); ++i) {
      out.tokens.push_back(cut_candidate(all[i].tokens, sample_begin_, eot_));
      out.sum_logprobs.push_back(all[i].sum_logprob);
      out.ended_with_eot.push_back(i < search_.finished_count());
    }
    return out;
  }

 private:
  BeamSearchDecoder search_;
  int eot_;
  int sample_begin_;
  std::vector<float> logprobs_;
};

class SamplingTokenDecoder final : public TokenDecoder {
 public:
  SamplingTokenDecoder(int best_of, float temperature, std::uint64_t seed, int eot,
                       int sample_begin)
      : eot_(eot), sample_begin_(sample_begin) {
    for (int r = 0; r < best_of; ++r) {
      // One generator per candidate: each sample depends only on the seed and its index.
      samplers_.emplace_back(temperature,
                             seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(r));
    }
  }

  bool row_finished(const std::vector<int>& sequence) const override {
    return sequence.back() == eot_ && static_cast<int>(sequence.size()) > sample_begin_;
  }

  bool update(std::vector<std::vector<int>>& sequences, std::span<const float> logits,
              std::vector<float>& sum_logprobs, std::vector<int>& next,
              LogitsSource& /*source*/) override {
    const std::size_t n_vocab = logits.size() / sequences.size();
    bool completed = true;
    for (std::size_t r = 0; r < sequences.size(); ++r) {
      if (row_finished(sequences[r])) {
        next[r] = eot_;  // finished rows repeat eot without adding to their score
      } else {
        const std::span<const float> row = logits.subspan(r * n_vocab, n_vocab);
        next[r] = samplers_[r].choose(row);
        sum_logprobs[r] += log_softmax_at(row, next[r]);
      }
      sequences[r].push_back(next[r]);
      completed = completed && next[r] == eot_;
    }
    return completed;
  }

  Candidates finalize(const std::vector<std::vector<int>>& sequences,
                      std::span<const float> sum_logprobs) const override {
    Candidates out;
    for (std::size_t r = 0; r < sequences.size(); ++r) {
      const std::vector<int>& seq = sequences[r];
      out.tokens.push_back(cut_candidate(seq, sample_begin_, eot_));
      out.sum_logprobs.push_back(sum_logprobs[r]);
      out.ended_with_eot.push_back(std::find(seq.begin() + sample_begin_, seq.end(), eot_) !=
                                   seq.end());
    }
    return out;
  }

 private:
  int eot_;
  int sample_begin_;
  std::vector<TemperatureSampler> samplers_;
};

}  // namespace

DecodingResult DecodingTask::run_batched(LogitsSource& source) const {
  const SpecialTokens& sp = tokenizer_.special();
  const bool beams = options_.temperature == 0.0f;
  const int n_group = beams ? options_.beam_size : options_.best_of;
  const auto rows = static_cast<std::size_t>(n_group);
  DecodingResult result;
  result.language = options_.language;
  result.temperature = options_.temperature;

  std::unique_ptr<TokenDecoder> decoder;
  if (beams) {
    decoder =
        std::make_unique<BeamSearchTokenDecoder>(n_group, sp.eot, options_.patience, sample_begin_);
  } else {
    decoder = std::make_unique<SamplingTokenDecoder>(n_group, options_.temperature, options_.seed,
                                                     sp.eot, sample_begin_);
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
  std::vector<int> next(rows);
  for (int i = 0; i < sample_len_; ++i) {
    if (i > 0) {
      check_cancel(options_.cancel);
      const std::span<const float> batch = source.feed_batch(next);
      logits.assign(batch.begin(), batch.end());
    }
    for (std::size_t r = 0; r < sequences.size(); ++r) {
      if (!decoder->row_finished(sequences[r])) {
        apply_filters(std::span<float>(logits.data() + r * n_vocab, n_vocab), sequences[r]);
      }
    }
    const bool completed = decoder->update(sequences, logits, sum_logprobs, next, source);
    if (sequences.empty() || completed ||
        static_cast<int>(sequences.front().size()) > n_text_ctx_) {
      break;
    }
  }

  const Candidates candidates = decoder->finalize(sequences, sum_logprobs);
  const std::size_t best =
      rank_candidates(candidates.tokens, candidates.sum_logprobs, options_.length_penalty);
  result.tokens = candidates.tokens[best];
  result.ended_with_eot = candidates.ended_with_eot[best];
  finish(result, candidates.sum_logprobs[best]);
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
