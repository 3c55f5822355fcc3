#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/histogram.hpp"

using si::LatencyHistogram;

namespace {

double exact_nearest_rank(std::vector<std::int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  if (q == 0) return static_cast<double>(v.front());
  auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return static_cast<double>(v[rank - 1]);
}

}  // namespace

TEST(Histogram, BucketsTileTheRangeWithoutGaps) {
  std::int64_t expected_lower = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kBucketCount; ++i) {
    ASSERT_EQ(LatencyHistogram::bucket_lower(i), expected_lower) << "bucket " << i;
    ASSERT_EQ(LatencyHistogram::bucket_index(expected_lower), i);
    const std::int64_t upper = expected_lower + LatencyHistogram::bucket_width(i) - 1;
    ASSERT_EQ(LatencyHistogram::bucket_index(upper), i);
    // relative width bound that gives the 0.4% midpoint guarantee
    if (expected_lower >= LatencyHistogram::kExactLimit)
      ASSERT_LE(static_cast<double>(LatencyHistogram::bucket_width(i)) / expected_lower, 1.0 / 128);
    expected_lower = upper + 1;
  }
  EXPECT_EQ(expected_lower, std::int64_t{1} << LatencyHistogram::kMaxValueBits);
}

TEST(Histogram, PercentilesWithinOnePercentOfExact) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(11.0, 1.5);  // ~60 us median, heavy tail
  std::vector<std::int64_t> values(200000);
  LatencyHistogram h;
  for (auto& v : values) {
    v = static_cast<std::int64_t>(dist(rng));
    h.record(v);
  }
  for (double q : {1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99}) {
    const double exact = exact_nearest_rank(values, q);
    EXPECT_NEAR(h.percentile(q), exact, 0.01 * exact) << "q=" << q;
  }
  EXPECT_EQ(h.percentile(0), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.percentile(100), *std::max_element(values.begin(), values.end()));
}

TEST(Histogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 0; v < 256; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 127);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 255);
  EXPECT_DOUBLE_EQ(h.mean(), 127.5);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  LatencyHistogram a, b, all;
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> d(0, 5'000'000);
  for (int i = 0; i < 5000; ++i) {
    auto v = d(rng);
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.buckets(), all.buckets());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
}

TEST(Histogram, ResetAndEmpty) {
  LatencyHistogram h;
  EXPECT_TRUE(std::isnan(h.percentile(50)));
  h.record(10, 3);
  EXPECT_EQ(h.count(), 3u);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_TRUE(std::isnan(h.mean()));
}

TEST(Histogram, RejectsBadInput) {
  LatencyHistogram h;
  EXPECT_THROW(h.record(-1), std::invalid_argument);
  EXPECT_THROW(h.percentile(101), std::invalid_argument);
  EXPECT_THROW(h.percentile(std::nan("")), std::invalid_argument);
  EXPECT_EQ(h.count(), 0u);
}

TEST(Histogram, HugeValuesClampButMaxStaysExact) {
  LatencyHistogram h;
  const std::int64_t huge = std::int64_t{1} << 60;
  h.record(huge);
  EXPECT_EQ(h.max(), huge);
  EXPECT_EQ(h.percentile(100), static_cast<double>(huge));
  EXPECT_EQ(h.percentile(50), static_cast<double>(huge));  // clamped to [min, max]
}
