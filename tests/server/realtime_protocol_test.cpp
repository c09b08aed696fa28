#include "server/realtime_protocol.h"

#include <gtest/gtest.h>

#include "server/local_agreement.h"

namespace earshot::server {
namespace {

using nlohmann::json;

TEST(LocalAgreement, GivesOutOnlyWhatTwoHypothesesAgreeOn) {
  LocalAgreement a;
  EXPECT_EQ(a.update(" Hello wor"), "");
  EXPECT_EQ(a.update(" Hello world, how"), "Hello");
  EXPECT_EQ(a.update(" Hello world, how are"), " world, how");
  // A hypothesis that changes a word already given out does not take it back.
  EXPECT_EQ(a.update(" Hello word, who are"), "");
  EXPECT_EQ(a.given(), "Hello world, how");
  // The final text adds what comes after the words given out.
  EXPECT_EQ(a.finish(" Hello world, who are you?"), " are you?");
  EXPECT_EQ(a.given(), "Hello world, how are you?");
}

TEST(LocalAgreement, AFinalWithoutPartialsIsTheWholeText) {
  LocalAgreement a;
  EXPECT_EQ(a.finish("  Just this."), "Just this.");
  EXPECT_EQ(a.given(), "Just this.");
  EXPECT_EQ(split_words(" a  b\nc"), (std::vector<std::string>{"a", "  b", "\nc"}));
}

TEST(RealtimeProtocol, Base64IsStrict) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8"), "hello");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_EQ(decode_base64("aGVs bG8="), std::nullopt);
  EXPECT_EQ(decode_base64("aGVsbG8=x"), std::nullopt);
  EXPECT_EQ(decode_base64("a"), std::nullopt);
}

TEST(RealtimeProtocol, BothShapesOfSessionUpdate) {
  RealtimeSettings s;
  auto error = apply_session_update(
      {{"type", "session.update"},
       {"session",
        {{"type", "transcription"},
         {"audio",
          {{"input",
            {{"format", {{"type", "audio/pcm"}, {"rate", 16000}}},
             {"transcription", {{"model", "base.en"}, {"language", "en"}, {"prompt", "p"}}},
             {"turn_detection", {{"type", "server_vad"}, {"silence_duration_ms", 800}}}}}}},
         {"include", {"item.input_audio_transcription.logprobs"}}}}},
      s);
  ASSERT_FALSE(error) << error->message;
  EXPECT_FALSE(s.beta);
  EXPECT_EQ(s.input_rate, 16000);
  EXPECT_EQ(s.model, "base.en");
  EXPECT_EQ(s.prompt, "p");
  ASSERT_TRUE(s.turn_detection);
  EXPECT_EQ(s.turn_detection->silence_duration_ms, 800);
  EXPECT_EQ(s.turn_detection->prefix_padding_ms, 300);
  EXPECT_TRUE(s.logprobs);
  const json session = session_json(s, "sess_1");
  EXPECT_EQ(session["audio"]["input"]["turn_detection"]["silence_duration_ms"], 800);
  EXPECT_EQ(session["include"][0], "item.input_audio_transcription.logprobs");

  error = apply_session_update(
      {{"type", "transcription_session.update"},
       {"session", {{"input_audio_format", "pcm16"}, {"turn_detection", nullptr}}}},
      s);
  ASSERT_FALSE(error) << error->message;
  EXPECT_TRUE(s.beta);
  EXPECT_EQ(s.input_rate, 24000);
  EXPECT_FALSE(s.turn_detection);
  EXPECT_EQ(s.model, "base.en");  // fields not named stay
  EXPECT_EQ(session_json(s, "sess_1")["input_audio_format"], "pcm16");
}

TEST(RealtimeProtocol, ABadUpdateChangesNothingAndNamesItsParameter) {
  RealtimeSettings s;
  const RealtimeSettings before = s;
  const auto check = [&](const json& session, const std::string& code, const std::string& param) {
    const auto error = apply_session_update({{"type", "session.update"}, {"session", session}}, s);
    ASSERT_TRUE(error) << session.dump();
    EXPECT_EQ(error->code, code);
    EXPECT_EQ(error->param, param);
    EXPECT_EQ(s.input_rate, before.input_rate);
    EXPECT_EQ(s.model, before.model);
  };
  check({{"type", "realtime"}}, "invalid_value", "session.type");
  check({{"audio", {{"input", {{"format", {{"type", "audio/pcmu"}}}}}}}}, "invalid_value",
        "session.audio.input.format.type");
  check({{"audio", {{"input", {{"transcription", {{"model", 5}}}}}}}}, "invalid_value",
        "session.audio.input.transcription.model");
  check({{"audio", {{"input", {{"turn_detection", {{"silence_duration_ms", 5}}}}}}}},
        "invalid_value", "session.audio.input.turn_detection.silence_duration_ms");
  check({{"include", {"everything"}}}, "invalid_value", "session.include");
  check({{"audio", {{"output", {}}}}}, "unknown_parameter", "session.audio.output");
  const auto missing = apply_session_update({{"type", "session.update"}}, s);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->param, "session");
}

}  // namespace
}  // namespace earshot::server
