// Config of a bandit: names of the algorithms and clocks, and the checks that
// the constructor and the loader share.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "frozen_model_rl/bandit.hpp"
#include "frozen_model_rl/policy.hpp"

namespace si::bandit {

const char* algo_name(Algo a) {
  return static_cast<std::uint32_t>(a) <= kMaxAlgo ? policy_type(a).name : "?";
}

const char* clock_name(Clock c) {
  switch (c) {
    case Clock::Round: return "round";
    case Clock::Update: return "update";
  }
  return "?";
}

Clock parse_clock(const std::string& name) {
  if (name == "round") return Clock::Round;
  if (name == "update") return Clock::Update;
  throw std::invalid_argument("unknown forgetting clock '" + name + "': use round or update");
}

double Config::arm_gamma() const { return std::pow(gamma, static_cast<double>(n_arms)); }

std::uint64_t Config::arm_window() const {
  const auto w = static_cast<std::uint64_t>(std::llround(static_cast<double>(window) / n_arms));
  return std::max<std::uint64_t>(w, 1);
}

Algo parse_algo(const std::string& name) {
  for (std::uint32_t i = 0; i <= kMaxAlgo; ++i)
    if (name == policy_type(static_cast<Algo>(i)).name) return static_cast<Algo>(i);
  throw std::invalid_argument("unknown bandit algorithm '" + name +
                              "': use linucb, hybrid_linucb, lints, epsilon_greedy, dlinucb or sw_linucb");
}

void Config::validate_clock() const {
  if (static_cast<std::uint32_t>(clock) > 1) throw std::invalid_argument("bandit: unknown forgetting clock");
  const bool forgets = algo == Algo::DLinUCB || algo == Algo::SWLinUCB;
  if (clock != Clock::Round && !forgets)
    throw std::invalid_argument("bandit: clock applies to dlinucb and sw_linucb only");
  if (!(idle_gamma > 0 && idle_gamma <= 1))
    throw std::invalid_argument("bandit: idle_gamma must be in (0, 1], got " + num(idle_gamma));
  if (idle_gamma != 1.0 && !(algo == Algo::DLinUCB && clock == Clock::Update))
    throw std::invalid_argument(
        "bandit: idle_gamma applies to dlinucb with clock='update' (with clock='round' gamma "
        "already decays every arm every round)");
  if (max_age != 0 && !(algo == Algo::SWLinUCB && clock == Clock::Update))
    throw std::invalid_argument(
        "bandit: max_age applies to sw_linucb with clock='update' (with clock='round' the "
        "window is already in rounds)");
}

void Config::validate() const {
  if (static_cast<std::uint32_t>(algo) > kMaxAlgo) throw std::invalid_argument("bandit: unknown algorithm");
  if (n_arms == 0) throw std::invalid_argument("bandit: the arm set is empty (n_arms must be >= 1)");
  if (n_arms > kMaxArms)
    throw std::invalid_argument("bandit: n_arms = " + std::to_string(n_arms) + " is above the cap of " +
                                std::to_string(kMaxArms));
  if (dim == 0) throw std::invalid_argument("bandit: dim must be >= 1");
  if (dim > kMaxDim)
    throw std::invalid_argument("bandit: dim = " + std::to_string(dim) + " is above the cap of " +
                                std::to_string(kMaxDim));
  if (static_cast<double>(n_arms) * dim * dim > 2e9)
    throw std::invalid_argument("bandit: n_arms * dim^2 too large");
  if (!(alpha >= 0 && alpha <= kMaxAlpha))
    throw std::invalid_argument("bandit: alpha must be in [0, " + lim(kMaxAlpha) + "], got " + num(alpha));
  if (!(lam >= kMinLam && lam <= kMaxLam))
    throw std::invalid_argument("bandit: lam (ridge regularisation) must be in [" + lim(kMinLam) + ", " +
                                lim(kMaxLam) + "], got " + num(lam));
  if (!(epsilon >= 0 && epsilon <= 1))
    throw std::invalid_argument("bandit: epsilon must be in [0, 1], got " + num(epsilon));
  if (!(gamma > 0 && gamma <= 1))
    throw std::invalid_argument("bandit: gamma (discount) must be in (0, 1], got " + num(gamma));
  if (window == 0) throw std::invalid_argument("bandit: window must be >= 1 round");
  validate_clock();
  if (simd_level < -1 || simd_level > 2) throw std::invalid_argument("bandit: bad simd_level");
  if (ts_propensity_draws > kMaxPropensityNodes)
    throw std::invalid_argument("bandit: ts_propensity_draws = " + std::to_string(ts_propensity_draws) +
                                " is above the cap of " + std::to_string(kMaxPropensityNodes));
  // The propensity integral evaluates n_arms normal CDFs per node and decision.
  if (algo == Algo::LinTS && static_cast<double>(ts_propensity_draws) * n_arms > kMaxPropensityWork)
    throw std::invalid_argument("bandit: ts_propensity_draws * n_arms = " +
                                std::to_string(std::uint64_t{ts_propensity_draws} * n_arms) +
                                " is above the cap of " + lim(kMaxPropensityWork) +
                                " (normal CDFs per decision); use fewer propensity points");
  if (max_pending == 0) throw std::invalid_argument("bandit: max_pending must be >= 1");
  if (has_default_reward && !(std::fabs(default_reward) <= kMaxReward))
    throw std::invalid_argument("bandit: default_reward must be finite with |default_reward| <= " +
                                lim(kMaxReward) + ", got " + num(default_reward));
  if (algo == Algo::HybridLinUCB) {
    if (arm_feature_dim == 0)
      throw std::invalid_argument("bandit: hybrid_linucb needs arm_features (n_arms x m, m >= 1)");
    if (arm_features.size() != static_cast<std::size_t>(n_arms) * arm_feature_dim)
      throw std::invalid_argument("bandit: arm_features must have n_arms x arm_feature_dim values");
    if (static_cast<std::size_t>(arm_feature_dim) * dim > 1024)
      throw std::invalid_argument("bandit: hybrid shared dimension arm_feature_dim * dim must be <= 1024");
    for (double v : arm_features)
      if (!std::isfinite(v)) throw std::invalid_argument("bandit: arm_features contain NaN or Inf");
    if (!(max_context_norm2() > 0))
      throw std::invalid_argument("bandit: arm_features are too large (squared norm above " +
                                  lim(kMaxContextNorm2) + ")");
  }
}

double Config::max_context_norm2() const {
  double limit = kMaxContextNorm2 * std::min(1.0, lam);
  if (algo != Algo::HybridLinUCB || arm_feature_dim == 0) return limit;
  // ||kron(f, x)||^2 = ||f||^2 ||x||^2: the context's share is limit / max ||f||^2.
  double f2 = 1.0;
  for (std::size_t a = 0; a < n_arms; ++a) {
    double s = 0.0;
    for (std::size_t j = 0; j < arm_feature_dim; ++j) {
      const double v = arm_features[a * arm_feature_dim + j];
      s += v * v;
    }
    f2 = std::max(f2, s);
  }
  return f2 > limit ? 0.0 : limit / f2;
}

}  // namespace si::bandit
