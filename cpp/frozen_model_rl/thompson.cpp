// Linear Thompson sampling (Agrawal & Goyal 2013), one posterior
// N(theta_a, v^2 A_a^-1) per arm; since arms are independent the sampled score
// x.theta~ ~ N(x.theta, v^2 x'A^-1x) is drawn directly. Propensity: P(arm wins)
// = int phi(z) prod_b Phi(...) dz by the trapezoid rule
// (ts_propensity_draws nodes; deterministic).
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "frozen_model_rl/ridge_policy.hpp"

namespace si::bandit {

namespace {

inline double norm_cdf(double x) { return 0.5 * std::erfc(-x * 0.7071067811865476); }

// P(arm a has the largest of independent N(mu_b, sd_b^2) draws):
// integral of phi(z) prod_{b != a} Phi((mu_a + sd_a z - mu_b) / sd_b) dz by the
// trapezoid rule on z in [-6, 6] with `points` nodes. NaN when points == 0.
double ts_propensity(const std::vector<double>& mu, const std::vector<double>& sd, std::uint32_t a,
                     std::uint32_t points) {
  const std::size_t K = mu.size();
  if (K == 1) return 1.0;
  if (points == 0) return std::numeric_limits<double>::quiet_NaN();
  auto beats = [&](double s, std::size_t b) {
    if (sd[b] > 0) return norm_cdf((s - mu[b]) / sd[b]);
    return s > mu[b] || (s == mu[b] && a < b) ? 1.0 : 0.0;
  };
  if (!(sd[a] > 0)) {
    double p = 1.0;
    for (std::size_t b = 0; b < K && p > 0; ++b)
      if (b != a) p *= beats(mu[a], b);
    return std::max(p, 1e-12);
  }
  const std::uint32_t n = std::max<std::uint32_t>(points, 3);
  const double lo = -6.0, h = 12.0 / (n - 1);
  double total = 0.0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const double z = lo + i * h;
    double w = h * 0.3989422804014327 * std::exp(-0.5 * z * z);
    if (i == 0 || i == n - 1) w *= 0.5;
    const double s = mu[a] + sd[a] * z;
    double prod = 1.0;
    for (std::size_t b = 0; b < K && prod > 1e-300; ++b)
      if (b != a) prod *= beats(s, b);
    total += w * prod;
  }
  return std::min(1.0, std::max(total, 1e-12));
}

class LinTS final : public RidgePolicy {
 public:
  using RidgePolicy::RidgePolicy;
  std::unique_ptr<Policy> clone() const override { return std::make_unique<LinTS>(*this); }
  bool imputes() const override { return config().pending_in_design; }

  Decision decide(const double* x, double* s, Xoshiro256ss& rng, std::uint64_t) override {
    const std::size_t K = config().n_arms, d = config().dim;
    const BanditKernels& k = kernels();
    std::vector<double> mu(K), sd(K);
    std::vector<double> u(d);
    for (std::size_t a = 0; a < K; ++a) {
      const auto& r = ridge_[a];
      k.symv(r.Ainv.data(), x, d, u.data());
      const double q = k.dot(x, u.data(), d);
      mu[a] = k.dot(r.theta.data(), x, d);
      sd[a] = config().alpha * std::sqrt(std::max(q, 0.0));
      s[a] = mu[a] + sd[a];
    }
    check_scores(s, K);  // before the draws: a refused context leaves the generator as it was
    for (std::size_t a = 0; a < K; ++a) s[a] = mu[a] + sd[a] * rng.normal();
    Decision dec;
    dec.arm = argmax_lowest(s, K);
    dec.score = s[dec.arm];
    dec.propensity = ts_propensity(mu, sd, dec.arm, config().ts_propensity_draws);
    return dec;
  }
};

}  // namespace

const PolicyType kLinTSType{Algo::LinTS, "lints", &make_policy<LinTS>, &RidgePolicy::ridge_state_bytes};

}  // namespace si::bandit
