// LinUCB: disjoint ridge per arm (Li et al. 2010, alg. 1), the arm with the
// largest theta_a . x + alpha sqrt(x' A_a^-1 x).
#include <memory>

#include "frozen_model_rl/ridge_policy.hpp"

namespace si::bandit {

namespace {

class LinUCB final : public RidgePolicy {
 public:
  using RidgePolicy::RidgePolicy;
  std::unique_ptr<Policy> clone() const override { return std::make_unique<LinUCB>(*this); }

  void scores(const double* x, double* out, bool with_width, std::uint64_t t) const override {
    if (with_width)
      ucb_scores(x, out);
    else
      means(x, out, t);
  }
  bool imputes() const override { return config().pending_in_design; }
};

}  // namespace

const PolicyType kLinUCBType{Algo::LinUCB, "linucb", &make_policy<LinUCB>, &RidgePolicy::ridge_state_bytes};

}  // namespace si::bandit
