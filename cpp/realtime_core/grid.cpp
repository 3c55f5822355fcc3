#include "realtime_core/grid.hpp"

#include <cmath>
#include <numeric>
#include <stdexcept>

namespace si::rt {
namespace {

using i128 = __int128;

Period reduced(std::int64_t num, std::int64_t den) {
  const std::int64_t g = std::gcd(num, den);
  return Period{num / g, den / g};
}

void check_period(const Period& p) {
  // The period must lie within [kMinPeriodNs, kMaxPeriodNs] (as a rational).
  if (static_cast<i128>(p.num) < static_cast<i128>(kMinPeriodNs) * p.den)
    throw std::invalid_argument("timer period is shorter than 1000 ns (rate above 1 MHz): " + p.describe());
  if (static_cast<i128>(p.num) > static_cast<i128>(kMaxPeriodNs) * p.den)
    throw std::invalid_argument("timer period is longer than 1e15 ns (rate below 1e-6 Hz): " + p.describe());
}

}  // namespace

void best_fraction(double x, std::int64_t max_den, std::int64_t& p, std::int64_t& q) {
  // Continued-fraction convergents and the best semiconvergent within max_den.
  std::int64_t p0 = 0, q0 = 1, p1 = 1, q1 = 0;
  double r = x;
  for (int iter = 0; iter < 64; ++iter) {
    const double a_d = std::floor(r);
    if (a_d > 9e15) break;
    const auto a = static_cast<std::int64_t>(a_d);
    const i128 q2 = static_cast<i128>(a) * q1 + q0;
    if (q2 > max_den) {
      // Best semiconvergent: largest k with k*q1 + q0 <= max_den.
      const std::int64_t k = q1 ? (max_den - q0) / q1 : 0;
      const std::int64_t ps = k * p1 + p0, qs = k * q1 + q0;
      if (qs > 0 && std::fabs(static_cast<double>(ps) / qs - x) < std::fabs(static_cast<double>(p1) / q1 - x)) {
        p1 = ps;
        q1 = qs;
      }
      break;
    }
    const i128 p2 = static_cast<i128>(a) * p1 + p0;
    p0 = p1;
    q0 = q1;
    p1 = static_cast<std::int64_t>(p2);
    q1 = static_cast<std::int64_t>(q2);
    const double frac = r - a_d;
    if (frac < 1e-18 || static_cast<double>(p1) / q1 == x) break;
    r = 1.0 / frac;
  }
  p = p1;
  q = q1;
}

Period Period::from_ns(std::int64_t period_ns) {
  if (period_ns < kMinPeriodNs)
    throw std::invalid_argument("period_ns must be >= 1000 (at most 1 MHz), got " + std::to_string(period_ns));
  if (period_ns > kMaxPeriodNs)
    throw std::invalid_argument("period_ns must be <= 1e15 (at least 1e-6 Hz), got " + std::to_string(period_ns));
  return Period{period_ns, 1};
}

Period Period::from_rate_fraction(std::int64_t rate_num, std::int64_t rate_den) {
  if (rate_num <= 0 || rate_den <= 0)
    throw std::invalid_argument("rate must be > 0, got " + std::to_string(rate_num) + "/" + std::to_string(rate_den));
  const i128 num = static_cast<i128>(1'000'000'000) * rate_den;
  // Reduce num/rate_num using 128-bit gcd.
  i128 a = num, b = rate_num;
  while (b != 0) {
    const i128 t = a % b;
    a = b;
    b = t;
  }
  const i128 n = num / a, d = static_cast<i128>(rate_num) / a;
  if (n > static_cast<i128>(INT64_MAX) || d > static_cast<i128>(INT64_MAX))
    throw std::invalid_argument("rate fraction too large");
  Period p{static_cast<std::int64_t>(n), static_cast<std::int64_t>(d)};
  check_period(p);
  return p;
}

Period Period::from_rate_hz(double rate_hz) {
  if (std::isnan(rate_hz)) throw std::invalid_argument("rate_hz is NaN");
  if (std::isinf(rate_hz)) throw std::invalid_argument("rate_hz is infinite");
  if (rate_hz <= 0) throw std::invalid_argument("rate_hz must be > 0, got " + std::to_string(rate_hz));
  if (rate_hz < kMinRateHz || rate_hz > kMaxRateHz)
    throw std::invalid_argument("rate_hz must be within [1e-6, 1e6], got " + std::to_string(rate_hz));
  std::int64_t p = 0, q = 0;
  best_fraction(rate_hz, kMaxRateDenominator, p, q);
  if (p <= 0 || q <= 0) throw std::invalid_argument("rate_hz has no usable fraction: " + std::to_string(rate_hz));
  return from_rate_fraction(p, q);
}

std::int64_t Period::rounded_ns() const {
  return static_cast<std::int64_t>((static_cast<i128>(num) * 2 + den) / (static_cast<i128>(den) * 2));
}

std::string Period::describe() const {
  if (den == 1) return std::to_string(num) + " ns";
  return std::to_string(num) + "/" + std::to_string(den) + " ns";
}

bool operator==(const Period& a, const Period& b) { return a.num == b.num && a.den == b.den; }

Grid::Grid(Period period, std::int64_t start_ns) : period_(reduced(period.num, period.den)), anchor_ns_(start_ns) {
  check_period(period_);
  if (start_ns < 0) throw std::invalid_argument("start_ns must be >= 0, got " + std::to_string(start_ns));
}

__int128 Grid::deadline_wide(std::uint64_t k) const {
  i128 steps = static_cast<i128>(k) - static_cast<i128>(anchor_k_);  // >= 0 in normal use
  // Beyond 2**62 steps every deadline is past INT64_MAX (periods are >= 1000
  // ns); the cap keeps steps * num (num < 2**63) inside 128 bits.
  constexpr i128 kStepCap = static_cast<i128>(1) << 62;
  if (steps > kStepCap) steps = kStepCap;
  return static_cast<i128>(anchor_ns_) + steps * period_.num / period_.den;
}

bool Grid::representable(std::uint64_t k) const {
  const i128 d = deadline_wide(k);
  return d >= 0 && d <= static_cast<i128>(INT64_MAX);
}

std::int64_t Grid::deadline(std::uint64_t k) const {
  const i128 d = deadline_wide(k);
  if (d > static_cast<i128>(INT64_MAX))
    throw std::overflow_error("timer deadline overflow: tick " + std::to_string(k) +
                              " would be due past 2**63-1 ns, the end of the int64 nanosecond clock (start_ns + k * "
                              "period is too large)");
  return static_cast<std::int64_t>(d);
}

std::uint64_t Grid::first_after(std::int64_t t, std::uint64_t from) const {
  if (deadline_wide(from) > t) return from;
  // Here anchor_ns <= deadline(from) <= t, so 0 <= rel < 2**64 and rel * den
  // (den < 2**63) fits in 128 bits; steps is exact up to one rounding step.
  const i128 rel = static_cast<i128>(t) - anchor_ns_;
  const i128 steps = rel * period_.den / period_.num;
  std::uint64_t k = anchor_k_ + static_cast<std::uint64_t>(steps < 0 ? 0 : steps);
  if (k < from) k = from;
  // Both loops run at most a couple of times: the estimate is off by < 1 step.
  while (k > from && deadline_wide(k - 1) > t) --k;
  while (deadline_wide(k) <= t) ++k;
  return k;
}

std::int64_t checked_ns(__int128 x, const char* what) {
  if (x < 0 || x > static_cast<i128>(INT64_MAX))
    throw std::overflow_error(std::string(what) + " is outside the int64 nanosecond clock [0, 2**63-1]");
  return static_cast<std::int64_t>(x);
}

std::int64_t one_period_after(std::int64_t now_ns, const Period& p) {
  return checked_ns(static_cast<i128>(now_ns) + p.rounded_ns(), "the default start (now + one period)");
}

void Grid::reanchor(std::uint64_t k, std::int64_t deadline_ns, Period period) {
  Period p = reduced(period.num, period.den);
  check_period(p);
  period_ = p;
  anchor_k_ = k;
  anchor_ns_ = deadline_ns;
}

}  // namespace si::rt
