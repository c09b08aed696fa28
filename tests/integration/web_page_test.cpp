// The web page at `/` on a real server: over plain HTTP (no token, headers, 304, unknown
// paths), then in a real browser (tests/e2e/web_page.test.mjs: Debian's Chromium driven by
// playwright-core) against the scripted model. Screenshots and downloads of the browser run
// are kept under <build>/e2e-artifacts/web_page/.

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/child_process.h"
#include "testing/http_client.h"
#include "testing/paths.h"
#include "testing/scripted_model.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using nlohmann::json;

// `s` as one word for /bin/sh.
std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

class WebPage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(binary_dir() / "test-tmp" / "web_page");
    std::filesystem::create_directories(*dir_);
    model_ = new ScriptedModel(write_scripted_model(*dir_ / "ggml-scripted.bin"));
    const json models = {{"scripted", model_->path.string()}};
    server_ = new ServerProcess(
        R"({"server":{"http":{"host":"127.0.0.1","port":0,"request_max_size":100000000,)"
        R"("allowed_tokens":["token1"]}},"models":)" +
        models.dump() + "}");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete model_;
    delete dir_;
    server_ = nullptr;
    model_ = nullptr;
    dir_ = nullptr;
  }
  unsigned short port() const { return server_->port(); }
  static std::string expected_text() {
    const auto a = model_->text.find_first_not_of(' ');
    return model_->text.substr(a, model_->text.find_last_not_of(' ') - a + 1);
  }

  static std::filesystem::path* dir_;
  static ScriptedModel* model_;
  static ServerProcess* server_;
};
std::filesystem::path* WebPage::dir_ = nullptr;
ScriptedModel* WebPage::model_ = nullptr;
ServerProcess* WebPage::server_ = nullptr;

TEST_F(WebPage, ServedWithoutATokenWithItsHeaders) {
  const auto r = http_request(port(), "GET", "/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<title>earshot"), std::string::npos);
  EXPECT_NE(r.header("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_FALSE(r.header("etag").empty());

  for (const auto& [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/app.js", "text/javascript; charset=utf-8"},
           {"/style.css", "text/css; charset=utf-8"},
           {"/favicon.svg", "image/svg+xml"}}) {
    const auto a = http_request(port(), "GET", path);
    EXPECT_EQ(a.status, 200) << path;
    EXPECT_EQ(a.header("content-type"), type) << path;
    EXPECT_FALSE(a.header("content-security-policy").empty()) << path;
  }
  // The page's script is one of its own files; nothing names another origin.
  EXPECT_NE(r.body.find("<script type=\"module\" src=\"/app.js\">"), std::string::npos);
  EXPECT_EQ(r.body.find("http://"), std::string::npos) << "no third-party URL in the page";
  EXPECT_EQ(r.body.find("https://"), std::string::npos) << "no third-party URL in the page";
}

TEST_F(WebPage, RevalidationHeadAndMethods) {
  const auto first = http_request(port(), "GET", "/app.js");
  ASSERT_EQ(first.status, 200);
  const auto again =
      http_request(port(), "GET", "/app.js", {{"If-None-Match", first.header("etag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());

  const auto head = http_request(port(), "HEAD", "/");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());

  const auto post = http_request(port(), "POST", "/", {}, "x");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
}

TEST_F(WebPage, OtherPathsStillNeedATokenThenAre404) {
  for (const char* path : {"/nope.js", "/app.js/", "/web/index.html", "/index.htm"}) {
    EXPECT_EQ(http_request(port(), "GET", path).status, 401) << path;
    EXPECT_EQ(http_request(port(), "GET", path, {{"Authorization", "Token token1"}}).status, 404)
        << path;
  }
  EXPECT_EQ(http_request(port(), "GET", "/ping").status, 401);
}

TEST_F(WebPage, InChromium) {
  const auto e2e = source_dir() / "tests/e2e";
  if (!std::filesystem::exists(e2e / "node_modules/playwright-core")) {
    GTEST_SKIP()
        << "tests/e2e/node_modules is absent: run scripts/test.sh (it installs playwright-core)";
  }
  if (!std::filesystem::exists("/usr/bin/chromium")) {
    GTEST_SKIP() << "/usr/bin/chromium is absent: run scripts/install-deps.sh";
  }
  const auto upload = *dir_ / "speech.wav";
  std::ofstream(upload, std::ios::binary) << tone_wav(45.0);  // two 30 s windows
  const auto mic = *dir_ / "microphone.wav";
  std::ofstream(mic, std::ios::binary) << tone_wav(10.0, 330.0);
  // A second server with no model and a body limit between the two files' sizes.
  ServerProcess limited(
      R"({"server":{"http":{"host":"127.0.0.1","port":0,"request_max_size":500000,)"
      R"("allowed_tokens":["token1"]}}})");
  const auto artifacts = binary_dir() / "e2e-artifacts" / "web_page";
  std::filesystem::remove_all(artifacts);

  const auto [code, out] = run_command(
      "node " + shell_quoted((e2e / "web_page.test.mjs").string()) +
      " http://127.0.0.1:" + std::to_string(port()) + " token1 " + shell_quoted(upload.string()) +
      " " + shell_quoted(mic.string()) + " " + shell_quoted(artifacts.string()) + " " +
      shell_quoted(expected_text()) + " http://127.0.0.1:" + std::to_string(limited.port()));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("all checks passed"), std::string::npos) << out;
  EXPECT_EQ(out.find("not ok"), std::string::npos) << out;
  for (const char* shot : {"02-uploaded.png", "05-recorded.png", "06-wrong-token.png",
                           "09-too-large.png", "10-no-model.png"}) {
    EXPECT_TRUE(std::filesystem::exists(artifacts / shot)) << shot;
  }
}

}  // namespace
}  // namespace earshot::testing
