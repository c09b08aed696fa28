// Every output format pinned byte for byte on one result that exercises hours, rounding,
// UTF-8, JSON escaping, "-->" and tabs inside text, and an emptied segment.

#include "format/render.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/paths.h"

namespace earshot {
namespace {

Transcription sample() {
  Transcription result;
  result.text = " Say \"hi\" \\ back\nnext\x01 Grüße --> 世界\tok ";
  result.language = "de";
  result.language_probability = 0.75;
  result.duration = 3725.25;
  Segment first;
  first.id = 0;
  first.seek = 0;
  first.start = 0.0;
  first.end = 2.5;
  first.text = " Say \"hi\" \\ back";
  first.tokens = {50364, 7097, 11, 50489};
  first.temperature = 0.0;
  first.avg_logprob = -0.25;
  first.compression_ratio = 1.5;
  first.no_speech_prob = 0.01;
  Segment second;
  second.id = 1;
  second.seek = 372300;
  second.start = 3723.1234;  // 01:02:03.123 after rounding
  second.end = 3725.25;
  second.text = " Grüße --> 世界\tok";
  second.tokens = {50364, 1000, 51000};
  second.temperature = 0.2;
  second.avg_logprob = -1.125;
  second.compression_ratio = 0.875;
  second.no_speech_prob = 0.5;
  Segment emptied;  // start == end: the reference clears text and tokens
  emptied.id = 2;
  emptied.seek = 372300;
  emptied.start = 3725.25;
  emptied.end = 3725.25;
  result.segments = {first, second, emptied};
  return result;
}

TEST(RenderTest, Text) {
  EXPECT_EQ(render_text(sample()), "Say \"hi\" \\ back\nGrüße --> 世界\tok\n\n");
}

TEST(RenderTest, Json) {
  EXPECT_EQ(render_json(sample()),
            R"({"text":"Say \"hi\" \\ back\nnext\u0001 Grüße --> 世界\tok"})");
}

TEST(RenderTest, VerboseJson) {
  EXPECT_EQ(
      render_verbose_json(sample(), Task::kTranscribe),
      R"({"task":"transcribe","language":"german","duration":3725.25,)"
      R"("text":"Say \"hi\" \\ back\nnext\u0001 Grüße --> 世界\tok","segments":[)"
      R"({"id":0,"seek":0,"start":0.0,"end":2.5,"text":" Say \"hi\" \\ back",)"
      R"("tokens":[50364,7097,11,50489],"temperature":0.0,"avg_logprob":-0.25,)"
      R"("compression_ratio":1.5,"no_speech_prob":0.01},)"
      R"({"id":1,"seek":372300,"start":3723.1234,"end":3725.25,"text":" Grüße --> 世界\tok",)"
      R"("tokens":[50364,1000,51000],"temperature":0.2,"avg_logprob":-1.125,)"
      R"("compression_ratio":0.875,"no_speech_prob":0.5},)"
      R"({"id":2,"seek":372300,"start":3725.25,"end":3725.25,"text":"","tokens":[],)"
      R"("temperature":0.0,"avg_logprob":0.0,"compression_ratio":0.0,"no_speech_prob":0.0}]})");
}

TEST(RenderTest, VerboseJsonReportsTranslation) {
  const auto json = nlohmann::json::parse(render_verbose_json(sample(), Task::kTranslate));
  EXPECT_EQ(json["task"], "translate");
  const auto via_dispatch = nlohmann::json::parse(
      render_transcription(sample(), OutputFormat::kVerboseJson, {.task = Task::kTranslate}));
  EXPECT_EQ(via_dispatch, json);
}

TEST(RenderTest, Srt) {
  EXPECT_EQ(render_srt(sample()),
            "1\n"
            "00:00:00,000 --> 00:00:02,500\n"
            "Say \"hi\" \\ back\n"
            "\n"
            "2\n"
            "01:02:03,123 --> 01:02:05,250\n"
            "Grüße -> 世界\tok\n"
            "\n"
            "3\n"
            "01:02:05,250 --> 01:02:05,250\n"
            "\n"
            "\n");
}

TEST(RenderTest, Vtt) {
  EXPECT_EQ(render_vtt(sample()),
            "WEBVTT\n"
            "\n"
            "00:00:00.000 --> 00:00:02.500\n"
            "Say \"hi\" \\ back\n"
            "\n"
            "01:02:03.123 --> 01:02:05.250\n"
            "Grüße -> 世界\tok\n"
            "\n"
            "01:02:05.250 --> 01:02:05.250\n"
            "\n"
            "\n");
}

TEST(RenderTest, Tsv) {
  EXPECT_EQ(render_tsv(sample()),
            "start\tend\ttext\n"
            "0\t2500\tSay \"hi\" \\ back\n"
            "3723123\t3725250\tGrüße --> 世界 ok\n"
            "3725250\t3725250\t\n");
}

TEST(RenderTest, EmptyResult) {
  const Transcription empty;
  EXPECT_EQ(render_text(empty), "");
  EXPECT_EQ(render_json(empty), R"({"text":""})");
  EXPECT_EQ(render_verbose_json(empty, Task::kTranscribe),
            R"({"task":"transcribe","language":"","duration":0.0,"text":"","segments":[]})");
  EXPECT_EQ(render_srt(empty), "");
  EXPECT_EQ(render_vtt(empty), "WEBVTT\n\n");
  EXPECT_EQ(render_tsv(empty), "start\tend\ttext\n");
}

TEST(RenderTest, TextWithoutSegmentsStillPrints) {
  Transcription result;
  result.text = " no timestamps here ";
  EXPECT_EQ(render_text(result), "no timestamps here\n");
}

// A text cut inside a character (decoding stopped between its byte tokens) becomes U+FFFD
// in every format instead of invalid JSON or a rejected subtitle file.
TEST(RenderTest, IllFormedUtf8BecomesReplacementCharacter) {
  Transcription result;
  result.text = " 世\xE7\x95";
  Segment segment;
  segment.end = 1.0;
  segment.text = " 世\xE7\x95";
  result.segments = {segment};
  const std::string replaced = "世\xEF\xBF\xBD";
  EXPECT_EQ(render_text(result), replaced + "\n");
  EXPECT_EQ(render_json(result), R"({"text":")" + replaced + R"("})");
  EXPECT_EQ(
      nlohmann::json::parse(render_verbose_json(result, Task::kTranscribe))["segments"][0]["text"],
      " " + replaced);
  EXPECT_NE(render_srt(result).find(replaced + "\n"), std::string::npos);
  EXPECT_NE(render_vtt(result).find(replaced + "\n"), std::string::npos);
  EXPECT_NE(render_tsv(result).find(replaced + "\n"), std::string::npos);
}

TEST(RenderTest, DispatchMatchesEachWriter) {
  const Transcription result = sample();
  EXPECT_EQ(render_transcription(result, OutputFormat::kText), render_text(result));
  EXPECT_EQ(render_transcription(result, OutputFormat::kJson), render_json(result));
  EXPECT_EQ(render_transcription(result, OutputFormat::kVerboseJson),
            render_verbose_json(result, Task::kTranscribe));
  EXPECT_EQ(render_transcription(result, OutputFormat::kSrt), render_srt(result));
  EXPECT_EQ(render_transcription(result, OutputFormat::kVtt), render_vtt(result));
  EXPECT_EQ(render_transcription(result, OutputFormat::kTsv), render_tsv(result));
}

// OpenAI's own result for the conformance recording, turned into a Transcription and
// rendered: the segments come out with the reference's field names and values.
TEST(RenderTest, VerboseJsonSegmentsMatchOpenAisResult) {
  EARSHOT_REQUIRE_CONFORMANCE(conformance);
  std::ifstream in(conformance / "ref" / "micro" / "transcribe_hello.json");
  const auto reference = nlohmann::json::parse(in);
  Transcription result;
  result.text = reference["text"].get<std::string>();
  result.language = reference["language"].get<std::string>();
  result.duration = 132370.0 / 16000;
  for (const auto& entry : reference["segments"]) {
    Segment segment;
    segment.id = entry["id"];
    segment.seek = entry["seek"];
    segment.start = entry["start"];
    segment.end = entry["end"];
    segment.text = entry["text"];
    segment.tokens = entry["tokens"].get<std::vector<int>>();
    segment.temperature = entry["temperature"];
    segment.avg_logprob = entry["avg_logprob"];
    segment.compression_ratio = entry["compression_ratio"];
    segment.no_speech_prob = entry["no_speech_prob"];
    result.segments.push_back(segment);
  }
  const auto rendered = nlohmann::json::parse(render_verbose_json(result, Task::kTranscribe));
  EXPECT_EQ(rendered["segments"], reference["segments"]);
  EXPECT_EQ(rendered["text"], "action wrestler mixes mixes");
  EXPECT_EQ(rendered["language"], "english");
  EXPECT_EQ(render_srt(result),
            "1\n00:00:00,000 --> 00:00:24,780\naction wrestler mixes mixes\n\n");
}

}  // namespace
}  // namespace earshot
