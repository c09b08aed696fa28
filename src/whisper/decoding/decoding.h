#pragma once

// Single-window decoding as OpenAI's DecodingTask does it (decoding.py): start sequence (and
// prompt), one forward pass per sampled token, the logit filters, then a decoding strategy
// that picks the token. The network is behind LogitsSource, so the loop can be driven by a
// WhisperState or by recorded logits.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "earshot/whisper.h"
#include "whisper/decoding/logit_filters.h"
#include "whisper/text/tokenizer.h"

namespace earshot::whisper {

// Where decoder logits come from: the network over one window's audio.
class LogitsSource {
 public:
  virtual ~LogitsSource() = default;
  // Forgets every token fed so far (the audio stays).
  virtual void reset() = 0;
  // Appends `tokens` to the sequence and returns the logits predicting the token after the last
  // of them, [n_vocab]. The span stays valid until the next call.
  virtual std::span<const float> feed(std::span<const int> tokens) = 0;

  // Batched decoding (beam search, best_of sampling): n sequences that all continue `prefix`,
  // the tokens fed since the last reset(). fork() starts them, each to receive at most
  // `max_steps` more tokens; feed_batch() appends one token
  // to each and returns their next logits, [n x n_vocab] row by row; reorder() makes sequence
  // i continue what sequence sources[i] held (a beam search step). The defaults recompute each
  // sequence from the start with reset() and feed(), which suits test doubles; a network
  // overrides them to share the prefix and cache each sequence.
  virtual void fork(std::span<const int> prefix, int n, int max_steps);
  virtual std::span<const float> feed_batch(std::span<const int> tokens);
  virtual void reorder(std::span<const int> sources);

 private:
  std::vector<int> batch_prefix_;
  std::vector<std::vector<int>> batch_sequences_;
  std::vector<float> batch_logits_;
};

// A LogitsSource over audio given one 30 s window at a time: the encoder and the decoder of a
// model, as the long-form loop drives them.
class WindowLogitsSource : public LogitsSource {
 public:
  // Sets the window the following decoding attends to, mel [n_mels x 3000] band-major; forgets
  // fed tokens.
  virtual void set_window(std::span<const float> mel) = 0;

  // Word timestamps (timing.py's find_alignment): a fresh pass over `tokens` in the current
  // window that returns the raw cross-attention scores q k^T / sqrt(d_head) of the model's
  // alignment heads and the logits of every row. Forgets fed tokens. The default throws
  // Error(kInvalidArgument): a source without a network has no attention to offer.
  struct AlignmentPass {
    int n_heads = 0;
    int n_tokens = 0;
    int n_frames = 0;           // encoder positions, 1500
    std::vector<float> scores;  // [head][token][frame]
    std::vector<float> logits;  // [token][n_vocab]
  };
  virtual AlignmentPass alignment_pass(std::span<const int> tokens);
};

// Picks the next token from filtered logits (GreedyDecoder.update's choice in the reference).
class DecodingStrategy {
 public:
  virtual ~DecodingStrategy() = default;
  virtual int choose(std::span<const float> filtered_logits) = 0;
};

// Temperature 0: the argmax, the first index on a tie (torch.argmax).
class GreedyDecoder final : public DecodingStrategy {
 public:
  int choose(std::span<const float> filtered_logits) override;
};

// Temperature > 0: a draw from softmax(logits / temperature) with a seeded generator, so a
// run is reproducible (the reference's draws are not, and no file covers them).
class TemperatureSampler final : public DecodingStrategy {
 public:
  TemperatureSampler(float temperature, std::uint64_t seed);
  int choose(std::span<const float> filtered_logits) override;

 private:
  float temperature_;
  std::mt19937_64 rng_;
  std::vector<double> weights_;
};

struct DecodingOptions {
  Task task = Task::kTranscribe;
  std::string language = "en";  // ISO code; ignored by English-only models
  float temperature = 0.0f;     // 0 = greedy (or beam search), else sampling
  int beam_size = 0;            // beams at temperature 0; 0 = greedy (the reference's None)
  float patience = 1.0f;        // beam search stops after round(beam_size * patience) finished
  std::optional<float> length_penalty;  // ranking: nullopt = sum_logprob / length, else the
                                        // Google NMT penalty ((5 + length) / 6)^alpha
  int best_of = 1;                      // independent samples at temperature > 0, best kept
  int sample_len = 0;                   // max tokens sampled; 0 = n_text_ctx / 2
  bool timestamps = true;               // false starts with <|notimestamps|>
  std::vector<int> prompt;     // previous text; given = <|startofprev|> + its last n_text_ctx/2-1
  std::vector<int> prefix;     // forced first tokens of the transcript; empty = none
  bool suppress_blank = true;  // no " " or eot as the first sampled token
  std::vector<int> suppress_tokens = {-1};            // -1 = the non-speech symbols
  std::optional<float> max_initial_timestamp = 1.0f;  // seconds; nullopt = unlimited
  std::uint64_t seed = 0;                             // sampling draws (temperature > 0)
  const std::atomic<bool>* cancel = nullptr;  // raised = Error(kCancelled) before the next step
  bool record_steps = false;                  // fill DecodingResult::steps
};

// One decision, as in the conformance files' `steps`.
struct DecodingStep {
  int pos = 0;  // sequence length (initial tokens included) before the step
  std::array<int, 5> top_ids{};
  std::array<float, 5> top_logits{};  // filtered; -inf where fewer than 5 were allowed
  int chosen = 0;
  float chosen_logprob = 0;  // log-softmax of the filtered logits
};

struct DecodingResult {
  std::vector<int> tokens;  // sampled ids, without the initial tokens and the final eot
  std::string text;         // decode(tokens), stripped, timestamps dropped
  std::string language;
  double avg_logprob = 0;     // sum of chosen log-probs (eot step included) / (tokens + 1)
  double no_speech_prob = 0;  // softmax at the sot position of the unfiltered logits
  double compression_ratio = 0;
  float temperature = 0;
  bool ended_with_eot = false;      // false: stopped by sample_len or n_text_ctx
  std::vector<DecodingStep> steps;  // only with DecodingOptions::record_steps
};

// len(b) / len(zlib.compress(b)) at zlib's default level, b = the UTF-8 bytes of `text`.
double compression_ratio(std::string_view text);

class DecodingTask {
 public:
  // Throws Error(kInvalidArgument) for options the model cannot honour.
  DecodingTask(const Tokenizer& tokenizer, int n_text_ctx, DecodingOptions options);

  // The tokens fed before sampling: [<|startofprev|>, prompt...] start sequence [prefix...].
  const std::vector<int>& initial_tokens() const { return initial_tokens_; }
  int sample_len() const { return sample_len_; }

  // Decodes one window. Throws Error(kCancelled) when the cancel flag is raised.
  DecodingResult run(LogitsSource& source) const;

 private:
  std::unique_ptr<DecodingStrategy> make_strategy() const;
  DecodingResult run_single(LogitsSource& source) const;
  DecodingResult run_batched(LogitsSource& source) const;
  // Reads no_speech_prob at sot and feeds the initial tokens; returns the next logits.
  std::span<const float> feed_initial(LogitsSource& source, DecodingResult& result) const;
  void apply_filters(std::span<float> logits, std::span<const int> tokens) const;
  void finish(DecodingResult& result, float sum_logprob) const;

  const Tokenizer& tokenizer_;
  DecodingOptions options_;
  int n_text_ctx_;
  int sample_len_;
  std::vector<int> initial_tokens_;
  int sample_begin_;
  int sot_index_;
  std::vector<std::unique_ptr<LogitFilter>> filters_;
};

// Language detection from the logits at the sot position of [sot]: softmax over the model's
// language tokens only, highest probability first (ties in token order).
std::vector<LanguageProbability> language_probabilities(std::span<const float> sot_logits,
                                                        const SpecialTokens& special);

// The same for one encoded window: resets `source` and runs one decoder step on [sot].
std::vector<LanguageProbability> language_probabilities(LogitsSource& source,
                                                        const SpecialTokens& special);

}  // namespace earshot::whisper
