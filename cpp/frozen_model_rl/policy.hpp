// The interface every bandit algorithm implements (one class per algorithm,
// chosen once when a Bandit is built): per-arm scores, the round's decision,
// learning from a reward, inspection, and the algorithm's part of the saved
// state. The Bandit facade (bandit.hpp) owns time, the pending-decision table
// (pending.hpp), the random generator and the locking, and calls these.
//
// Files: ridge_policy.{hpp,cpp} (the per-arm ridge models shared by LinUCB,
// LinTS, epsilon-greedy, SW-LinUCB and the hybrid's disjoint part), linucb.cpp,
// thompson.cpp, eps_greedy.cpp, sw_linucb.cpp, hybrid_linucb.cpp, dlinucb.cpp;
// policy.cpp holds the table of algorithms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/byte_io.hpp"
#include "common/rng.hpp"
#include "frozen_model_rl/bandit.hpp"
#include "frozen_model_rl/bandit_kernels.hpp"

namespace si::bandit {

// A value in a message, exactly (%.17g).
inline std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A limit in a message (1e+50, not 1.0000000000000001e+50).
inline std::string lim(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Arm with the largest score; ties go to the lowest index.
inline std::uint32_t argmax_lowest(const double* s, std::size_t K) {
  std::uint32_t best = 0;
  for (std::size_t a = 1; a < K; ++a)
    if (s[a] > s[best]) best = static_cast<std::uint32_t>(a);
  return best;
}

// Defence against a state loaded from a forged file whose (finite) values are
// so large that a score overflows; states built through the API cannot get
// there (see kMaxContextNorm2).
void check_scores(const double* s, std::size_t n_arms);

class Policy {
 public:
  Policy(const Config& cfg, const BanditKernels& kern);
  virtual ~Policy() = default;
  virtual std::unique_ptr<Policy> clone() const = 0;

  const Config& config() const { return cfg_; }
  const BanditKernels& kernels() const { return *kern_; }
  // Exact re-inversions (or fresh eigen-decompositions) done so far.
  std::uint64_t reinversions() const { return reinversions_; }
  void set_reinversions(std::uint64_t n) { reinversions_ = n; }

  // Throws std::invalid_argument (naming `what`) unless x has dim finite values
  // inside the input domain (see kMaxContextNorm2).
  void check_context(const double* x, const char* what) const;

  // Back to the prior (every arm unobserved).
  virtual void reset() = 0;
  // Start of round t, before its scores (SW-LinUCB drops what left the window).
  virtual void begin_round(std::uint64_t /*t*/) {}
  // Deterministic per-arm scores at time t: with_width the UCB (for LinTS and
  // epsilon-greedy the posterior mean), else the posterior mean.
  virtual void scores(const double* x, double* out, bool with_width, std::uint64_t t) const = 0;
  virtual void means(const double* x, double* out, std::uint64_t t) const = 0;
  // The round's decision (arm, score, propensity; not the id). scratch has
  // n_arms entries. Default: the UCB argmax with propensity 1.
  virtual Decision decide(const double* x, double* scratch, Xoshiro256ss& rng, std::uint64_t t);
  // Adds the observation (arm, x, reward) at time t; decided_at is the round
  // of its decision (UINT64_MAX: a direct update_arm).
  virtual void learn(std::uint32_t arm, const double* x, double reward, std::uint64_t decided_at,
                     std::uint64_t t) = 0;

  // GP-BUCB imputation (Config::pending_in_design): a tracked decision enters
  // the model at selection with its predicted reward.
  virtual bool imputes() const { return false; }
  // Adds x to arm's model with its predicted reward; returns that reward.
  virtual double impute(std::uint32_t arm, const double* x);
  // The reward of an imputed decision arrived: b += (reward - imputed) x.
  virtual void correct(std::uint32_t arm, const double* x, double delta);
  // An imputed decision expired without a reward: take it back out.
  virtual void retract(std::uint32_t arm, const double* x, double imputed);

  // theta and A^-1 of an arm as used for scoring at time t.
  virtual std::vector<double> theta(std::uint32_t arm, std::uint64_t t) const = 0;
  virtual std::vector<double> a_inv(std::uint32_t arm, std::uint64_t t) const = 0;

  // The model part of the saved state (after the header, before the pending
  // table): per-arm models, the algorithm's shared part, the window entries.
  virtual void write(ByteWriter& w) const = 0;
  // Reads what write wrote; t is the state's current time. Throws CorruptFile.
  virtual void read(ByteReader& r, std::uint64_t t) = 0;

 protected:
  Policy(const Policy&) = default;
  std::uint64_t reinversions_ = 0;

 private:
  Config cfg_;
  const BanditKernels* kern_;
  double max_norm2_;  // cfg_.max_context_norm2(), cached
};

// One algorithm: its name, its factory, and the least payload its saved model
// needs (so that a forged header cannot make the loader allocate more than the
// file could hold).
struct PolicyType {
  Algo algo;
  const char* name;
  std::unique_ptr<Policy> (*make)(const Config& cfg, const BanditKernels& kern);
  double (*min_state_bytes)(const Config& cfg);
};

template <class P>
std::unique_ptr<Policy> make_policy(const Config& cfg, const BanditKernels& kern) {
  return std::make_unique<P>(cfg, kern);
}

// Throws std::invalid_argument for an algorithm outside the table.
const PolicyType& policy_type(Algo algo);

extern const PolicyType kLinUCBType, kHybridLinUCBType, kLinTSType, kEpsGreedyType, kDLinUCBType,
    kSWLinUCBType;

// Saved-state helpers shared by the policies and state_io.cpp.
// A length-prefixed float64 vector that must have `expect` values (SIZE_MAX:
// any) and be finite; `what` names it in the CorruptFile message.
std::vector<double> read_doubles(ByteReader& r, std::size_t expect, const char* what);
// A stored context (window entry, pending decision) that the API would refuse.
void check_stored_context(const Policy& p, const std::vector<double>& x, const char* what);

}  // namespace si::bandit
