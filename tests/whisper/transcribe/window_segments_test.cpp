#include "whisper/transcribe/window_segments.h"

#include <gtest/gtest.h>

#include "testing/byte_tokenizer.h"
#include "testing/paths.h"
#include "testing/reference_files.h"
#include "testing/wav.h"

namespace earshot::whisper {
namespace {

using earshot::testing::reference::read_ggml_vocab;
using earshot::testing::reference::read_json;

class WindowSegmentsTest : public ::testing::Test {
 protected:
  const Tokenizer tokenizer = earshot::testing::byte_tokenizer();
  const SpecialTokens& sp = tokenizer.special();
  int ts(int index) const { return sp.timestamp_begin + index; }
  static DecodingResult result(std::vector<int> tokens) {
    DecodingResult r;
    r.tokens = std::move(tokens);
    r.avg_logprob = -0.5;
    r.no_speech_prob = 0.01;
    r.compression_ratio = 1.2;
    r.temperature = 0.2f;
    return r;
  }
};

TEST_F(WindowSegmentsTest, PairsSplitSegmentsAndTheUnfinishedTailIsDropped) {
  // <|0.00|> hi <|1.00|><|1.00|> yo <|2.50|><|2.50|> cut...
  const auto r = result({ts(0), 'h', 'i', ts(50), ts(50), 'y', 'o', ts(125), ts(125), 'c', 'u'});
  const WindowSegments w = segment_window(r, tokenizer, 1000, 3000);
  ASSERT_EQ(w.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(w.segments[0].start, 10.0);
  EXPECT_DOUBLE_EQ(w.segments[0].end, 11.0);
  EXPECT_EQ(w.segments[0].text, "hi");
  EXPECT_EQ(w.segments[0].tokens, (std::vector<int>{ts(0), 'h', 'i', ts(50)}));
  EXPECT_EQ(w.segments[0].seek, 1000);
  EXPECT_DOUBLE_EQ(w.segments[0].avg_logprob, -0.5);
  EXPECT_FLOAT_EQ(static_cast<float>(w.segments[0].temperature), 0.2f);
  EXPECT_DOUBLE_EQ(w.segments[1].start, 11.0);
  EXPECT_DOUBLE_EQ(w.segments[1].end, 12.5);
  EXPECT_EQ(w.segments[1].text, "yo");
  EXPECT_EQ(w.next_seek, 1000 + 125 * 2) << "seek moves to the last pair's timestamp";
}

TEST_F(WindowSegmentsTest, SingleTimestampEndingConsumesTheWholeWindow) {
  const auto r = result({ts(0), 'a', ts(40), ts(40), 'b', ts(90)});
  const WindowSegments w = segment_window(r, tokenizer, 0, 1234);
  ASSERT_EQ(w.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(w.segments[1].start, 0.8);
  EXPECT_DOUBLE_EQ(w.segments[1].end, 1.8);
  EXPECT_EQ(w.segments[1].tokens, (std::vector<int>{ts(40), 'b', ts(90)}));
  EXPECT_EQ(w.next_seek, 1234);
}

TEST_F(WindowSegmentsTest, WithoutPairsOneSegmentToTheLastTimestampOrTheAudioEnd) {
  // No timestamps at all: the window's audio length.
  const WindowSegments plain = segment_window(result({'a', 'b'}), tokenizer, 3000, 1500);
  ASSERT_EQ(plain.segments.size(), 1u);
  EXPECT_DOUBLE_EQ(plain.segments[0].start, 30.0);
  EXPECT_DOUBLE_EQ(plain.segments[0].end, 45.0);
  EXPECT_EQ(plain.next_seek, 4500);
  // One timestamp pair-less ending: up to that timestamp, seek still moves a whole window.
  const WindowSegments single = segment_window(result({ts(0), 'a', ts(100)}), tokenizer, 0, 3000);
  EXPECT_DOUBLE_EQ(single.segments[0].end, 2.0);
  EXPECT_EQ(single.next_seek, 3000);
  // A last timestamp of <|0.00|> falls back to the audio length.
  const WindowSegments zero = segment_window(result({'a', ts(0)}), tokenizer, 0, 827);
  EXPECT_DOUBLE_EQ(zero.segments[0].end, 8.27);
}

TEST_F(WindowSegmentsTest, TimesAreNotClippedToTheAudio) {
  const auto r = result({ts(3), 'a', ts(1400), ts(1400), 'b'});
  const WindowSegments w = segment_window(r, tokenizer, 0, 827);
  EXPECT_DOUBLE_EQ(w.segments[0].end, 28.0) << "past the 8.27 s of audio";
  EXPECT_EQ(w.next_seek, 2800);
}

TEST_F(WindowSegmentsTest, EmptyOrInstantaneousSegmentsAreCleared) {
  const auto r = result({ts(0), ' ', ts(10), ts(10), 'x', ts(20), ts(20), ts(30)});
  const WindowSegments w = segment_window(r, tokenizer, 0, 3000);
  ASSERT_EQ(w.segments.size(), 3u);
  EXPECT_EQ(w.segments[0].text, "") << "whitespace only";
  EXPECT_TRUE(w.segments[0].tokens.empty());
  EXPECT_DOUBLE_EQ(w.segments[0].end, 0.2) << "times are kept";
  EXPECT_EQ(w.segments[1].text, "x");
}

TEST(Fallback, ThresholdsAsTheReference) {
  TranscribeOptions o;
  DecodingResult r;
  r.avg_logprob = -0.5;
  r.compression_ratio = 2.0;
  r.no_speech_prob = 0.1;
  EXPECT_FALSE(needs_fallback(r, o));
  r.compression_ratio = 2.41;
  EXPECT_TRUE(needs_fallback(r, o)) << "too repetitive";
  r.compression_ratio = 2.4;
  EXPECT_FALSE(needs_fallback(r, o)) << "2.4 itself is not above the threshold 2.4";
  r.avg_logprob = -1.01;
  EXPECT_TRUE(needs_fallback(r, o)) << "too improbable";
  r.no_speech_prob = 0.61;
  EXPECT_FALSE(needs_fallback(r, o)) << "silence is not retried";
  EXPECT_TRUE(is_silent_window(r, o));
  r.avg_logprob = -0.9;
  EXPECT_FALSE(is_silent_window(r, o)) << "confident text is kept despite no_speech_prob";
  r.no_speech_prob = 0.6;
  r.avg_logprob = -2.0;
  EXPECT_FALSE(is_silent_window(r, o)) << "0.6 is not above the threshold 0.6";
  o.compression_ratio_threshold = 0.0f;
  r.avg_logprob = -0.1;
  r.compression_ratio = 100.0;
  EXPECT_FALSE(needs_fallback(r, o)) << "threshold <= 0 disables the check";
}

// Segmenting the reference's recorded window tokens gives its segments and window seeks.
TEST(WindowSegmentsReference, ReproducesTranscribeSegmentation) {
  EARSHOT_REQUIRE_CONFORMANCE(dir);
  auto vocab = read_ggml_vocab(dir / "micro.ggml.bin");
  const Tokenizer tokenizer(std::move(vocab.tokens), vocab.n_vocab);
  for (const std::string name : {"hello", "hello_nots", "long45", "long45_nots"}) {
    SCOPED_TRACE(name);
    const auto ref = read_json(dir / "ref/micro" / ("transcribe_" + name + ".json"));
    const std::string audio = name.substr(0, name.find('_'));
    const auto wav = earshot::testing::read_wav_pcm16(dir / (audio + ".wav"));
    const int content_frames = static_cast<int>(wav.samples.size() / 160);
    std::vector<Segment> segments;
    int seek = 0;
    for (const auto& window : ref["windows"]) {
      ASSERT_LT(seek, content_frames);
      DecodingResult r;
      r.tokens = window["tokens"].get<std::vector<int>>();
      r.avg_logprob = window["avg_logprob"].get<double>();
      r.no_speech_prob = window["no_speech_prob"].get<double>();
      r.compression_ratio = window["compression_ratio"].get<double>();
      WindowSegments w = segment_window(r, tokenizer, seek, std::min(3000, content_frames - seek));
      for (auto& s : w.segments) {
        segments.push_back(std::move(s));
      }
      seek = w.next_seek;
    }
    EXPECT_GE(seek, content_frames) << "the reference's windows cover the audio";
    ASSERT_EQ(segments.size(), ref["segments"].size());
    std::string text;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const auto& rs = ref["segments"][i];
      EXPECT_EQ(segments[i].seek, rs["seek"].get<int>());
      EXPECT_NEAR(segments[i].start, rs["start"].get<double>(), 1e-9);
      EXPECT_NEAR(segments[i].end, rs["end"].get<double>(), 1e-9);
      EXPECT_EQ(segments[i].text, rs["text"].get<std::string>());
      EXPECT_EQ(segments[i].tokens, rs["tokens"].get<std::vector<int>>());
      EXPECT_DOUBLE_EQ(segments[i].avg_logprob, rs["avg_logprob"].get<double>());
      text += segments[i].text;
    }
    EXPECT_EQ(text, ref["text"].get<std::string>());
  }
}

}  // namespace
}  // namespace earshot::whisper
