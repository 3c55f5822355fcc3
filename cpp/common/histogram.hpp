// Fixed-memory log-linear latency histogram (HDR-style).
//
// Values are non-negative integers (nanoseconds). Values below 256 have exact
// buckets; above, each power of two is split into 128 equal buckets, so a
// bucket is at most 1/128 of its lower bound wide and a percentile reported at
// the bucket's midpoint is within 0.4% of the exact value. Values at or above
// 2^48 ns (about 3.3 days) share the last bucket; min, max and the mean stay
// exact. Memory is fixed (about 43 KB); record() is O(1) and never allocates.
// Not synchronised: one writer, or a lock held by the owner.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace si {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 8;
  static constexpr int kMaxValueBits = 48;
  static constexpr std::int64_t kExactLimit = std::int64_t{1} << kSubBucketBits;
  static constexpr std::int64_t kHalf = kExactLimit / 2;
  static constexpr std::size_t kBucketCount =
      kExactLimit + (kMaxValueBits - kSubBucketBits) * kHalf;

  LatencyHistogram();

  // Adds one value (count times). Throws std::invalid_argument if negative.
  void record(std::int64_t value_ns, std::uint64_t count = 1);
  void merge(const LatencyHistogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::int64_t min() const { return count_ ? min_ : 0; }
  std::int64_t max() const { return count_ ? max_ : 0; }
  double mean() const;

  // Nearest-rank percentile, q in [0, 100]: the midpoint of the bucket that
  // holds the ceil(q/100 * count)-th smallest value, clamped to [min, max].
  // q == 0 gives min and q == 100 gives max exactly. NaN when empty.
  // Throws std::invalid_argument when q is outside [0, 100] or NaN.
  double percentile(double q) const;
  // Several percentiles in one pass over the buckets.
  std::vector<double> percentiles(const std::vector<double>& qs) const;

  // Bucket arithmetic, public for tests and for serialisers.
  static std::size_t bucket_index(std::int64_t value);
  static std::int64_t bucket_lower(std::size_t index);
  static std::int64_t bucket_width(std::size_t index);
  const std::array<std::uint64_t, kBucketCount>& buckets() const { return buckets_; }

 private:
  double bucket_value(std::size_t index) const;

  std::array<std::uint64_t, kBucketCount> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace si
