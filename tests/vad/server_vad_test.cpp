// Dropping silence on the server: `vad`, `vad_filter` and OpenAI's chunking_strategy use
// Silero when the server has its model (engine.vad_model, --vad-model, or the downloaded
// silero-vad), the energy detector otherwise, and the response says which (X-Earshot-VAD).
// The scripted model transcribes every window it is given as the same text, so what the
// VAD kept shows in whether any text comes back.

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"
#include "vad/vad_testing.h"

namespace earshot::testing {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kToken = {{"Authorization", "Token token1"}};

std::string multipart(const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& audio) {
  std::string body;
  for (const auto& [name, value] : fields) {
    body += "--b\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  }
  body +=
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
      "Content-Type: audio/wav\r\n\r\n" +
      audio + "\r\n--b--\r\n";
  return body;
}

class ServerVad : public ::testing::Test {
 protected:
  void SetUp() override {
    weights_ = silero_weights();
    if (!weights_) GTEST_SKIP() << kSileroWeightsMissing;
    dir_ = binary_dir() / "test-tmp" /
           ("server-vad-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_ / "empty-model-dir");
    model_ = write_scripted_model(dir_ / "ggml-scripted.bin");
    // Three seconds of silence, then a tone: nothing Silero calls speech.
    std::vector<float> samples(3 * 16000, 0.0F);
    for (int i = 0; i < 3 * 16000; ++i) samples.push_back(0.3F * std::sin(i * 0.17F));
    no_speech_ = pcm16_wav(samples);
  }
  std::string config(const std::string& engine_extra) const {
    const json models = {{"scripted", model_.path.string()}};
    return R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["token1"]}},)"
           R"("models":)" +
           models.dump() + R"(,"engine":{"model_dir":)" +
           json((dir_ / "empty-model-dir").string()).dump() + engine_extra + "}}";
  }
  HttpResult transcribe(unsigned short port,
                        const std::vector<std::pair<std::string, std::string>>& fields,
                        const std::string& audio) const {
    Headers h = kToken;
    h.emplace_back("Content-Type", "multipart/form-data; boundary=b");
    std::vector<std::pair<std::string, std::string>> all = {{"model", "scripted"},
                                                            {"response_format", "verbose_json"}};
    all.insert(all.end(), fields.begin(), fields.end());
    return http_request(port, "POST", "/v1/audio/transcriptions", h, multipart(all, audio));
  }

  std::optional<std::filesystem::path> weights_;
  std::filesystem::path dir_;
  ScriptedModel model_;
  std::string no_speech_;
};

TEST_F(ServerVad, SileroDropsWhatIsNotSpeechAndSaysSo) {
  ServerProcess server(config(R"(,"vad_model":)" + json(weights_->string()).dump()));
  EXPECT_TRUE(server.wait_for_log("VAD: Silero from", std::chrono::seconds(5))) << server.log();

  auto r = transcribe(server.port(), {}, no_speech_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(json::parse(r.body)["segments"].empty());
  EXPECT_EQ(r.header("x-earshot-vad"), "");

  for (const auto& fields : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"chunking_strategy", "auto"}},
           {{"chunking_strategy",
             R"({"type":"server_vad","threshold":0.6,"silence_duration_ms":500})"}},
           {{"chunking_strategy[type]", "server_vad"},
            {"chunking_strategy[prefix_padding_ms]", "200"}},
           {{"vad_filter", "true"}},
       }) {
    r = transcribe(server.port(), fields, no_speech_);
    ASSERT_EQ(r.status, 200) << fields[0].first << ": " << r.body;
    EXPECT_EQ(r.header("x-earshot-vad"), "silero") << fields[0].first;
    EXPECT_TRUE(json::parse(r.body)["segments"].empty()) << fields[0].first << ": " << r.body;
  }

  // Speech is kept, on the original timeline.
  if (const auto conformance = conformance_dir()) {
    std::ifstream in(*conformance / "hello.wav", std::ios::binary);
    const std::string hello{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    r = transcribe(server.port(), {{"chunking_strategy", "auto"}}, hello);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-earshot-vad"), "silero");
    const auto j = json::parse(r.body);
    ASSERT_FALSE(j["segments"].empty()) << r.body;
    EXPECT_LE(j["segments"].back()["end"].get<double>(), 8.28);
  }

  // The original route takes it as a query parameter.
  r = http_request(server.port(), "POST", "/stt?vad=true", kToken, no_speech_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-earshot-vad"), "silero");
  EXPECT_EQ(json::parse(r.body)["text"], "");
}

TEST_F(ServerVad, BadChunkingStrategiesAre400) {
  ServerProcess server(config(R"(,"vad_model":)" + json(weights_->string()).dump()));
  for (const std::string& bad :
       {std::string("sometimes"), std::string(R"({"type":"client_vad"})"),
        std::string(R"({"type":"server_vad","threshold":2})"),
        std::string(R"({"type":"server_vad","silence_duration_ms":"long"})"),
        std::string(R"({"type":"server_vad","colour":"blue"})")}) {
    const auto r = transcribe(server.port(), {{"chunking_strategy", bad}}, no_speech_);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["param"], "chunking_strategy") << r.body;
  }
  const auto r = transcribe(server.port(), {{"vad_filter", "maybe"}}, no_speech_);
  EXPECT_EQ(r.status, 400) << r.body;
}

TEST_F(ServerVad, WithoutAModelTheEnergyDetectorIsUsedAndNamed) {
  ServerProcess server(config(""));
  EXPECT_TRUE(server.wait_for_log("use the energy detector", std::chrono::seconds(5)))
      << server.log();
  const auto r = transcribe(server.port(), {{"chunking_strategy", "auto"}}, no_speech_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("x-earshot-vad"), "energy");
}

TEST_F(ServerVad, AVadModelThatDoesNotLoadStopsTheStart) {
  const auto config_path = dir_ / "config.json";
  std::ofstream(config_path) << config(R"(,"vad_model":)" + json(model_.path.string()).dump());
  const auto [code, out] =
      run_command(earshot_binary().string() + " serve --config " + config_path.string() + " 2>&1");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("engine.vad_model"), std::string::npos) << out;
  std::ofstream(config_path) << config(R"(,"vad_model":"no-such-vad")");
  const auto [code2, out2] =
      run_command(earshot_binary().string() + " serve --config " + config_path.string() + " 2>&1");
  EXPECT_EQ(code2, 2) << out2;
  EXPECT_NE(out2.find("earshot models download silero-vad"), std::string::npos) << out2;
}

}  // namespace
}  // namespace earshot::testing
