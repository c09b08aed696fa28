// The long-form loop (transcribe()'s window logic) driven by scripted logits: prompts across
// windows, the temperature ladder, silence skipping, initial prompts and cancellation.

#include "whisper/transcribe/long_form.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "earshot/error.h"
#include "testing/byte_tokenizer.h"
#include "testing/replay_logits_source.h"

namespace earshot::whisper {
namespace {

using earshot::testing::ScriptedWindowSource;

constexpr int kTextCtx = 448;

class LongFormTest : public ::testing::Test {
 protected:
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const SpecialTokens& sp = tokenizer.special();

  int ts(int i) const { return sp.timestamp_begin + i; }
  std::vector<float> flat(float v) const { return std::vector<float>(sp.n_vocab, v); }
  // Tokens sampled so far in `seq` (after the start sequence that follows sot).
  std::size_t sampled(const std::vector<int>& seq, std::size_t start_len) const {
    const auto sot = std::find(seq.begin(), seq.end(), sp.sot);
    if (sot == seq.end()) {
      return 0;
    }
    const auto begin = static_cast<std::size_t>(sot - seq.begin()) + start_len;
    return seq.size() > begin ? seq.size() - begin : 0;
  }
  // Each window: <|0.00|> x <|2.00|> then eot, confidently.
  ScriptedWindowSource::Script one_segment_per_window() const {
    return [this](int, const std::vector<int>& seq) {
      auto l = flat(-10.0f);
      if (seq.back() == sp.sot) {
        return l;  // no_speech_prob read here: low
      }
      const std::size_t n = sampled(seq, 3);
      const int next = n == 0 ? ts(0) : n == 1 ? 'x' : n == 2 ? ts(100) : sp.eot;
      l[static_cast<std::size_t>(next)] = 10.0f;
      return l;
    };
  }
  static std::function<std::vector<float>(int)> mel_of_seek() {
    return [](int seek) { return std::vector<float>{static_cast<float>(seek)}; };
  }
  TranscribeOptions options() const {
    TranscribeOptions o;
    o.language = "en";
    return o;
  }
};

TEST_F(LongFormTest, ConditionOnPreviousTextPromptsWithEarlierSegments) {
  ScriptedWindowSource source(one_segment_per_window());
  const Transcription t =
      run_long_form(source, tokenizer, kTextCtx, options(), "en", 6000, mel_of_seek());
  EXPECT_EQ(source.window_seeks, (std::vector<int>{0, 3000}))
      << "a single timestamp ending consumes the whole window";
  ASSERT_EQ(t.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(t.segments[1].start, 30.0);
  EXPECT_DOUBLE_EQ(t.segments[1].end, 32.0);
  EXPECT_EQ(t.segments[1].id, 1);
  EXPECT_EQ(t.text, "xx");
  ASSERT_EQ(source.first_feeds.size(), 2u);
  EXPECT_EQ(source.first_feeds[0], (std::vector<int>{sp.sot}));
  // The second window is prompted with the first one's segment tokens, timestamps included.
  EXPECT_EQ(source.first_feeds[1],
            (std::vector<int>{sp.start_of_prev, ts(0), 'x', ts(100), sp.sot}));
}

TEST_F(LongFormTest, WithoutConditioningEveryWindowStartsFresh) {
  ScriptedWindowSource source(one_segment_per_window());
  auto o = options();
  o.condition_on_previous_text = false;
  (void)run_long_form(source, tokenizer, kTextCtx, o, "en", 6000, mel_of_seek());
  ASSERT_EQ(source.first_feeds.size(), 2u);
  EXPECT_EQ(source.first_feeds[1], (std::vector<int>{sp.sot}));
}

TEST_F(LongFormTest, InitialPromptPrecedesTheFirstWindowButNotTheText) {
  ScriptedWindowSource source(one_segment_per_window());
  auto o = options();
  o.initial_prompt = "  hi there ";
  const Transcription t = run_long_form(source, tokenizer, kTextCtx, o, "en", 6000, mel_of_seek());
  const std::vector<int> prompt = tokenizer.encode(" hi there");
  std::vector<int> first{sp.start_of_prev};
  first.insert(first.end(), prompt.begin(), prompt.end());
  first.push_back(sp.sot);
  EXPECT_EQ(source.first_feeds[0], first);
  std::vector<int> second{sp.start_of_prev};
  second.insert(second.end(), prompt.begin(), prompt.end());
  second.insert(second.end(), {ts(0), 'x', ts(100), sp.sot});
  EXPECT_EQ(source.first_feeds[1], second);
  EXPECT_EQ(t.text, "xx");
}

TEST_F(LongFormTest, RepetitiveTextClimbsTheTemperatureLadderThenDropsThePrompt) {
  // Only 'a' is ever likely: every attempt is "aaaa...", compression ratio far above 2.4.
  ScriptedWindowSource source([this](int, const std::vector<int>&) {
    auto l = flat(-30.0f);
    l['a'] = 10.0f;
    return l;
  });
  std::vector<float> temperatures;
  LongFormHooks hooks;
  hooks.on_window = [&](int, const DecodingResult& r) { temperatures.push_back(r.temperature); };
  auto o = options();
  o.timestamps = false;
  o.sample_len = 50;
  const Transcription t =
      run_long_form(source, tokenizer, kTextCtx, o, "en", 6000, mel_of_seek(), nullptr, hooks);
  // Six attempts per window (0.0 .. 1.0), the last result kept.
  EXPECT_EQ(source.first_feeds.size(), 12u);
  EXPECT_EQ(temperatures, (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(t.timings.tokens_decoded, 12 * 50);
  ASSERT_EQ(t.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(t.segments[0].temperature, 1.0f);
  EXPECT_GT(t.segments[0].compression_ratio, 2.4);
  // Decoded at temperature > 0.5: the next window gets no prompt.
  EXPECT_EQ(source.first_feeds[6], (std::vector<int>{sp.sot}));
}

TEST_F(LongFormTest, SilentWindowsAreSkippedWithoutSegments) {
  ScriptedWindowSource source([this](int, const std::vector<int>& seq) {
    auto l = flat(0.0f);
    if (seq.back() == sp.sot) {
      l[static_cast<std::size_t>(sp.no_speech)] = 30.0f;
    }
    l['a'] = 1.0f;  // improbable text: avg_logprob far below -1
    return l;
  });
  std::vector<double> progress;
  auto o = options();
  o.timestamps = false;
  o.sample_len = 5;
  o.on_progress = [&](double f) { progress.push_back(f); };
  const Transcription t = run_long_form(source, tokenizer, kTextCtx, o, "en", 4500, mel_of_seek());
  EXPECT_TRUE(t.segments.empty());
  EXPECT_EQ(t.text, "");
  EXPECT_EQ(source.window_seeks, (std::vector<int>{0, 3000}));
  EXPECT_EQ(source.first_feeds.size(), 2u) << "silence is not retried at higher temperatures";
  EXPECT_EQ(progress, (std::vector<double>{3000.0 / 4500.0, 1.0}));
}

TEST_F(LongFormTest, ClipTimestampsDecodeOnlyTheGivenRanges) {
  ScriptedWindowSource source(one_segment_per_window());
  auto o = options();
  o.clip_timestamps = {5.0, 12.0, 40.0};  // 5-12 s, then 40 s to the end
  std::vector<int> frames;
  const WindowMel mel = [&](int seek, int n) {
    frames.push_back(n);
    return std::vector<float>{static_cast<float>(seek)};
  };
  const Transcription t = run_long_form(source, tokenizer, kTextCtx, o, "en", 6000, mel);
  EXPECT_EQ(source.window_seeks, (std::vector<int>{500, 4000}));
  EXPECT_EQ(frames, (std::vector<int>{700, 2000})) << "a window ends with its clip";
  ASSERT_EQ(t.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(t.segments[0].start, 5.0);
  EXPECT_DOUBLE_EQ(t.segments[1].start, 40.0);
}

TEST_F(LongFormTest, CarryInitialPromptKeepsItBeforeEveryWindow) {
  ScriptedWindowSource source(one_segment_per_window());
  auto o = options();
  o.initial_prompt = "ab";
  o.carry_initial_prompt = true;
  (void)run_long_form(source, tokenizer, kTextCtx, o, "en", 6000, mel_of_seek());
  ASSERT_EQ(source.first_feeds.size(), 2u);
  EXPECT_EQ(source.first_feeds[0], (std::vector<int>{sp.start_of_prev, ' ', 'a', 'b', sp.sot}));
  // The second window: the initial prompt, then the first window's tokens.
  EXPECT_EQ(source.first_feeds[1],
            (std::vector<int>{sp.start_of_prev, ' ', 'a', 'b', ts(0), 'x', ts(100), sp.sot}));
  // Without conditioning, the initial prompt alone.
  ScriptedWindowSource fresh(one_segment_per_window());
  o.condition_on_previous_text = false;
  (void)run_long_form(fresh, tokenizer, kTextCtx, o, "en", 6000, mel_of_seek());
  EXPECT_EQ(fresh.first_feeds[1], (std::vector<int>{sp.start_of_prev, ' ', 'a', 'b', sp.sot}));
}

TEST_F(LongFormTest, BeamSearchAndBestOfFollowTheTemperature) {
  // Repetitive text forces the whole ladder: temperature 0 runs beams, the others best_of.
  ScriptedWindowSource source([this](int, const std::vector<int>& seq) {
    auto l = flat(-10.0f);
    l['a'] = 10.0f;
    (void)seq;
    return l;
  });
  auto o = options();
  o.timestamps = false;
  o.sample_len = 60;
  o.beam_size = 3;
  o.best_of = 2;
  o.temperatures = {0.0f, 0.5f};
  std::vector<float> temperatures;
  LongFormHooks hooks;
  hooks.on_window = [&](int, const DecodingResult& r) { temperatures.push_back(r.temperature); };
  const Transcription t =
      run_long_form(source, tokenizer, kTextCtx, o, "en", 3000, mel_of_seek(), nullptr, hooks);
  EXPECT_EQ(temperatures, (std::vector<float>{0.5f}));
  ASSERT_EQ(t.segments.size(), 1u);
  EXPECT_EQ(t.segments[0].text, std::string(60, 'a'));
}

TEST_F(LongFormTest, HallucinationSilenceThresholdSkipsSilenceBeforeAnomalies) {
  // Every window: " a" between <|5.00|> and <|6.00|>, and improbable (flat token logits in
  // the alignment pass): an anomalous first segment after 5 s of silence.
  const auto script = [this](int, const std::vector<int>& seq) {
    auto l = flat(-10.0f);
    if (seq.back() == sp.sot) {
      return l;
    }
    const std::size_t n = sampled(seq, 3);
    const int next = n == 0 ? ts(250) : n == 1 ? ' ' : n == 2 ? 'a' : n == 3 ? ts(300) : sp.eot;
    l[static_cast<std::size_t>(next)] = 10.0f;
    return l;
  };
  const auto alignment = [this](std::span<const int> tokens) {
    WindowLogitsSource::AlignmentPass pass;
    pass.n_heads = 1;
    pass.n_tokens = static_cast<int>(tokens.size());
    pass.n_frames = 1500;
    pass.scores.assign(tokens.size() * 1500, 0.0f);
    // Rows after the sot sequence attend to 5.0 s, 5.4 s, 5.8 s, ...
    for (std::size_t k = 3; k < tokens.size(); ++k) {
      const std::size_t f = 250 + 20 * (k - 3);
      std::fill_n(pass.scores.begin() + static_cast<std::ptrdiff_t>(k * 1500 + f), 20, 10.0f);
    }
    pass.logits.assign(tokens.size() * static_cast<std::size_t>(sp.n_vocab), 0.0f);
    return pass;
  };
  auto o = options();
  o.word_timestamps = true;
  o.max_initial_timestamp = std::nullopt;  // the first timestamp is at 5 s
  o.suppress_tokens = {};                  // the byte tokenizer's non-speech list would hold " "
  ScriptedWindowSource kept(script);
  kept.alignment = alignment;
  const Transcription with_words =
      run_long_form(kept, tokenizer, kTextCtx, o, "en", 6000, mel_of_seek());
  ASSERT_EQ(with_words.segments.size(), 2u);
  ASSERT_EQ(with_words.segments[0].words.size(), 1u);
  EXPECT_EQ(with_words.segments[0].words[0].word, " a");
  // The path starts at frame 0, so the word spans 0-5.8 s; after a pause a first word is cut
  // to twice the median word (0.7 s cap): 4.4 s, which the segment then starts with.
  EXPECT_DOUBLE_EQ(with_words.segments[0].words[0].start, 4.4);
  EXPECT_DOUBLE_EQ(with_words.segments[0].words[0].end, 5.8);
  EXPECT_DOUBLE_EQ(with_words.segments[0].start, 4.4);

  o.hallucination_silence_threshold = 2.0f;
  ScriptedWindowSource skipped(script);
  skipped.alignment = alignment;
  const Transcription t = run_long_form(skipped, tokenizer, kTextCtx, o, "en", 6000, mel_of_seek());
  // Each window's only segment is improbable after 4.4 s of silence: the window is dropped and
  // decoding resumes at the silence's end, until the audio runs out.
  ASSERT_GE(skipped.window_seeks.size(), 3u);
  EXPECT_EQ(std::vector<int>(skipped.window_seeks.begin(), skipped.window_seeks.begin() + 3),
            (std::vector<int>{0, 440, 880}));
  for (const Segment& s : t.segments) {
    EXPECT_GE(s.start, 57.0) << "only the last, short window can keep its segment";
  }
}

TEST_F(LongFormTest, CancellationStopsTheLoop) {
  std::atomic<bool> cancel{false};
  ScriptedWindowSource source(one_segment_per_window());
  auto o = options();
  o.cancel = &cancel;
  o.on_segment = [&](const Segment&) { cancel = true; };
  try {
    (void)run_long_form(source, tokenizer, kTextCtx, o, "en", 9000, mel_of_seek());
    ADD_FAILURE() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_EQ(source.window_seeks.size(), 1u);
}

TEST_F(LongFormTest, RejectsAnEmptyTemperatureLadder) {
  ScriptedWindowSource source(one_segment_per_window());
  auto o = options();
  o.temperatures.clear();
  EXPECT_THROW((void)run_long_form(source, tokenizer, kTextCtx, o, "en", 100, mel_of_seek()),
               Error);
}

TEST_F(LongFormTest, EmptyAudioDecodesNothing) {
  ScriptedWindowSource source(one_segment_per_window());
  const Transcription t =
      run_long_form(source, tokenizer, kTextCtx, options(), "en", 0, mel_of_seek());
  EXPECT_TRUE(t.segments.empty());
  EXPECT_TRUE(source.window_seeks.empty());
}

}  // namespace
}  // namespace earshot::whisper
