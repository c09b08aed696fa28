// Realtime transcription sessions against `earshot serve` with the scripted model (every
// window decodes the same text) and the real Silero weights: the event flow of a spoken
// turn, manual commits, every malformed event, authentication and the session limit.

#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"
#include "testing/wav.h"
#include "vad/realtime_client.h"
#include "vad/vad_testing.h"

namespace earshot::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const RealtimeClient::Headers kBearer = {{"Authorization", "Bearer token1"}};

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string pcm16(const std::vector<float>& samples) {
  std::string out(samples.size() * 2, '\0');
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto v = static_cast<std::int16_t>(
        std::lround(std::fmax(-1.0F, std::fmin(1.0F, samples[i])) * 32767.0F));
    std::memcpy(out.data() + 2 * i, &v, 2);
  }
  return out;
}

json current_update(int rate, const json& turn_detection) {
  return {{"type", "session.update"},
          {"session",
           {{"type", "transcription"},
            {"audio",
             {{"input",
               {{"format", {{"type", "audio/pcm"}, {"rate", rate}}},
                {"transcription", {{"model", "whisper-1"}, {"language", "en"}}},
                {"turn_detection", turn_detection}}}}}}}};
}

class Realtime : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = silero_weights();
    if (!weights_) GTEST_SKIP() << kSileroWeightsMissing;
    dir_ = binary_dir() / "test-tmp" /
           ("realtime-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
    model_ = write_scripted_model(dir_ / "ggml-scripted.bin");
    const json models = {{"scripted", model_.path.string()}};
    server_ = std::make_unique<ServerProcess>(
        R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["token1"]}},"models":)" +
        models.dump() + R"(,"engine":{"workers":2,"vad_model":)" + json(weights_->string()).dump() +
        R"(},"realtime":{"max_sessions":2}})");
  }
  std::string expected_text() const {
    return model_.text.substr(model_.text.find_first_not_of(' '));
  }
  RealtimeClient connect(const RealtimeClient::Headers& headers = kBearer,
                         const std::string& target = "/v1/realtime?intent=transcription") {
    return RealtimeClient(server_->port(), target, headers);
  }

  std::optional<std::filesystem::path> weights_;
  std::filesystem::path dir_;
  ScriptedModel model_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(Realtime, ASpokenTurnGivesSpeechEventsDeltasAndTheCompletedText) {
  const auto conformance = conformance_dir();
  if (!conformance) GTEST_SKIP() << "needs the spoken recording of ../shared/conformance";
  const auto speech = read_wav_pcm16(*conformance / "hello.wav").samples;
  auto client = connect();
  ASSERT_TRUE(client.open()) << client.error();
  const auto created = client.next();
  ASSERT_TRUE(created);
  EXPECT_EQ((*created)["type"], "session.created");
  EXPECT_EQ((*created)["session"]["type"], "transcription");
  EXPECT_EQ((*created)["session"]["audio"]["input"]["turn_detection"]["type"], "server_vad");

  client.send(current_update(16000, {{"type", "server_vad"}, {"silence_duration_ms", 500}}));
  const auto updated = client.next();
  ASSERT_TRUE(updated);
  ASSERT_EQ((*updated)["type"], "session.updated") << updated->dump();
  EXPECT_EQ((*updated)["session"]["audio"]["input"]["format"]["rate"], 16000);

  // The speech, then a second of silence, in 100 ms pieces as fast as they go.
  std::vector<float> audio = speech;
  audio.resize(audio.size() + 16000, 0.0F);
  for (std::size_t at = 0; at < audio.size(); at += 1600) {
    const std::vector<float> piece(
        audio.begin() + static_cast<std::ptrdiff_t>(at),
        audio.begin() + static_cast<std::ptrdiff_t>(std::min(at + 1600, audio.size())));
    client.send({{"type", "input_audio_buffer.append"}, {"audio", base64(pcm16(piece))}});
  }
  std::vector<json> seen;
  const auto completed =
      client.wait_for("conversation.item.input_audio_transcription.completed", &seen);
  ASSERT_TRUE(completed) << "events: " << json(seen).dump();
  std::vector<std::string> types;
  std::string deltas;
  std::string item;
  for (const auto& e : seen) {
    types.push_back(e["type"]);
    EXPECT_TRUE(e["event_id"].is_string());
    if (e["type"] == "input_audio_buffer.speech_started") {
      item = e["item_id"];
      EXPECT_LE(e["audio_start_ms"].get<double>(), 300.0);
    }
    if (e["type"] == "input_audio_buffer.speech_stopped") {
      EXPECT_EQ(e["item_id"], item);
      // hello.wav's speech ends at 7.97 s (Silero, see the conformance test).
      EXPECT_NEAR(e["audio_end_ms"].get<double>(), 7950.0, 200.0);
    }
    if (e["type"] == "conversation.item.input_audio_transcription.delta") {
      EXPECT_EQ(e["item_id"], item);
      EXPECT_EQ(e["content_index"], 0);
      deltas += e["delta"].get<std::string>();
    }
    if (e["type"] == "input_audio_buffer.committed") {
      EXPECT_EQ(e["item_id"], item);
      EXPECT_TRUE(e["previous_item_id"].is_null());
    }
  }
  ASSERT_FALSE(item.empty()) << json(seen).dump();
  EXPECT_EQ(types.front(), "input_audio_buffer.speech_started");
  EXPECT_NE(std::find(types.begin(), types.end(), "input_audio_buffer.speech_stopped"),
            types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "input_audio_buffer.committed"), types.end());
  EXPECT_EQ((*completed)["item_id"], item);
  EXPECT_EQ((*completed)["transcript"], expected_text());
  EXPECT_EQ(deltas, expected_text()) << "the deltas add up to the transcript";
  EXPECT_EQ((*completed)["usage"]["type"], "duration");
  client.close();
}

TEST_F(Realtime, WithoutTurnDetectionTheClientCommitsInTheBetaShape) {
  auto client = connect({{"Authorization", "Bearer token1"}, {"OpenAI-Beta", "realtime=v1"}});
  ASSERT_TRUE(client.open()) << client.error();
  const auto created = client.next();
  ASSERT_TRUE(created);
  EXPECT_EQ((*created)["type"], "transcription_session.created");
  client.send({{"type", "transcription_session.update"},
               {"session",
                {{"input_audio_format", "pcm16"},
                 {"input_audio_transcription", {{"model", "whisper-1"}, {"prompt", "hello"}}},
                 {"turn_detection", nullptr},
                 {"include", {"item.input_audio_transcription.logprobs"}}}}});
  const auto updated = client.next();
  ASSERT_TRUE(updated);
  ASSERT_EQ((*updated)["type"], "transcription_session.updated") << updated->dump();
  EXPECT_TRUE((*updated)["session"]["turn_detection"].is_null());
  EXPECT_EQ((*updated)["session"]["input_audio_transcription"]["prompt"], "hello");

  // Nothing to commit yet.
  client.send({{"type", "input_audio_buffer.commit"}, {"event_id", "c1"}});
  auto e = client.next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "error");
  EXPECT_EQ((*e)["error"]["code"], "input_audio_buffer_commit_empty");
  EXPECT_EQ((*e)["error"]["event_id"], "c1");

  // 24 kHz PCM16, as OpenAI's clients send it: two seconds of a tone, cleared, then again.
  std::vector<float> tone(48000);
  for (std::size_t i = 0; i < tone.size(); ++i)
    tone[i] = 0.3F * std::sin(0.1F * static_cast<float>(i));
  client.send({{"type", "input_audio_buffer.append"}, {"audio", base64(pcm16(tone))}});
  client.send({{"type", "input_audio_buffer.clear"}});
  e = client.next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "input_audio_buffer.cleared");
  client.send({{"type", "input_audio_buffer.append"}, {"audio", base64(pcm16(tone))}});
  client.send({{"type", "input_audio_buffer.commit"}});
  e = client.next();
  ASSERT_TRUE(e);
  ASSERT_EQ((*e)["type"], "input_audio_buffer.committed") << e->dump();
  const std::string item = (*e)["item_id"];
  std::vector<json> seen;
  const auto completed =
      client.wait_for("conversation.item.input_audio_transcription.completed", &seen);
  ASSERT_TRUE(completed) << json(seen).dump();
  EXPECT_EQ((*completed)["item_id"], item);
  EXPECT_EQ((*completed)["transcript"], expected_text());
  ASSERT_TRUE((*completed)["logprobs"].is_array()) << completed->dump();
  ASSERT_FALSE((*completed)["logprobs"].empty());
  EXPECT_LE((*completed)["logprobs"][0]["logprob"].get<double>(), 0.0);
  EXPECT_TRUE((*completed)["logprobs"][0]["bytes"].is_array());

  // A second turn names the first as its previous item.
  client.send({{"type", "input_audio_buffer.append"}, {"audio", base64(pcm16(tone))}});
  client.send({{"type", "input_audio_buffer.commit"}});
  e = client.wait_for("input_audio_buffer.committed");
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["previous_item_id"], item);
  EXPECT_TRUE(client.wait_for("conversation.item.input_audio_transcription.completed"));
}

TEST_F(Realtime, EveryMalformedEventGetsAnErrorEventAndTheSessionGoesOn) {
  auto client = connect();
  ASSERT_TRUE(client.open()) << client.error();
  ASSERT_TRUE(client.next());  // session.created
  const auto expect_error = [&](const std::string& code, const std::string& param) {
    const auto e = client.next();
    ASSERT_TRUE(e) << code;
    ASSERT_EQ((*e)["type"], "error") << e->dump();
    EXPECT_EQ((*e)["error"]["type"], "invalid_request_error");
    EXPECT_EQ((*e)["error"]["code"], code) << e->dump();
    if (param.empty()) {
      EXPECT_TRUE((*e)["error"]["param"].is_null()) << e->dump();
    } else {
      EXPECT_EQ((*e)["error"]["param"], param) << e->dump();
    }
    EXPECT_TRUE((*e)["error"]["message"].is_string());
  };
  const std::string tenth_second = base64(std::string(4800, '\0'));
  // Audio before the session is configured.
  client.send({{"type", "input_audio_buffer.append"}, {"audio", tenth_second}});
  expect_error("session_not_configured", "");
  client.send_text("{not json");
  expect_error("invalid_json", "");
  client.send_text("[1,2,3]");
  expect_error("invalid_json", "");
  client.send({{"event_id", "e1"}});
  expect_error("missing_required_parameter", "type");
  client.send({{"type", "response.create"}});
  expect_error("invalid_value", "type");
  client.send_binary(std::string(960, '\0'));
  expect_error("invalid_value", "");
  client.send({{"type", "session.update"}, {"session", {{"colour", "blue"}}}});
  expect_error("unknown_parameter", "session.colour");
  client.send(current_update(44100, nullptr));
  expect_error("invalid_value", "session.audio.input.format.rate");
  client.send({{"type", "session.update"},
               {"session",
                {{"type", "transcription"},
                 {"audio", {{"input", {{"transcription", {{"model", "no-such-model"}}}}}}}}}});
  expect_error("model_not_found", "session.audio.input.transcription.model");
  client.send(
      {{"type", "session.update"},
       {"session",
        {{"audio",
          {{"input", {{"turn_detection", {{"type", "server_vad"}, {"threshold", 3}}}}}}}}}});
  expect_error("invalid_value", "session.audio.input.turn_detection.threshold");

  client.send(current_update(24000, nullptr));
  const auto updated = client.next();
  ASSERT_TRUE(updated);
  ASSERT_EQ((*updated)["type"], "session.updated");
  client.send({{"type", "input_audio_buffer.append"}});
  expect_error("missing_required_parameter", "audio");
  client.send({{"type", "input_audio_buffer.append"}, {"audio", "%%%not base64%%%"}});
  expect_error("invalid_value", "audio");
  client.send({{"type", "input_audio_buffer.append"}, {"audio", base64("abc")}});  // odd bytes
  expect_error("invalid_value", "audio");
  client.send(
      {{"type", "input_audio_buffer.append"}, {"audio", std::string((15u << 20) + 4, 'A')}});
  expect_error("invalid_value", "audio");

  // Still a working session.
  client.send({{"type", "input_audio_buffer.append"}, {"audio", base64(std::string(48000, '\0'))}});
  client.send({{"type", "input_audio_buffer.commit"}});
  const auto committed = client.next();
  ASSERT_TRUE(committed);
  EXPECT_EQ((*committed)["type"], "input_audio_buffer.committed") << committed->dump();

  // A message past the WebSocket limit (16 MiB) ends the connection with 1009.
  client.send_text(std::string((16u << 20) + 16, ' '));
  std::optional<json> e;
  do {
    e = client.next(10s);
  } while (e);
  EXPECT_EQ(client.close_code(), 1009);
}

// The HTTP status an upgrade request is answered with (101 when it is accepted).
int upgrade_status(unsigned short port, RealtimeClient::Headers headers,
                   const std::string& target = "/v1/realtime?intent=transcription") {
  headers.emplace_back("Connection", "Upgrade");
  headers.emplace_back("Upgrade", "websocket");
  headers.emplace_back("Sec-WebSocket-Version", "13");
  headers.emplace_back("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  return http_request(port, "GET", target, headers).status;
}

TEST_F(Realtime, TokensAndTheSessionLimitAreCheckedBeforeTheUpgrade) {
  const auto port = server_->port();
  EXPECT_FALSE(connect({}).open());
  EXPECT_EQ(upgrade_status(port, {}), 401);
  EXPECT_FALSE(connect({{"Authorization", "Bearer nope"}}).open());
  EXPECT_EQ(upgrade_status(port, {{"Authorization", "Bearer nope"}}), 403);
  // A browser's way: the key as a subprotocol, beside "realtime", which the server picks.
  auto browser = connect({{"Sec-WebSocket-Protocol", "realtime, openai-insecure-api-key.token1"}});
  ASSERT_TRUE(browser.open()) << browser.error();
  EXPECT_EQ(browser.response()[boost::beast::http::field::sec_websocket_protocol], "realtime");
  EXPECT_EQ(
      upgrade_status(port, {{"Sec-WebSocket-Protocol", "realtime, openai-insecure-api-key.nope"}}),
      403);
  EXPECT_EQ(upgrade_status(port, kBearer, "/v1/realtime?intent=conversation"), 400);

  // Two sessions are open (browser and this one); a third is refused with 503.
  auto second = connect();
  ASSERT_TRUE(second.open()) << second.error();
  EXPECT_FALSE(connect().open());
  EXPECT_EQ(upgrade_status(port, kBearer), 503);
  EXPECT_TRUE(server_->wait_for_log("realtime.max_sessions (2) are open", 5s)) << server_->log();
  // Closing one frees its place.
  browser.close();
  bool reopened = false;
  for (int i = 0; i < 50 && !reopened; ++i) {
    std::this_thread::sleep_for(50ms);
    auto again = connect();
    reopened = again.open();
  }
  EXPECT_TRUE(reopened);

  // A plain request to the route is told to upgrade.
  const auto r =
      http_request(server_->port(), "GET", "/v1/realtime", {{"Authorization", "Bearer token1"}});
  EXPECT_EQ(r.status, 426);
  EXPECT_EQ(r.header("upgrade"), "websocket");
}

// The official SDK's realtime client, over wss:// to the TLS listener with a certificate made
// at test time, at real speed and faster.
TEST(RealtimeSdk, OpenAIRealtimeWSTranscribesASpokenFileOverTls) {
  const auto weights = silero_weights();
  const auto e2e = source_dir() / "tests/e2e";
  if (!weights || !std::filesystem::exists(e2e / "node_modules/openai/realtime/ws.js")) {
    GTEST_SKIP() << kSileroWeightsMissing;
  }
  const auto conformance = conformance_dir();
  if (!conformance) GTEST_SKIP() << "needs the spoken recording of ../shared/conformance";
  const auto dir = binary_dir() / "test-tmp" / "realtime-sdk";
  std::filesystem::create_directories(dir);
  const auto cert = dir / "cert.pem";
  const auto key = dir / "key.pem";
  auto [code, out] = run_command(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
      "subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      key.string() + " -out " + cert.string() + " 2>&1");
  ASSERT_EQ(code, 0) << out;
  const auto model = write_scripted_model(dir / "ggml-scripted.bin");
  const json models = {{"scripted", model.path.string()}};
  ServerProcess server(
      R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["token1"],"tls":{"certificate":)" +
      json(cert.string()).dump() + R"(,"private_key":)" + json(key.string()).dump() +
      R"(}}},"models":)" + models.dump() + R"(,"engine":{"vad_model":)" +
      json(weights->string()).dump() + "}}");
  const std::string expected = model.text.substr(model.text.find_first_not_of(' '));
  for (const std::string pace : {"fast", "realtime"}) {
    std::tie(code, out) = run_command(
        "node " + (e2e / "openai_realtime_client.mjs").string() +
        " https://127.0.0.1:" + std::to_string(server.port()) + "/v1 token1 " + cert.string() +
        " " + (*conformance / "hello.wav").string() + " '" + expected + "' " + pace + " 2>&1");
    EXPECT_EQ(code, 0) << pace << ": " << out;
    EXPECT_NE(out.find("all checks passed"), std::string::npos) << pace << ": " << out;
    std::cout << out;
  }
}

}  // namespace
}  // namespace earshot::testing
