// Real clients against a real server: the original Python client's request (aiohttp) and
// the official OpenAI Node SDK (tests/e2e, installed by scripts/test.sh).

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/child_process.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using nlohmann::json;

class Clients : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per test: ctest runs tests in parallel processes.
    dir_ =
        binary_dir() / "test-tmp" /
        ("clients-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
    model_ = write_scripted_model(dir_ / "ggml-scripted.bin");
    wav_ = dir_ / "tone.wav";
    std::ofstream(wav_, std::ios::binary) << tone_wav(3.0);
    const json models = {{"scripted", model_.path.string()}};
    server_ = std::make_unique<ServerProcess>(
        R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["token1"]}},"models":)" +
        models.dump() + "}");
  }
  std::string expected_text() const {
    const auto a = model_.text.find_first_not_of(' ');
    return model_.text.substr(a);
  }
  std::filesystem::path dir_, wav_;
  ScriptedModel model_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(Clients, OriginalAiohttpClient) {
  const auto [code, out] = run_command(
      "/usr/bin/python3 " + (source_dir() / "tests/fixtures/original_client.py").string() +
      " http://127.0.0.1:" + std::to_string(server_->port()) + "/stt token1 " + wav_.string());
  ASSERT_EQ(code, 0) << out;
  const auto j = json::parse(out);
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["body"]["status"], "success");
  EXPECT_EQ(j["body"]["text"], expected_text());
  EXPECT_TRUE(j["body"]["proc_duration"].is_number());
}

TEST_F(Clients, OpenAINodeSdk) {
  const auto e2e = source_dir() / "tests/e2e";
  if (!std::filesystem::exists(e2e / "node_modules/openai")) {
    GTEST_SKIP()
        << "tests/e2e/node_modules is absent: run scripts/test.sh (it installs the OpenAI SDK)";
  }
  const auto [code, out] =
      run_command("node " + (e2e / "openai_sdk_client.mjs").string() +
                  " http://127.0.0.1:" + std::to_string(server_->port()) + "/v1 token1 " +
                  wav_.string() + " '" + expected_text() + "'");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos) << out;
}

}  // namespace
}  // namespace earshot::testing
