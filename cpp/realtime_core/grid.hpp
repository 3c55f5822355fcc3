// The integer-nanosecond deadline grid of a periodic timer.
//
// A period is an exact rational number of nanoseconds, num/den, so a rate
// such as 3 Hz (period 333333333.33... ns) has no cumulative drift: deadline k
// is anchor_ns + floor((k - anchor_k) * num / den), computed in 128-bit
// integers. Re-anchoring (a rate change, the `delay` missed-tick policy) moves
// the anchor; between anchors the grid is exact.
#pragma once

#include <cstdint>
#include <string>

namespace si::rt {

// Bounds on what a timer accepts.
constexpr double kMinRateHz = 1e-6;
constexpr double kMaxRateHz = 1e6;
constexpr std::int64_t kMinPeriodNs = 1000;                  // 1 MHz
constexpr std::int64_t kMaxPeriodNs = 1'000'000'000'000'000;  // 1e15 ns = 1e-6 Hz
constexpr std::int64_t kMaxRateDenominator = 1'000'000;

// An exact period of num/den nanoseconds (both > 0, reduced).
struct Period {
  std::int64_t num = 1'000'000'000;
  std::int64_t den = 1;

  // The period of an integer number of nanoseconds. Throws std::invalid_argument
  // outside [kMinPeriodNs, kMaxPeriodNs].
  static Period from_ns(std::int64_t period_ns);
  // The period of rate_num/rate_den Hz, i.e. 1e9 * rate_den / rate_num ns.
  static Period from_rate_fraction(std::int64_t rate_num, std::int64_t rate_den);
  // The period of a rate in Hz: the rate is read as the nearest fraction p/q
  // with q <= kMaxRateDenominator (continued fractions), so 3.0 is exactly 3/1
  // and 0.1 is exactly 1/10. Throws std::invalid_argument for NaN, infinities
  // and rates outside [kMinRateHz, kMaxRateHz].
  static Period from_rate_hz(double rate_hz);

  // round(num / den), the period in whole nanoseconds.
  std::int64_t rounded_ns() const;
  double rate_hz() const { return 1e9 * static_cast<double>(den) / static_cast<double>(num); }
  std::string describe() const;
};

bool operator==(const Period& a, const Period& b);

// now + one period (the default first deadline); std::overflow_error when
// that is past INT64_MAX.
std::int64_t one_period_after(std::int64_t now_ns, const Period& p);
// Throws std::overflow_error naming `what` unless 0 <= x <= INT64_MAX.
std::int64_t checked_ns(__int128 x, const char* what);

// The best rational approximation p/q of x with q <= max_den (x > 0).
void best_fraction(double x, std::int64_t max_den, std::int64_t& p, std::int64_t& q);

class Grid {
 public:
  Grid(Period period, std::int64_t start_ns);

  // Deadline of grid index k (k >= anchor index); throws std::overflow_error
  // when it lies past INT64_MAX.
  std::int64_t deadline(std::uint64_t k) const;
  // Whether deadline(k) is representable (does not throw).
  bool representable(std::uint64_t k) const;
  // The exact deadline of k, beyond int64 if need be (no overflow for any k).
  __int128 deadline_wide(std::uint64_t k) const;
  // The smallest index k >= from with deadline(k) > t (its deadline may lie
  // past INT64_MAX: then deadline(k) throws).
  std::uint64_t first_after(std::int64_t t, std::uint64_t from) const;
  // Keeps deadline(k) and continues from there with another period.
  void reanchor(std::uint64_t k, std::int64_t deadline_ns, Period period);
  void reanchor(std::uint64_t k, std::int64_t deadline_ns) { reanchor(k, deadline_ns, period_); }

  const Period& period() const { return period_; }
  std::uint64_t anchor_index() const { return anchor_k_; }
  std::int64_t anchor_ns() const { return anchor_ns_; }

 private:
  Period period_;
  std::uint64_t anchor_k_ = 0;
  std::int64_t anchor_ns_ = 0;
};

}  // namespace si::rt
