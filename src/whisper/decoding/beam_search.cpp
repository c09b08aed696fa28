#include "whisper/decoding/beam_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "earshot/error.h"

namespace earshot::whisper {

BeamSearchDecoder::BeamSearchDecoder(int beam_size, int eot, float patience)
    : beam_size_(beam_size), eot_(eot) {
  if (beam_size < 1) {
    throw Error(ErrorCode::kInvalidArgument, "beam_size must be at least 1");
  }
  // Python's round() of beam_size * patience: halves go to the even neighbour.
  max_candidates_ = static_cast<int>(
      std::nearbyint(static_cast<double>(beam_size) * static_cast<double>(patience)));
  if (!(patience > 0.0f) || max_candidates_ < 1) {
    throw Error(ErrorCode::kInvalidArgument, "patience leaves no beam search candidates");
  }
}

BeamSearchDecoder::Step BeamSearchDecoder::update(std::vector<std::vector<int>>& sequences,
                                                  std::span<const float> logprobs,
                                                  std::vector<float>& sum_logprobs) {
  const std::size_t rows = sequences.size();
  const std::size_t n_vocab = rows == 0 ? 0 : logprobs.size() / rows;
  struct Proposal {
    std::size_t source;
    int token;
    float score;
  };
  // The reference keys candidates by their whole sequence: a sequence proposed twice (rows with
  // equal tokens, i.e. the first step) keeps its first place and takes the last row as source.
  std::vector<Proposal> proposals;
  const auto k = static_cast<std::size_t>(beam_size_) + 1;
  std::vector<int> order(n_vocab);
  for (std::size_t row = 0; row < rows; ++row) {
    const std::span<const float> lp = logprobs.subspan(row * n_vocab, n_vocab);
    std::iota(order.begin(), order.end(), 0);
    const std::size_t top = std::min(k, n_vocab);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](int a, int b) {
                        const float la = lp[static_cast<std::size_t>(a)];
                        const float lb = lp[static_cast<std::size_t>(b)];
                        return la > lb || (la == lb && a < b);
                      });
    for (std::size_t i = 0; i < top; ++i) {
      const int token = order[i];
      const float score = sum_logprobs[row] + lp[static_cast<std::size_t>(token)];
      const auto same = std::find_if(proposals.begin(), proposals.end(), [&](const Proposal& p) {
        return p.token == token && sequences[p.source] == sequences[row];
      });
      if (same != proposals.end()) {
        same->source = row;
        same->score = score;
      } else {
        proposals.push_back({row, token, score});
      }
    }
  }
  // sorted(scores, key=scores.get, reverse=True): stable, best first.
  std::stable_sort(proposals.begin(), proposals.end(),
                   [](const Proposal& a, const Proposal& b) { return a.score > b.score; });

  Step step;
  std::vector<std::vector<int>> next;
  std::vector<float> next_sums;
  std::vector<BeamCandidate> newly_finished;
  for (const Proposal& p : proposals) {
    std::vector<int> sequence = sequences[p.source];
    sequence.push_back(p.token);
    if (p.token == eot_) {
      newly_finished.push_back({std::move(sequence), p.score});
      continue;
    }
    next.push_back(std::move(sequence));
    next_sums.push_back(p.score);
    step.sources.push_back(static_cast<int>(p.source));
    if (static_cast<int>(next.size()) == beam_size_) {
      break;
    }
  }
  for (BeamCandidate& candidate : newly_finished) {
    if (static_cast<int>(finished_.size()) >= max_candidates_) {
      break;  // the candidate list is full
    }
    finished_.push_back(std::move(candidate));
  }
  sequences = std::move(next);
  sum_logprobs = std::move(next_sums);
  step.completed = static_cast<int>(finished_.size()) >= max_candidates_;
  return step;
}

std::vector<BeamCandidate> BeamSearchDecoder::finalize(
    const std::vector<std::vector<int>>& sequences, std::span<const float> sum_logprobs) const {
  std::vector<BeamCandidate> out = finished_;
  if (static_cast<int>(out.size()) < beam_size_) {
    std::vector<std::size_t> order(sequences.size());
    std::iota(order.begin(), order.end(), 0);
    // np.argsort(sum_logprobs)[::-1]: best first.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return sum_logprobs[a] < sum_logprobs[b];
    });
    std::reverse(order.begin(), order.end());
    for (const std::size_t row : order) {
      std::vector<int> sequence = sequences[row];
      sequence.push_back(eot_);
      out.push_back({std::move(sequence), sum_logprobs[row]});
      if (static_cast<int>(out.size()) >= beam_size_) {
        break;
      }
    }
  }
  return out;
}

std::size_t rank_candidates(std::span<const std::vector<int>> tokens,
                            std::span<const float> sum_logprobs,
                            std::optional<float> length_penalty) {
  std::size_t best = 0;
  double best_score = 0.0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto length = static_cast<double>(tokens[i].size());
    const double penalty =
        length_penalty ? std::pow((5.0 + length) / 6.0, static_cast<double>(*length_penalty))
                       : length;
    const double score = static_cast<double>(sum_logprobs[i]) / penalty;
    if (i == 0 || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

}  // namespace earshot::whisper
