// What a request's header alone decides (server/header_admission.h), without a socket.

#include "server/header_admission.h"

#include <gtest/gtest.h>

namespace earshot::server {
namespace {

using namespace std::chrono_literals;

struct Fixture {
  Fixture()
      : auth({TokenEntry{.label = "ci", .plaintext = "secret", .sha256_hex = ""}},
             {"Token", "Bearer"}) {
    router.add({.path = "/ping",
                .methods = {http::verb::get},
                .authenticated = true,
                .error_style = ErrorStyle::kOriginal,
                .handler = {}});
    router.add({.path = "/v1/audio/transcriptions",
                .methods = {http::verb::post},
                .authenticated = true,
                .error_style = ErrorStyle::kOpenAI,
                .handler = {}});
    router.add({.path = "/",
                .methods = {http::verb::get},
                .authenticated = false,
                .error_style = ErrorStyle::kOriginal,
                .handler = {}});
    config.request_max_size = 1000;
    config.auth_failure_limit = 3;
    config.auth_failure_window = 60s;
  }
  HeaderAdmission admit(http::verb method, const std::string& target,
                        std::optional<std::string> authorization = "Token secret",
                        std::optional<std::uint64_t> length = std::nullopt,
                        std::optional<std::chrono::seconds> blocked = std::nullopt) const {
    Request req{method, target, 11};
    if (authorization) req.set(http::field::authorization, *authorization);
    return admit_header(req, length, router, auth, config, blocked);
  }
  Router router;
  TokenAuth auth;
  HttpConfig config;
};

TEST(HeaderAdmission, AnAcceptedRequestHasItsRoutePathQueryAndTokenLabel) {
  const Fixture f;
  const auto a = f.admit(http::verb::post, "/v1/audio/transcriptions?x=1&y", "Bearer secret", 10);
  EXPECT_FALSE(a.refusal);
  ASSERT_NE(a.route, nullptr);
  EXPECT_EQ(a.route->path, "/v1/audio/transcriptions");
  EXPECT_EQ(a.path, "/v1/audio/transcriptions");
  EXPECT_EQ(a.query, "x=1&y");
  EXPECT_EQ(a.token_label, "ci");
  EXPECT_EQ(a.style, ErrorStyle::kOpenAI);
  // GET implies HEAD; an unauthenticated route needs no token and names none.
  EXPECT_FALSE(f.admit(http::verb::head, "/ping").refusal);
  const auto page = f.admit(http::verb::get, "/", std::nullopt);
  EXPECT_FALSE(page.refusal);
  EXPECT_EQ(page.token_label, "");
}

TEST(HeaderAdmission, TheTokenIsCheckedBeforeAnythingIsLearntOfThePath) {
  const Fixture f;
  // An unknown path without a token is a 401, not a 404.
  auto a = f.admit(http::verb::get, "/secret-route", std::nullopt);
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, http::status::unauthorized);
  EXPECT_TRUE(a.refusal->auth_failed);
  EXPECT_EQ(a.route, nullptr);
  a = f.admit(http::verb::get, "/ping", "Token wrong");
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, http::status::forbidden);
  EXPECT_TRUE(a.refusal->auth_failed);
  // With the token: 404, in OpenAI's style under /v1/.
  a = f.admit(http::verb::get, "/v1/nothing");
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, http::status::not_found);
  EXPECT_FALSE(a.refusal->auth_failed);
  EXPECT_EQ(a.style, ErrorStyle::kOpenAI);
  EXPECT_EQ(a.refusal->message, "Not found: /v1/nothing");
}

TEST(HeaderAdmission, ABlockedAddressGets429WithRetryAfterAndABreach) {
  const Fixture f;
  const auto a = f.admit(http::verb::get, "/ping", "Token secret", std::nullopt, 42s);
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, http::status::too_many_requests);
  EXPECT_EQ(a.refusal->retry_after, "42");
  ASSERT_TRUE(a.refusal->breach);
  EXPECT_EQ(a.refusal->breach->limit, "auth_failure_limit");
  EXPECT_EQ(a.refusal->breach->configured, "3 failures per 60 s");
  EXPECT_FALSE(a.refusal->auth_failed);
  // A route without a token is not blocked.
  EXPECT_FALSE(f.admit(http::verb::get, "/", std::nullopt, std::nullopt, 42s).refusal);
}

TEST(HeaderAdmission, AWrongMethodIs405WithAllowAndALargeBodyIs413) {
  const Fixture f;
  auto a = f.admit(http::verb::delete_, "/ping");
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, http::status::method_not_allowed);
  EXPECT_EQ(a.refusal->allow, "GET, HEAD");
  EXPECT_EQ(a.refusal->message, "Method DELETE not allowed on /ping");
  a = f.admit(http::verb::post, "/v1/audio/transcriptions", "Token secret", 1001);
  ASSERT_TRUE(a.refusal);
  EXPECT_EQ(a.refusal->status, http::status::payload_too_large);
  ASSERT_TRUE(a.refusal->breach);
  EXPECT_EQ(a.refusal->breach->limit, "request_max_size");
  EXPECT_EQ(a.refusal->breach->configured, "1000 bytes");
  EXPECT_EQ(a.refusal->breach->detail, "Content-Length 1001");
  EXPECT_FALSE(f.admit(http::verb::post, "/v1/audio/transcriptions", "Token secret", 1000).refusal);
}

}  // namespace
}  // namespace earshot::server
