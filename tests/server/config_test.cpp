#include "server/config.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "testing/paths.h"

namespace earshot::server {
namespace {

// Parses and expects a ConfigError whose message contains every fragment.
void expect_error(const std::string& text, std::initializer_list<std::string> fragments) {
  try {
    parse_config(text, "conf/test.json");
    ADD_FAILURE() << "accepted: " << text;
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("conf/test.json"), std::string::npos) << what;
    for (const auto& f : fragments)
      EXPECT_NE(what.find(f), std::string::npos) << "'" << f << "' not in: " << what;
  }
}

TEST(Config, ReadsTheOriginalServersFileUnchanged) {
  const auto c = parse_config(
      R"({"server":{"http":{"host":"0.0.0.0","port":8080,"request_max_size":10485760,"allowed_tokens":["token1"]}}})",
      "config.json");
  EXPECT_EQ(c.http.host, "0.0.0.0");
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.http.request_max_size, 10485760u);
  ASSERT_EQ(c.http.allowed_tokens.size(), 1u);
  EXPECT_EQ(c.http.allowed_tokens[0].plaintext, "token1");
  EXPECT_EQ(c.http.allowed_tokens[0].label, "token-1");
  EXPECT_EQ(c.source, "config.json");
}

TEST(Config, MissingKeysTakeDefaults) {
  const auto c = parse_config(R"({"server":{"http":{"allowed_tokens":["a","b"]}}})", "x");
  const HttpConfig defaults;
  EXPECT_EQ(c.http.host, defaults.host);
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.http.request_max_size, 10485760u);
  EXPECT_EQ(c.http.auth_schemes, (std::vector<std::string>{"Token", "Bearer"}));
  EXPECT_EQ(c.http.header_timeout, defaults.header_timeout);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, LogFormat::kText);
  EXPECT_EQ(c.http.allowed_tokens[1].label, "token-2");
}

TEST(Config, ReadsExtensions) {
  const auto c = parse_config(R"({
    "server": {"http": {
      "allowed_tokens": ["plain", "sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
                         {"label": "ci", "token": "t-ci"},
                         {"label": "ops", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],
      "auth_schemes": ["Bearer"], "header_timeout": 2.5, "body_timeout": 30, "idle_timeout": 5,
      "shutdown_grace": 3, "max_connections": 10, "max_header_size": 4096, "io_threads": 2}},
    "log": {"level": "debug", "format": "json"}})",
                              "x");
  ASSERT_EQ(c.http.allowed_tokens.size(), 4u);
  EXPECT_EQ(c.http.allowed_tokens[1].sha256_hex,
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_TRUE(c.http.allowed_tokens[1].plaintext.empty());
  EXPECT_EQ(c.http.allowed_tokens[2].label, "ci");
  EXPECT_EQ(c.http.allowed_tokens[2].plaintext, "t-ci");
  EXPECT_EQ(c.http.allowed_tokens[3].label, "ops");
  EXPECT_EQ(c.http.auth_schemes, std::vector<std::string>{"Bearer"});
  EXPECT_EQ(c.http.header_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c.http.body_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.http.max_connections, 10u);
  EXPECT_EQ(c.http.io_threads, 2);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, LogFormat::kJson);
}

TEST(Config, TlsNeedsBothFiles) {
  const auto c = parse_config(
      R"({"server":{"http":{"allowed_tokens":["a"],"tls":{"certificate":"/c.pem","private_key":"/k.pem"}}}})",
      "x");
  EXPECT_EQ(c.http.tls_certificate, "/c.pem");
  EXPECT_EQ(c.http.tls_private_key, "/k.pem");
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"tls":{"certificate":"/c.pem"}}}})",
               {"server.http.tls", "private_key"});
  expect_error(
      R"({"server":{"http":{"allowed_tokens":["a"],"tls":{"certificate":"/c","private_key":"/k","ca":"x"}}}})",
      {"server.http.tls.ca", "unknown key"});
}

TEST(Config, InvalidJsonNamesTheFile) {
  expect_error("{\"server\": ", {"invalid JSON"});
}

// Found by fuzz_config (fuzz/regressions/config/): a number beyond a double made the JSON
// library throw out_of_range, which escaped as something other than ConfigError.
TEST(Config, NumberTooLargeForADoubleIsAConfigError) {
  expect_error(R"({"server": {"http": {"allowed_tokens": ["t"], "header_timeout": 2e308}}})",
               {"invalid JSON", "number overflow"});
}

TEST(Config, TopLevelMustBeAnObject) {
  expect_error("[1,2]", {"expected an object", "an array"});
}

TEST(Config, UnknownKeysAreRefusedWithTheirPath) {
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"prot":1}}})",
               {"server.http.prot", "unknown key"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"]},"grpc":{}}})",
               {"server.grpc", "unknown key"});
  expect_error(R"({"srever":{}})", {"srever", "unknown key"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"]}},"log":{"lvl":"x"}})", {"log.lvl"});
}

TEST(Config, WrongTypesSayWhatWasExpected) {
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"port":"8080"}}})",
               {"server.http.port", "expected a non-negative integer", "a string"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"host":5}}})",
               {"server.http.host", "expected a string"});
  expect_error(R"({"server":{"http":{"allowed_tokens":"token1"}}})",
               {"server.http.allowed_tokens", "expected an array"});
  expect_error(R"({"server":{"http":{"allowed_tokens":[5]}}})", {"server.http.allowed_tokens[0]"});
  expect_error(R"({"server":"x"})", {"server", "expected an object"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"header_timeout":"1s"}}})",
               {"server.http.header_timeout", "seconds"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"]}},"log":{"format":"xml"}})",
               {"log.format"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"]}},"log":{"level":"loud"}})",
               {"log.level"});
}

TEST(Config, OutOfRangeValues) {
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"port":70000}}})",
               {"server.http.port", "65535"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"port":-1}}})", {"server.http.port"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"request_max_size":0}}})",
               {"server.http.request_max_size"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"header_timeout":0}}})",
               {"server.http.header_timeout"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"max_connections":0}}})",
               {"server.http.max_connections"});
}

TEST(Config, PrecisionPerModelOrForTheEngine) {
  const auto c = parse_config(R"({"server":{"http":{"allowed_tokens":["a"]}},
    "models":{"fast":{"path":"/m/base.bin","precision":"int8"},"exact":"/m/base.bin",
              "pinned":{"path":"/m/tiny.bin","precision":"fp32"}},
    "engine":{"default_model":"exact","precision":"int8"}})",
                              "x");
  ASSERT_EQ(c.engine.models.size(), 3u);
  EXPECT_EQ(c.engine.precision, Precision::kInt8);
  for (const auto& m : c.engine.models) {
    if (m.name == "fast") {
      EXPECT_EQ(m.precision, Precision::kInt8);
      EXPECT_EQ(m.path, "/m/base.bin");
    } else if (m.name == "exact") {
      EXPECT_EQ(m.precision, std::nullopt);  // takes the engine's
    } else {
      EXPECT_EQ(m.precision, Precision::kFp32);
    }
  }
  EXPECT_EQ(parse_config(R"({"server":{"http":{"allowed_tokens":["a"]}}})", "x").engine.precision,
            Precision::kFp32);
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"]}},"engine":{"precision":"bf16"}})",
               {"engine.precision", "\"fp32\" or \"int8\""});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"]}},
                   "models":{"m":{"path":"/m.bin","precision":8}}})",
               {"models.m.precision", "expected a string"});
  expect_error(
      R"({"server":{"http":{"allowed_tokens":["a"]}},"models":{"m":{"precision":"int8"}}})",
      {"models.m.path", "missing"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"]}},"models":{"m":{"path":"/m","x":1}}})",
               {"models.m.x", "unknown key"});
}

TEST(Config, AuthenticationIsNeverSilentlyOff) {
  expect_error(R"({"server":{"http":{}}})", {"server.http.allowed_tokens", "missing"});
  expect_error(R"({"server":{"http":{"allowed_tokens":[]}}})",
               {"server.http.allowed_tokens", "at least one"});
  expect_error(R"({"server":{}})", {"server.http", "missing"});
  expect_error(R"({})", {"server", "missing"});
  expect_error(R"({"server":{"http":{"allowed_tokens":[""]}}})",
               {"allowed_tokens[0]", "non-empty"});
}

TEST(Config, BadTokens) {
  expect_error(R"({"server":{"http":{"allowed_tokens":["with space"]}}})",
               {"allowed_tokens[0]", "spaces"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["sha256:abc"]}}})",
               {"allowed_tokens[0]", "64 hexadecimal"});
  expect_error(R"({"server":{"http":{"allowed_tokens":[{"label":"x"}]}}})",
               {"allowed_tokens[0]", "exactly one"});
  expect_error(R"({"server":{"http":{"allowed_tokens":[{"label":"x","token":"a","sha256":"b"}]}}})",
               {"exactly one"});
  expect_error(
      R"({"server":{"http":{"allowed_tokens":[{"label":"x","token":"a"},{"label":"x","token":"b"}]}}})",
      {"allowed_tokens[1].label", "duplicate"});
  expect_error(R"({"server":{"http":{"allowed_tokens":[{"token":"a","colour":"red"}]}}})",
               {"allowed_tokens[0].colour", "unknown key"});
  expect_error(R"({"server":{"http":{"allowed_tokens":["a"],"auth_schemes":[]}}})",
               {"server.http.auth_schemes"});
}

TEST(Config, UnreadableFileNamesIt) {
  try {
    load_config("/nonexistent/earshot.json");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/earshot.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cannot read"), std::string::npos);
  }
}

TEST(Config, LoadsAFileAndResolvesItsPath) {
  const auto path = testing::binary_dir() / "test-tmp" / "config_test.json";
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << R"({"server":{"http":{"allowed_tokens":["t"],"port":9}}})";
  EXPECT_EQ(load_config(path).http.port, 9);

  EXPECT_EQ(resolve_config_path(std::filesystem::path("given.json")), "given.json");
  ::setenv("EARSHOT_CONFIG", "/etc/earshot/from-env.json", 1);
  EXPECT_EQ(resolve_config_path(std::nullopt), "/etc/earshot/from-env.json");
  ::unsetenv("EARSHOT_CONFIG");
  EXPECT_EQ(resolve_config_path(std::nullopt), "config.json");
}

TEST(Config, ShippedDefaultConfigIsValid) {
  const auto c = load_config(testing::source_dir() / "config.json");
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_FALSE(c.http.allowed_tokens.empty());
}

}  // namespace
}  // namespace earshot::server
