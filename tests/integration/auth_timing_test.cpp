// Refused tokens over loopback (tools::probe_auth_timing): a token one character away from a
// known one is refused exactly as an unknown one is, in the same answer, without the token in
// it or in the log. Timing is measured and printed (Mann-Whitney z against the unknown tokens)
// but not asserted: a test never passes or fails on a time. docs/security.md has the figures.

#include <signal.h>

#include <cmath>
#include <iostream>

#include <gtest/gtest.h>

#include "load_client.h"
#include "testing/server_process.h"

namespace earshot::testing {
namespace {

using namespace std::chrono_literals;
using tools::TokenProbe;

TEST(MannWhitney, SeparatedSamplesGiveTheTextbookZAndEqualOnesGiveZero) {
  // Ranks of a = 1, 2, 3: U = 0, mean 4.5, sd sqrt(3 * 3 * 7 / 12).
  EXPECT_NEAR(tools::mann_whitney_z({1, 2, 3}, {4, 5, 6}), -4.5 / std::sqrt(63.0 / 12), 1e-12);
  EXPECT_NEAR(tools::mann_whitney_z({4, 5, 6}, {1, 2, 3}), 4.5 / std::sqrt(63.0 / 12), 1e-12);
  EXPECT_DOUBLE_EQ(tools::mann_whitney_z({1, 2, 3, 4}, {1, 2, 3, 4}), 0.0);
  // Ties share their mean rank: all equal is no difference.
  EXPECT_DOUBLE_EQ(tools::mann_whitney_z({7, 7, 7}, {7, 7}), 0.0);
}

TEST(AuthTiming, NearlyKnownTokensAreRefusedLikeUnknownOnesAndNeverEchoed) {
  const std::string secret = "s3cret-token-for-the-timing-probe-0123456789";
  const std::string config = R"({"server": {"http": {"host": "127.0.0.1", "port": 0,
      "request_max_size": 1048576, "auth_failure_limit": 0,
      "allowed_tokens": [")" +
                             secret + R"("]}}})";
  ServerProcess server(config);

  tools::AuthTimingPlan plan;
  plan.port = server.port();
  plan.token = secret;
  plan.rounds = 300;
  const auto report = tools::probe_auth_timing(plan);
  std::cout << tools::format_auth_timing(report);

  EXPECT_EQ(report.no_answer, 0u);
  ASSERT_EQ(report.probes.size(), 4u);
  const auto& valid = report.probes.at(TokenProbe::kValid);
  EXPECT_EQ(valid.by_status, (std::map<int, std::size_t>{{200, plan.rounds}}));
  const auto& unknown = report.probes.at(TokenProbe::kUnknown);
  ASSERT_EQ(unknown.bodies.size(), 1u) << "every unknown token gets the same answer";
  for (const auto probe :
       {TokenProbe::kUnknown, TokenProbe::kLastCharWrong, TokenProbe::kFirstCharWrong}) {
    const auto& t = report.probes.at(probe);
    EXPECT_EQ(t.by_status, (std::map<int, std::size_t>{{403, plan.rounds}}))
        << tools::token_probe_name(probe);
    EXPECT_EQ(t.bodies, unknown.bodies) << tools::token_probe_name(probe);
    EXPECT_EQ(t.echoed, 0u) << tools::token_probe_name(probe);
  }
  EXPECT_EQ(valid.echoed, 0u);

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(30s), 0);
  // Neither the token nor its near misses reach the log (the access lines name a label).
  const auto log = server.log();
  EXPECT_EQ(log.find("s3cret"), std::string::npos);
  EXPECT_EQ(log.find("x3cret"), std::string::npos);
  EXPECT_EQ(log.find("012345678"), std::string::npos);
  EXPECT_FALSE(server.log_lines("GET /ping").empty()) << "the requests were logged";
}

}  // namespace
}  // namespace earshot::testing
