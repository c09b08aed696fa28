// `earshot models download | list` against a file server on loopback (tests never reach
// beyond it), and `earshot serve --model NAME` finding a downloaded model.

#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "testing/child_process.h"
#include "testing/paths.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class ModelsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = binary_dir() / "test-tmp" / ("models-" + std::to_string(std::random_device{}()));
    served_ = root_ / "served";
    cache_ = root_ / "cache";
    fs::create_directories(served_);
    std::mt19937 rng(42);
    std::string bytes(300000, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    std::ofstream(served_ / "ggml-test.bin", std::ios::binary) << bytes;
    content_ = bytes;
    server_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/usr/bin/python3", (source_dir() / "tests/fixtures/model_file_server.py").string(),
        served_.string(), "--cut-after", "1000"});
    const auto port = server_->read_line(20s);
    ASSERT_TRUE(port) << "the fixture file server did not start";
    base_ = "http://127.0.0.1:" + *port;
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::pair<int, std::string> earshot(const std::string& args) {
    return run_command(earshot_binary().string() + " " + args);
  }

  fs::path root_, served_, cache_;
  std::string content_;
  std::string base_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_F(ModelsCli, DownloadsAndVerifiesAgainstThePublishedSha256) {
  auto [code, out] =
      earshot("models download test --base-url " + base_ + "/files --dir " + cache_.string());
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("sha256 verified"), std::string::npos) << out;
  EXPECT_EQ(read_file(cache_ / "ggml-test.bin"), content_);
  EXPECT_FALSE(fs::exists(cache_ / "ggml-test.bin.part"));

  std::tie(code, out) = earshot("models list --dir " + cache_.string());
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("test\t"), std::string::npos) << out;
  // Present already: nothing fetched again.
  std::tie(code, out) =
      earshot("models download test --base-url " + base_ + "/files --dir " + cache_.string());
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("already downloaded"), std::string::npos);
}

TEST_F(ModelsCli, ResumesACutTransferAndNeverLeavesAHalfFileUnderTheFinalName) {
  auto [code, out] =
      earshot("models download test --base-url " + base_ + "/flaky --dir " + cache_.string());
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("resume"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(cache_ / "ggml-test.bin"));
  ASSERT_TRUE(fs::exists(cache_ / "ggml-test.bin.part"));
  EXPECT_EQ(fs::file_size(cache_ / "ggml-test.bin.part"), 1000u);

  std::tie(code, out) =
      earshot("models download test --base-url " + base_ + "/flaky --dir " + cache_.string());
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("resumed"), std::string::npos) << out;
  EXPECT_EQ(read_file(cache_ / "ggml-test.bin"), content_);
}

TEST_F(ModelsCli, ChecksumMismatchIsRefusedAndDeleted) {
  auto [code, out] = earshot("models download test --base-url " + base_ + "/files --dir " +
                             cache_.string() + " --sha256 " + std::string(64, '0'));
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("checksum mismatch"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(cache_ / "ggml-test.bin"));
  EXPECT_FALSE(fs::exists(cache_ / "ggml-test.bin.part"));

  // An official name is checked against its published SHA-1, whatever the server says.
  fs::copy_file(served_ / "ggml-test.bin", served_ / "ggml-tiny.bin");
  std::tie(code, out) =
      earshot("models download tiny --base-url " + base_ + "/files --dir " + cache_.string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("SHA-1"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(cache_ / "ggml-tiny.bin"));
}

TEST_F(ModelsCli, MissingFileAndUnknownName) {
  auto [code, out] =
      earshot("models download absent --base-url " + base_ + "/files --dir " + cache_.string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("404"), std::string::npos) << out;
  std::tie(code, out) = earshot("models download no-such-model --dir " + cache_.string());
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("not an official model name"), std::string::npos) << out;
  std::tie(code, out) = earshot("models list --available");
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("large-v3-turbo"), std::string::npos);
  EXPECT_NE(out.find("base.en"), std::string::npos);
}

TEST_F(ModelsCli, ServeRefusesAModelItCannotFind) {
  const auto cfg = root_ / "config.json";
  std::ofstream(cfg)
      << R"({"server":{"http":{"host":"127.0.0.1","port":0,"allowed_tokens":["t"]}}})";
  auto [code, out] =
      run_command("EARSHOT_MODEL_DIR=" + cache_.string() + " " + earshot_binary().string() +
                  " serve --config " + cfg.string() + " --model base.en");
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("earshot models download base.en"), std::string::npos) << out;
}

}  // namespace
}  // namespace earshot::testing
