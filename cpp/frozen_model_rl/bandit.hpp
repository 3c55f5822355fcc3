// Contextual bandit policies with float64 state, a pending-decision table for
// delayed rewards, and atomic checksummed save/load.
//
// Bandit is the facade the bindings use; the algorithm (a config field) is one
// class behind the Policy interface (policy.hpp), one file each:
//   LinUCB        disjoint ridge per arm (Li et al. 2010, alg. 1); A^-1 kept by
//                 Sherman-Morrison rank-1 updates and re-inverted exactly from A
//                 (Cholesky) every `reinvert_every` updates of an arm.
//   HybridLinUCB  Li et al. 2010, alg. 2: shared features z = kron(arm_features[a], x)
//                 with a shared coefficient vector beta, plus a disjoint part on x.
//   LinTS         linear Thompson sampling (Agrawal & Goyal 2013), one posterior
//                 N(theta_a, v^2 A_a^-1) per arm; since arms are independent the
//                 sampled score x.theta~ ~ N(x.theta, v^2 x'A^-1x) is drawn directly.
//                 Propensity: P(arm wins) = int phi(z) prod_b Phi(...) dz by the
//                 trapezoid rule (`ts_propensity_draws` nodes; deterministic).
//   EpsGreedy     ridge per arm, greedy with probability 1-epsilon, else uniform.
//   DLinUCB       Russac, Vernade & Cappe 2019 (alg. 1) per arm: every round,
//                 V <- gV + (1-g)lam I, Vt <- g^2 Vt + (1-g^2) lam I, b <- g b.
//                 Discounting is applied lazily from the last update of the arm
//                 via an eigen-decomposition of V (score O(d^2), update O(d^3):
//                 Jacobi warm-started in the previous eigenbasis, where the new V is
//                 diagonal plus rank one; a fresh decomposition every reinvert_every).
//   SWLinUCB      LinUCB over the observations of the last `window` rounds
//                 (rank-1 downdates when they leave the window).
// Forgetting clock of DLinUCB and SWLinUCB (Config::clock):
//   Round   the papers' clock: every arm forgets every round, so an arm that is
//           not played regains its prior uncertainty and is re-explored.
//   Update  each arm forgets on its own updates only: DLinUCB discounts an arm by
//           gamma^n_arms per update of that arm (an arm played in 1/n_arms of the
//           rounds forgets at the round clock's pace), SWLinUCB keeps each arm's
//           last round(window / n_arms) observations. Optional per-round forgetting
//           on top (DLinUCB idle_gamma, SWLinUCB max_age) bounds how stale an
//           arm that is no longer played can get.
// Ties are broken towards the lowest arm index. Randomness comes from a
// xoshiro256** generator seeded from `seed` (saved with the state), so runs
// reproduce across machines.
//
// Time: one round per decision (select). Decisions wait in a bounded pending
// table keyed by id until their reward arrives; a time-to-live (in rounds)
// expires them, applying `default_reward` if one is configured.
//
// Thread safety: every public method takes an internal mutex.
//
// Files: bandit.cpp (this facade: time, decisions, rewards, expiry), config.cpp,
// policy.{hpp,cpp} and one file per algorithm, pending.{hpp,cpp} (the
// pending-decision table), linalg.{hpp,cpp}, state_io.cpp (the saved format;
// bytes through common/byte_io.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/rng.hpp"
#include "frozen_model_rl/bandit_kernels.hpp"
#include "frozen_model_rl/pending.hpp"

namespace si::bandit {

enum class Algo : std::uint32_t {
  LinUCB = 0,
  HybridLinUCB = 1,
  LinTS = 2,
  EpsGreedy = 3,
  DLinUCB = 4,
  SWLinUCB = 5,
};
constexpr std::uint32_t kMaxAlgo = 5;

// What time forgetting counts in (DLinUCB, SWLinUCB); see the top of this file.
enum class Clock : std::uint32_t {
  Round = 0,
  Update = 1,
};

const char* algo_name(Algo a);
const char* clock_name(Clock c);
// Throws std::invalid_argument for an unknown name.
Clock parse_clock(const std::string& name);
// Throws std::invalid_argument for an unknown name.
Algo parse_algo(const std::string& name);

// Limits shared by the constructor and the loader (Config::validate).
constexpr std::uint32_t kMaxArms = 1000000;
constexpr std::uint32_t kMaxDim = 4096;
constexpr std::uint32_t kMaxPropensityNodes = 10000;  // trapezoid error is ~1e-3 at 48
constexpr double kMaxPropensityWork = 1e8;  // ts_propensity_draws * n_arms (~1 s per decision)
// The input domain that keeps every state value and score finite. With
// ||x||^2 <= X2 = kMaxContextNorm2 * min(1, lam) (x the context, or kron(arm
// features, x) for the hybrid shared part), |reward| <= R = kMaxReward, lam in
// [kMinLam, kMaxLam] and at most N = 2^64 observations per model: A <= lam +
// N X2 ~ 1.8e119 lam, ||A^-1|| <= 1/lam (A >= lam I), ||theta|| <= N R sqrt(X2)
// / lam <= 1.8e119 / sqrt(lam), |score| <= ||theta|| sqrt(X2) + alpha sqrt(X2 /
// lam) <= 1.8e169 + 1e150, b = A theta (also with imputed rewards) <= 3.2e288;
// all far below DBL_MAX ~ 1.8e308. Inputs outside the domain are refused
// before anything changes (a context of 1e155 used to give an inf score and
// then an unloadable saved file).
constexpr double kMaxContextNorm2 = 1e100;
constexpr double kMaxReward = 1e50;
constexpr double kMinLam = 1e-300;
constexpr double kMaxLam = 1e100;
constexpr double kMaxAlpha = 1e100;

struct Config {
  Algo algo = Algo::LinUCB;
  std::uint32_t n_arms = 0;
  std::uint32_t dim = 0;
  double alpha = 1.0;    // UCB width multiplier; for LinTS the posterior scale v
  double lam = 1.0;      // ridge regularisation (prior precision)
  double epsilon = 0.1;  // EpsGreedy
  double gamma = 0.99;   // DLinUCB discount, in (0, 1]
  std::uint64_t window = 1000;  // SWLinUCB, in rounds
  Clock clock = Clock::Round;   // DLinUCB, SWLinUCB: forget per round or per own update
  // DLinUCB with Clock::Update: per-round discount of every arm on top of the
  // per-update one (two-rate forgetting; 1: none).
  double idle_gamma = 1.0;
  // SWLinUCB with Clock::Update: observations older than this many rounds also
  // leave the window (0: none).
  std::uint64_t max_age = 0;
  std::uint64_t seed = 0;
  std::uint32_t reinvert_every = 64;  // exact re-inversion period (0: never)
  std::uint32_t ts_propensity_draws = 48;  // quadrature nodes of the TS propensity (0: NaN)
  // LinUCB / LinTS: a tracked decision enters the design matrix at selection
  // with its predicted reward (which leaves theta unchanged), and its reward
  // corrects b on arrival (GP-BUCB style). Exploration then shrinks while
  // rewards are delayed; once all rewards are in, the model is the same.
  bool pending_in_design = true;
  // SIMD level of the float64 kernels: -1 the active level, else a simd::Level
  // (BackendUnavailable if this CPU cannot run it). Not saved with the state.
  int simd_level = -1;
  // HybridLinUCB: n_arms x arm_feature_dim, row-major.
  std::uint32_t arm_feature_dim = 0;
  std::vector<double> arm_features;
  // Pending decisions.
  std::uint64_t max_pending = 100000;
  std::uint64_t ttl = 0;  // rounds; 0: no time-to-live
  bool has_default_reward = false;
  double default_reward = 0.0;

  // Throws std::invalid_argument naming the first bad field. The constructor
  // and the loader both call it, so a saved state obeys the same caps.
  void validate() const;
  // Largest squared norm a context may have (see kMaxContextNorm2), given the
  // arm features' largest squared norm for the hybrid shared part.
  double max_context_norm2() const;
  void validate_clock() const;
  // DLinUCB Clock::Update: an arm's discount per update of that arm (gamma^n_arms).
  double arm_gamma() const;
  // SWLinUCB Clock::Update: observations kept per arm (round(window / n_arms), >= 1).
  std::uint64_t arm_window() const;
};

struct Decision {
  std::uint64_t id = 0;
  std::uint32_t arm = 0;
  double score = 0.0;
  double propensity = 1.0;
};

struct Stats {
  std::uint64_t rounds = 0;       // decisions made
  std::uint64_t updates = 0;      // rewards applied (incl. default rewards)
  std::uint64_t pending = 0;      // decisions waiting for a reward
  std::uint64_t expired = 0;      // decisions whose time-to-live ran out
  std::uint64_t expired_default = 0;  // ... of which got the default reward
  std::uint64_t evicted = 0;      // dropped because the table was full
  std::uint64_t reinversions = 0; // exact re-inversions done
  std::uint64_t next_id = 0;
};

class Policy;

class Bandit {
 public:
  static constexpr const char* kFileKind = "si.bandit";
  // Version 2 added clock, idle_gamma and max_age; version 1 files still load
  // (as Clock::Round).
  static constexpr std::uint32_t kFormatVersion = 2;

  explicit Bandit(Config config);
  Bandit(const Bandit& other);             // deep copy (takes other's lock)
  Bandit& operator=(const Bandit& other);  // replaces this state (takes both locks)
  ~Bandit();

  const Config& config() const { return cfg_; }
  std::uint32_t n_arms() const { return cfg_.n_arms; }
  std::uint32_t dim() const { return cfg_.dim; }
  simd::Level kernel_level() const { return kern_->level; }

  // One decision; x has dim() finite values. track: keep it pending for a reward.
  Decision select(const double* x, bool track = true);
  // n decisions (each one round); outputs have n entries.
  void select_batch(const double* X, std::size_t n, bool track, std::uint64_t* ids,
                    std::uint32_t* arms, double* scores, double* propensities);
  // Deterministic per-arm scores (UCB for the UCB family, posterior mean for
  // LinTS and EpsGreedy); out has n_arms() entries. Does not advance time.
  void scores(const double* x, double* out) const;
  // Per-arm posterior means (theta_a . x) for x.
  void means(const double* x, double* out) const;

  // Reward for a pending decision. Throws si::UnknownId (never issued, or
  // expired/evicted), std::invalid_argument (already rewarded, bad reward).
  void update(std::uint64_t id, double reward);
  // Validates every (id, reward) first; applies none if one is bad.
  void update_batch(const std::uint64_t* ids, const double* rewards, std::size_t n);
  // Reward for (arm, x) directly, without a decision id.
  void update_arm(std::uint32_t arm, const double* x, double reward);
  void update_arm_batch(const std::uint32_t* arms, const double* X, const double* rewards,
                        std::size_t n);

  // Applies expiry now (normally done on every select).
  void expire();
  void reset();
  Stats stats() const;
  std::vector<std::uint64_t> pending_ids() const;

  // Model inspection (for tests): theta and A^-1 of an arm as used for scoring
  // at the current time.
  std::vector<double> theta(std::uint32_t arm) const;
  std::vector<double> a_inv(std::uint32_t arm) const;

  // The state's bytes (the payload of a saved file; see state_io.cpp).
  std::vector<unsigned char> serialize() const;
  // Throws si::CorruptFile on any inconsistency; `version` is the payload's
  // format version (1 .. kFormatVersion). The configuration is checked by
  // Config::validate and the payload's size against what it declares before
  // anything is allocated.
  static std::unique_ptr<Bandit> deserialize(const unsigned char* data, std::size_t n,
                                             std::uint32_t version = kFormatVersion);
  // Refuses (std::invalid_argument) to write a state that deserialize would
  // reject, so a good file is never replaced by an unloadable one.
  void save(const std::string& path) const;
  static std::unique_ptr<Bandit> load(const std::string& path);

 private:
  void copy_state_from(const Bandit& o);
  void reset_locked();
  // Time, ids, statistics, pending table and generator back to the start.
  void restart();
  void check_x(const double* x, const char* what) const;
  static void check_reward(double r);
  Decision select_locked(const double* x, bool track);
  // Adds an observation to the model (decided_at: its decision's round,
  // UINT64_MAX for update_arm).
  void apply(std::uint32_t arm, const double* x, double reward, std::uint64_t decided_at);
  void resolve(const Pending& p, double reward);
  void resolve_expired(const Pending& p, bool evicted);
  void expire_locked();

  Config cfg_;  // the policy's, kept here too for unlocked reads (n_arms, dim)
  const BanditKernels* kern_ = nullptr;
  std::unique_ptr<Policy> policy_;  // the algorithm and its model
  PendingTable pending_;
  std::uint64_t t_ = 0;
  std::uint64_t next_id_ = 0;
  Stats stats_;  // pending, reinversions and next_id are filled in by stats()
  Xoshiro256ss rng_;
  std::vector<double> scratch_;  // per-arm scores of select (guarded by mu_)

  mutable std::mutex mu_;
};

}  // namespace si::bandit
