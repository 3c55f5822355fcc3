// Epsilon-greedy: ridge per arm, the greedy arm with probability 1 - epsilon,
// else a uniformly drawn one.
#include <algorithm>
#include <cmath>
#include <memory>

#include "frozen_model_rl/ridge_policy.hpp"

namespace si::bandit {

namespace {

class EpsGreedy final : public RidgePolicy {
 public:
  using RidgePolicy::RidgePolicy;
  std::unique_ptr<Policy> clone() const override { return std::make_unique<EpsGreedy>(*this); }

  Decision decide(const double* x, double* s, Xoshiro256ss& rng, std::uint64_t t) override {
    const std::size_t K = config().n_arms;
    means(x, s, t);
    check_scores(s, K);
    const std::uint32_t greedy = argmax_lowest(s, K);
    const double eps = config().epsilon;
    Decision dec;
    if (eps > 0 && rng.uniform() < eps) {
      dec.arm = static_cast<std::uint32_t>(std::min<double>(K - 1, std::floor(rng.uniform() * K)));
    } else {
      dec.arm = greedy;
    }
    dec.score = s[dec.arm];
    dec.propensity = eps / K + (dec.arm == greedy ? 1.0 - eps : 0.0);
    return dec;
  }
};

}  // namespace

const PolicyType kEpsGreedyType{Algo::EpsGreedy, "epsilon_greedy", &make_policy<EpsGreedy>, &RidgePolicy::ridge_state_bytes};

}  // namespace si::bandit
