#include "common/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace si {

LatencyHistogram::LatencyHistogram() = default;

std::size_t LatencyHistogram::bucket_index(std::int64_t value) {
  constexpr std::int64_t kClamp = (std::int64_t{1} << kMaxValueBits) - 1;
  if (value < kExactLimit) return static_cast<std::size_t>(value);
  if (value > kClamp) value = kClamp;
  const int msb = 63 - __builtin_clzll(static_cast<unsigned long long>(value));
  const int shift = msb - (kSubBucketBits - 1);  // >= 1
  const std::int64_t sub = value >> shift;       // in [kHalf, kExactLimit)
  return static_cast<std::size_t>(kExactLimit + (shift - 1) * kHalf + (sub - kHalf));
}

std::int64_t LatencyHistogram::bucket_lower(std::size_t index) {
  if (index < static_cast<std::size_t>(kExactLimit)) return static_cast<std::int64_t>(index);
  const std::size_t rel = index - kExactLimit;
  const int shift = static_cast<int>(rel / kHalf) + 1;
  const std::int64_t sub = kHalf + static_cast<std::int64_t>(rel % kHalf);
  return sub << shift;
}

std::int64_t LatencyHistogram::bucket_width(std::size_t index) {
  if (index < static_cast<std::size_t>(kExactLimit)) return 1;
  return std::int64_t{1} << ((index - kExactLimit) / kHalf + 1);
}

void LatencyHistogram::record(std::int64_t value, std::uint64_t count) {
  if (value < 0)
    throw std::invalid_argument("latency histogram: value must be >= 0 ns, got " +
                                std::to_string(value));
  if (count == 0) return;
  buckets_[bucket_index(value)] += count;
  if (count_ == 0) {
    min_ = max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  count_ += count;
  sum_ += static_cast<long double>(value) * static_cast<long double>(count);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
}

void LatencyHistogram::reset() {
  buckets_.fill(0);
  count_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const {
  if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(sum_ / static_cast<long double>(count_));
}

double LatencyHistogram::bucket_value(std::size_t index) const {
  const double lower = static_cast<double>(bucket_lower(index));
  const double mid = lower + static_cast<double>(bucket_width(index) - 1) / 2.0;
  return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
}

double LatencyHistogram::percentile(double q) const { return percentiles({q})[0]; }

std::vector<double> LatencyHistogram::percentiles(const std::vector<double>& qs) const {
  for (double q : qs)
    if (!(q >= 0.0 && q <= 100.0))
      throw std::invalid_argument("percentile must be within [0, 100], got " + std::to_string(q));
  std::vector<double> out(qs.size(), std::numeric_limits<double>::quiet_NaN());
  if (count_ == 0) return out;
  // Visit the requested ranks in increasing order during one bucket walk.
  std::vector<std::size_t> order(qs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return qs[a] < qs[b]; });
  std::size_t bucket = 0;
  std::uint64_t seen = 0;
  for (std::size_t k : order) {
    const double q = qs[k];
    if (q == 0.0) { out[k] = static_cast<double>(min_); continue; }
    if (q == 100.0) { out[k] = static_cast<double>(max_); continue; }
    auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    while (seen + buckets_[bucket] < rank) seen += buckets_[bucket++];
    out[k] = bucket_value(bucket);
  }
  return out;
}

}  // namespace si
