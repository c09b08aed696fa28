#include "server/query.h"

#include <gtest/gtest.h>

namespace earshot::server {
namespace {

TEST(Query, ParsesAndDecodes) {
  const auto q =
      parse_query("language=en&task=translate&prompt=hello+world%21&empty=&flag&x=%zz&x=2");
  EXPECT_EQ(q.at("language"), "en");
  EXPECT_EQ(q.at("task"), "translate");
  EXPECT_EQ(q.at("prompt"), "hello world!");
  EXPECT_EQ(q.at("empty"), "");
  EXPECT_EQ(q.at("flag"), "");
  EXPECT_EQ(q.at("x"), "2");
  EXPECT_TRUE(parse_query("").empty());
  EXPECT_TRUE(parse_query("&&").empty());
}

TEST(Query, UrlDecodeEdgeCases) {
  EXPECT_EQ(url_decode("%41%42"), "AB");
  EXPECT_EQ(url_decode("%4"), "%4");
  EXPECT_EQ(url_decode("%"), "%");
  EXPECT_EQ(url_decode("%g0"), "%g0");
  EXPECT_EQ(url_decode("%E2%82%AC"), "\xE2\x82\xAC");
}

}  // namespace
}  // namespace earshot::server
