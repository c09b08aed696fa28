#include "server/token_auth.h"

#include <gtest/gtest.h>

namespace earshot::server {
namespace {

TokenAuth make_auth() {
  std::vector<TokenEntry> tokens = {
      {.label = "alice", .plaintext = "token1", .sha256_hex = ""},
      // sha256("test")
      {.label = "hashed",
       .plaintext = "",
       .sha256_hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
  };
  return TokenAuth(tokens, {"Token", "Bearer"});
}

TEST(TokenAuth, Sha256MatchesKnownDigest) {
  const auto d = sha256("abc");
  EXPECT_EQ(d[0], 0xba);
  EXPECT_EQ(d[1], 0x78);
  EXPECT_EQ(d[31], 0xad);
}

TEST(TokenAuth, MissingHeaderIs401) {
  const auto d = make_auth().decide(std::nullopt);
  EXPECT_EQ(d.outcome, AuthOutcome::kMissingHeader);
  EXPECT_EQ(d.http_status(), 401);
  EXPECT_EQ(d.reason(), "Missing authorization header");
}

TEST(TokenAuth, AcceptsKnownTokensWithEitherScheme) {
  const auto auth = make_auth();
  for (const char* h :
       {"Token token1", "Bearer token1", "token token1", "BEARER token1", "tOkEn token1"}) {
    const auto d = auth.decide(std::string_view(h));
    EXPECT_TRUE(d.accepted()) << h;
    EXPECT_EQ(d.label, "alice");
    EXPECT_EQ(d.http_status(), 200);
  }
  const auto d = auth.decide(std::string_view("Token test"));
  EXPECT_TRUE(d.accepted());
  EXPECT_EQ(d.label, "hashed");
}

TEST(TokenAuth, HeaderNotExactlySchemeSpaceToken) {
  const auto auth = make_auth();
  for (const char* h : {"", "Token", "token1", "Token  token1", "Token token1 extra",
                        " Token token1", "Token token1 ", "Token ", " token1"}) {
    const auto d = auth.decide(std::string_view(h));
    EXPECT_EQ(d.outcome, AuthOutcome::kInvalidHeader) << "'" << h << "'";
    EXPECT_EQ(d.http_status(), 403);
    EXPECT_EQ(d.reason(), "Invalid authorization header");
  }
}

TEST(TokenAuth, UnknownScheme) {
  const auto d = make_auth().decide(std::string_view("Basic token1"));
  EXPECT_EQ(d.outcome, AuthOutcome::kInvalidScheme);
  EXPECT_EQ(d.http_status(), 403);
  EXPECT_EQ(d.reason(), "Invalid token scheme");
}

TEST(TokenAuth, UnknownToken) {
  const auto auth = make_auth();
  for (const char* h : {"Token token2", "Token TOKEN1", "Token token", "Token token11",
                        "Token 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}) {
    const auto d = auth.decide(std::string_view(h));
    EXPECT_EQ(d.outcome, AuthOutcome::kUnknownToken) << h;
    EXPECT_EQ(d.reason(), "Token doesn't exist");
    EXPECT_TRUE(d.label.empty());
  }
}

TEST(TokenAuth, SchemesAreConfigurable) {
  TokenAuth only_bearer({{.label = "a", .plaintext = "x", .sha256_hex = ""}}, {"Bearer"});
  EXPECT_EQ(only_bearer.decide(std::string_view("Token x")).outcome, AuthOutcome::kInvalidScheme);
  EXPECT_TRUE(only_bearer.decide(std::string_view("bearer x")).accepted());
}

TEST(TokenAuth, VeryLongHeaderIsJustUnknown) {
  const std::string h = "Token " + std::string(100000, 'a');
  EXPECT_EQ(make_auth().decide(h).outcome, AuthOutcome::kUnknownToken);
}

}  // namespace
}  // namespace earshot::server
