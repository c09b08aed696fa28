#pragma once

// LogitsSource doubles for the decoding tests.

#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "testing/reference_files.h"
#include "whisper/decoding/decoding.h"

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

// A scripted WindowLogitsSource for the long-form loop: logits are a function of the window
// (its mel's first value, which the tests set to the window's seek) and the sequence fed since
// the last reset. Records every window and every call.
class ScriptedWindowSource final : public whisper::WindowLogitsSource {
 public:
  using Script =
      std::function<std::vector<float>(int window_seek, const std::vector<int>& sequence)>;
  explicit ScriptedWindowSource(Script script) : script_(std::move(script)) {}

  void set_window(std::span<const float> mel) override {
    window_seeks.push_back(static_cast<int>(mel[0]));
    sequence.clear();
  }
  void reset() override { sequence.clear(); }
  std::span<const float> feed(std::span<const int> tokens) override {
    if (sequence.empty()) first_feeds.emplace_back(tokens.begin(), tokens.end());
    sequence.insert(sequence.end(), tokens.begin(), tokens.end());
    logits_ = script_(window_seeks.empty() ? -1 : window_seeks.back(), sequence);
    return logits_;
  }

  // Word timestamps' attention pass; unset = the base class's (no attention to offer).
  std::function<AlignmentPass(std::span<const int> tokens)> alignment;
  AlignmentPass alignment_pass(std::span<const int> tokens) override {
    if (!alignment) {
      return WindowLogitsSource::alignment_pass(tokens);
    }
    sequence.clear();
    return alignment(tokens);
  }

  std::vector<int> window_seeks;              // one entry per set_window()
  std::vector<std::vector<int>> first_feeds;  // the first call after each reset (decode attempt)
  std::vector<int> sequence;

 private:
  Script script_;
  std::vector<float> logits_;
};

}  // namespace earshot::testing
