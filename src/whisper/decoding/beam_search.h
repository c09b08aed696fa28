#pragma once

// Beam search and candidate ranking as OpenAI's decoding.py does them (BeamSearchDecoder,
// MaximumLikelihoodRanker), for one audio window. The network and the logit filters stay with
// DecodingTask; this holds only the bookkeeping of beams and finished hypotheses.

#include <optional>
#include <span>
#include <vector>

namespace earshot::whisper {

// A finished hypothesis: the whole token sequence (initial tokens included, eot last) and its
// summed log-probability (float32, as the reference's tensor).
struct BeamCandidate {
  std::vector<int> tokens;
  float sum_logprob = 0.0f;
};

class BeamSearchDecoder {
 public:
  // Throws Error(kInvalidArgument) when beam_size < 1 or round(beam_size * patience) < 1.
  BeamSearchDecoder(int beam_size, int eot, float patience);

  int beam_size() const { return beam_size_; }
  // round(beam_size * patience): finished hypotheses that end the search.
  int max_candidates() const { return max_candidates_; }
  // Hypotheses that ended with eot so far.
  std::size_t finished_count() const { return finished_.size(); }

  struct Step {
    std::vector<int> sources;  // next row i continues current row sources[i]
    bool completed = false;    // max_candidates hypotheses have finished
  };

  // One step over beam_size rows. `sequences`: each row's tokens so far (all rows equal at the
  // first step, as the reference repeats the initial tokens); `logprobs`: each row's
  // log-softmax over the filtered logits, [rows x n_vocab]. Each row proposes its
  // beam_size + 1 most probable tokens; candidates are ranked by summed log-probability
  // (ties keep proposal order); those ending in eot become finished hypotheses, the best
  // beam_size others the next rows. `sequences` and `sum_logprobs` are replaced by the next
  // rows'.
  Step update(std::vector<std::vector<int>>& sequences, std::span<const float> logprobs,
              std::vector<float>& sum_logprobs);

  // The finished hypotheses in the order they finished; when fewer than beam_size finished,
  // the current rows (best first) with eot appended fill up to beam_size.
  std::vector<BeamCandidate> finalize(const std::vector<std::vector<int>>& sequences,
                                      std::span<const float> sum_logprobs) const;

 private:
  int beam_size_;
  int eot_;
  int max_candidates_;
  std::vector<BeamCandidate> finished_;
};

// MaximumLikelihoodRanker: the index of the best candidate by sum_logprob / penalty, where
// penalty is the length (tokens without the initial ones and eot) or, with a length penalty
// alpha, ((5 + length) / 6)^alpha (Wu et al. 2016, Google NMT); the first on a tie.
std::size_t rank_candidates(std::span<const std::vector<int>> tokens,
                            std::span<const float> sum_logprobs,
                            std::optional<float> length_penalty);

}  // namespace earshot::whisper
