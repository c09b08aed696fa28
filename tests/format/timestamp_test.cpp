#include "format/timestamp.h"

#include <limits>

#include <gtest/gtest.h>

namespace earshot {
namespace {

TEST(TimestampTest, FormatsHoursMinutesSecondsMilliseconds) {
  EXPECT_EQ(format_timestamp(0, ','), "00:00:00,000");
  EXPECT_EQ(format_timestamp(24.78, ','), "00:00:24,780");
  EXPECT_EQ(format_timestamp(24.78, '.'), "00:00:24.780");
  EXPECT_EQ(format_timestamp(3725.5, ','), "01:02:05,500");
  EXPECT_EQ(format_timestamp(36000, '.'), "10:00:00.000");
  EXPECT_EQ(format_timestamp(360000.001, ','), "100:00:00,001");
}

TEST(TimestampTest, RoundsLikePythonAndCarriesIntoLargerUnits) {
  // Python: round(59.9996 * 1000.0) == 60000, round(3599.9999 * 1000.0) == 3600000.
  EXPECT_EQ(format_timestamp(59.9996, ','), "00:01:00,000");
  EXPECT_EQ(format_timestamp(3599.9999, ','), "01:00:00,000");
  // Halves go to the even neighbour: round(1.5) == 2, round(2.5) == 2, round(12.5) == 12,
  // round(1000.5) == 1000, but 2.0005 * 1000.0 is 2000.5000000000002, so 2001.
  EXPECT_EQ(to_milliseconds(0.0015), 2);
  EXPECT_EQ(to_milliseconds(0.0025), 2);
  EXPECT_EQ(to_milliseconds(0.0125), 12);
  EXPECT_EQ(to_milliseconds(1.0005), 1000);
  EXPECT_EQ(to_milliseconds(2.0005), 2001);
}

TEST(TimestampTest, NegativeAndNonFiniteTimesAreZero) {
  EXPECT_EQ(to_milliseconds(-0.5), 0);
  EXPECT_EQ(to_milliseconds(std::numeric_limits<double>::quiet_NaN()), 0);
  EXPECT_EQ(format_timestamp(-3, ','), "00:00:00,000");
}

}  // namespace
}  // namespace earshot
