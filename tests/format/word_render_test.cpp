// Word-level output: verbose_json words (segment-level, and OpenAI's top-level list when word
// granularity is asked for) and word-level subtitle cues as OpenAI's writers build them.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "format/render.h"

namespace earshot {
namespace {

Transcription with_words() {
  Transcription result;
  result.text = " Hello world, this is a test.";
  result.language = "en";
  result.duration = 6.0;
  Segment a;
  a.start = 0.0;
  a.end = 1.6;
  a.text = " Hello world, this is";
  a.words = {{0.0, 0.5, " Hello", 0.9},
             {0.5, 1.0, " world,", 0.8},
             {1.0, 1.4, " this", 0.7},
             {1.4, 1.6, " is", 0.6}};
  Segment b;
  b.id = 1;
  b.start = 5.0;
  b.end = 5.8;
  b.text = " a test.";
  b.words = {{5.0, 5.2, " a", 0.5}, {5.2, 5.8, " test.", 0.4}};
  result.segments = {a, b};
  return result;
}

TEST(WordRender, VerboseJsonWords) {
  auto json = nlohmann::json::parse(render_verbose_json(with_words(), Task::kTranscribe));
  EXPECT_FALSE(json.contains("words"));
  const auto& w = json["segments"][0]["words"][1];
  EXPECT_EQ(w["word"], " world,");
  EXPECT_DOUBLE_EQ(w["start"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(w["end"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(w["probability"].get<double>(), 0.8);

  // timestamp_granularities=[word]: OpenAI's top-level words, trimmed, without segments.
  RenderOptions words_only;
  words_only.segment_granularity = false;
  words_only.word_granularity = true;
  json = nlohmann::json::parse(render_verbose_json(with_words(), words_only));
  EXPECT_FALSE(json.contains("segments"));
  ASSERT_EQ(json["words"].size(), 6u);
  EXPECT_EQ(json["words"][0], nlohmann::json({{"word", "Hello"}, {"start", 0.0}, {"end", 0.5}}));
  EXPECT_EQ(json["words"][5]["word"], "test.");
}

TEST(WordRender, CuesFollowSegmentsWithoutLineLimits) {
  EXPECT_EQ(render_srt(with_words()),
            "1\n00:00:00,000 --> 00:00:01,600\nHello world, this is\n\n"
            "2\n00:00:05,000 --> 00:00:05,800\na test.\n\n");
}

TEST(WordRender, LineWidthAndCountShapeCues) {
  // 12 characters a line, one line a cue: " this" does not fit after "Hello world,"; the
  // 3.6 s pause before " a" starts a cue too.
  EXPECT_EQ(render_srt(with_words(), {.max_line_width = 12, .max_line_count = 1}),
            "1\n00:00:00,000 --> 00:00:01,000\nHello world,\n\n"
            "2\n00:00:01,000 --> 00:00:01,600\nthis is\n\n"
            "3\n00:00:05,000 --> 00:00:05,800\na test.\n\n");
  EXPECT_EQ(render_vtt(with_words(), {.max_line_width = 12, .max_line_count = 2}),
            "WEBVTT\n\n"
            "00:00:00.000 --> 00:00:01.600\nHello world,\nthis is\n\n"
            "00:00:05.000 --> 00:00:05.800\na test.\n\n");
}

TEST(WordRender, HighlightWordsUnderlinesEachInTurn) {
  const std::string vtt = render_vtt(with_words(), {.highlight_words = true});
  EXPECT_NE(vtt.find("00:00:00.000 --> 00:00:00.500\n<u>Hello</u> world, this is\n"),
            std::string::npos)
      << vtt;
  EXPECT_NE(vtt.find("00:00:00.500 --> 00:00:01.000\nHello <u>world,</u> this is\n"),
            std::string::npos);
  EXPECT_NE(vtt.find("00:00:05.200 --> 00:00:05.800\na <u>test.</u>\n"), std::string::npos);
}

}  // namespace
}  // namespace earshot
