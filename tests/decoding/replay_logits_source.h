#pragma once

// LogitsSource doubles for the decoding tests.

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "decoding/reference_files.h"
#include "whisper/decoding.h"

namespace earshot::testing {

// Replays recorded logits: row p holds the logits after the token at position p (as in
// logits_teacher_forced_nots.npy), and each fed token must be the one that was recorded.
class ReplayLogitsSource final : public whisper::LogitsSource {
 public:
  ReplayLogitsSource(const reference::NpyArray& logits, std::vector<int> recorded_sequence)
      : logits_(logits), recorded_(std::move(recorded_sequence)) {}

  void reset() override { pos_ = 0; }

  std::span<const float> feed(std::span<const int> tokens) override {
    for (const int t : tokens) {
      if (pos_ >= recorded_.size() || pos_ >= logits_.shape[0]) {
        throw std::runtime_error("replay ran past the recorded logits at position " +
                                 std::to_string(pos_));
      }
      if (t != recorded_[pos_]) {
        throw std::runtime_error("replay fed token " + std::to_string(t) + " at position " +
                                 std::to_string(pos_) + ", recorded " +
                                 std::to_string(recorded_[pos_]));
      }
      ++pos_;
    }
    return {logits_.row(pos_ - 1), logits_.row_size()};
  }

 private:
  const reference::NpyArray& logits_;
  std::vector<int> recorded_;
  std::size_t pos_ = 0;
};

// Logits computed from the whole sequence so far by a test-supplied function; records every
// call so tests can check how the decoder feeds its network.
class ScriptedLogitsSource final : public whisper::LogitsSource {
 public:
  using Script = std::function<std::vector<float>(const std::vector<int>& sequence)>;
  explicit ScriptedLogitsSource(Script script) : script_(std::move(script)) {}

  void reset() override {
    sequence.clear();
    ++resets;
  }
  std::span<const float> feed(std::span<const int> tokens) override {
    feeds.emplace_back(tokens.begin(), tokens.end());
    sequence.insert(sequence.end(), tokens.begin(), tokens.end());
    logits_ = script_(sequence);
    return logits_;
  }

  std::vector<int> sequence;
  std::vector<std::vector<int>> feeds;
  int resets = 0;

 private:
  Script script_;
  std::vector<float> logits_;
};

}  // namespace earshot::testing
