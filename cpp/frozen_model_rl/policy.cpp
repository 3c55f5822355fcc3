#include "frozen_model_rl/policy.hpp"

#include <cmath>
#include <stdexcept>

#include "common/errors.hpp"

namespace si::bandit {

Policy::Policy(const Config& cfg, const BanditKernels& kern)
    : cfg_(cfg), kern_(&kern), max_norm2_(cfg.max_context_norm2()) {}

void Policy::check_context(const double* x, const char* what) const {
  double n2 = 0.0;
  for (std::size_t i = 0; i < cfg_.dim; ++i) {
    if (!std::isfinite(x[i]))
      throw std::invalid_argument(std::string(what) + " contains NaN or Inf at feature " + std::to_string(i));
    n2 += x[i] * x[i];
  }
  if (!(n2 <= max_norm2_))
    throw std::invalid_argument(std::string(what) + " is too large: its squared norm " + num(n2) +
                                " exceeds " + lim(max_norm2_) +
                                " (1e100 * min(1, lam), over the arm features' squared norm for "
                                "hybrid_linucb), beyond which the float64 state could overflow; "
                                "rescale the features");
}

Decision Policy::decide(const double* x, double* s, Xoshiro256ss&, std::uint64_t t) {
  scores(x, s, true, t);
  check_scores(s, cfg_.n_arms);
  Decision dec;
  dec.arm = argmax_lowest(s, cfg_.n_arms);
  dec.score = s[dec.arm];
  dec.propensity = 1.0;
  return dec;
}

// Only policies whose imputes() is true are asked to impute.
double Policy::impute(std::uint32_t, const double*) {
  throw std::logic_error("bandit: this algorithm does not impute pending rewards");
}
void Policy::correct(std::uint32_t, const double*, double) {
  throw std::logic_error("bandit: this algorithm does not impute pending rewards");
}
void Policy::retract(std::uint32_t, const double*, double) {
  throw std::logic_error("bandit: this algorithm does not impute pending rewards");
}

void check_scores(const double* s, std::size_t n_arms) {
  for (std::size_t a = 0; a < n_arms; ++a)
    if (!std::isfinite(s[a]))
      throw std::invalid_argument("bandit: the score of arm " + std::to_string(a) +
                                  " is not finite for this context (the policy's state is out of range)");
}

const PolicyType& policy_type(Algo algo) {
  // In Algo's order (the saved code of each algorithm).
  static const PolicyType* const kTypes[] = {&kLinUCBType, &kHybridLinUCBType, &kLinTSType,
                                             &kEpsGreedyType, &kDLinUCBType, &kSWLinUCBType};
  const auto i = static_cast<std::size_t>(algo);
  if (i >= sizeof kTypes / sizeof kTypes[0]) throw std::invalid_argument("bandit: unknown algorithm");
  return *kTypes[i];
}

std::vector<double> read_doubles(ByteReader& r, std::size_t expect, const char* what) {
  const auto len = r.get<std::uint64_t>();
  if (expect != SIZE_MAX && len != expect)
    throw CorruptFile(std::string("bandit state: ") + what + " has " + std::to_string(len) +
                      " values, expected " + std::to_string(expect));
  std::vector<double> v;
  r.array(v, len);
  for (double x : v)
    if (!std::isfinite(x)) throw CorruptFile(std::string("bandit state: ") + what + " is not finite");
  return v;
}

void check_stored_context(const Policy& p, const std::vector<double>& x, const char* what) {
  try {
    p.check_context(x.data(), "bandit state: a stored context");
  } catch (const std::invalid_argument& e) {
    throw CorruptFile(std::string(e.what()) + " (" + what + ")");
  }
}

}  // namespace si::bandit
