// The Bandit facade: time (one round per decision), decision ids, the pending
// table's rewards and expiry, statistics and locking. What a score or an update
// means is the policy's (policy.hpp); the saved format is in state_io.cpp.
#include "frozen_model_rl/bandit.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_set>

#include "common/errors.hpp"
#include "frozen_model_rl/policy.hpp"

namespace si::bandit {

Bandit::Bandit(Config config) : cfg_(std::move(config)) {
  cfg_.validate();
  const auto& set = bandit_kernel_set();
  kern_ = cfg_.simd_level < 0 ? &set.active() : &set.at(static_cast<simd::Level>(cfg_.simd_level));
  if (cfg_.algo != Algo::HybridLinUCB) {
    cfg_.arm_feature_dim = 0;
    cfg_.arm_features.clear();
  }
  policy_ = policy_type(cfg_.algo).make(cfg_, *kern_);  // starts at the prior
  restart();
}

Bandit::~Bandit() = default;

Bandit::Bandit(const Bandit& o) {
  std::lock_guard<std::mutex> lk(o.mu_);
  copy_state_from(o);
}

Bandit& Bandit::operator=(const Bandit& o) {
  if (this == &o) return *this;
  std::scoped_lock lk(mu_, o.mu_);
  copy_state_from(o);
  return *this;
}

void Bandit::copy_state_from(const Bandit& o) {
  cfg_ = o.cfg_;
  kern_ = o.kern_;
  policy_ = o.policy_->clone();
  pending_ = o.pending_;
  t_ = o.t_;
  next_id_ = o.next_id_;
  stats_ = o.stats_;
  rng_ = o.rng_;
}

void Bandit::reset() {
  std::lock_guard<std::mutex> lk(mu_);
  reset_locked();
}

void Bandit::reset_locked() {
  policy_->reset();
  restart();
}

void Bandit::restart() {
  policy_->set_reinversions(0);
  t_ = 0;
  next_id_ = 0;
  stats_ = Stats{};
  pending_.clear();
  rng_.seed(cfg_.seed);
}

void Bandit::check_x(const double* x, const char* what) const { policy_->check_context(x, what); }

void Bandit::check_reward(double r) {
  if (!(std::fabs(r) <= kMaxReward))
    throw std::invalid_argument("bandit: reward must be finite with |reward| <= " + lim(kMaxReward) +
                                ", got " + num(r));
}

void Bandit::scores(const double* x, double* out) const {
  std::lock_guard<std::mutex> lk(mu_);
  check_x(x, "bandit: context x");
  policy_->scores(x, out, true, t_);
  check_scores(out, cfg_.n_arms);
}

void Bandit::means(const double* x, double* out) const {
  std::lock_guard<std::mutex> lk(mu_);
  check_x(x, "bandit: context x");
  policy_->means(x, out, t_);
  check_scores(out, cfg_.n_arms);
}

Decision Bandit::select_locked(const double* x, bool track) {
  const Config& c = cfg_;
  expire_locked();
  policy_->begin_round(t_);
  scratch_.resize(c.n_arms);
  Decision dec = policy_->decide(x, scratch_.data(), rng_, t_);
  dec.id = next_id_++;
  if (track) {
    if (pending_.size() >= c.max_pending) resolve_expired(pending_.take_oldest_expired(), /*evicted=*/true);
    Pending p;
    p.arm = dec.arm;
    p.time = t_;
    p.propensity = dec.propensity;
    p.x.assign(x, x + c.dim);
    if (policy_->imputes()) {
      p.imputed = policy_->impute(dec.arm, x);
      p.in_design = true;
    }
    pending_.add(dec.id, std::move(p));
  }
  ++t_;
  ++stats_.rounds;
  return dec;
}

Decision Bandit::select(const double* x, bool track) {
  std::lock_guard<std::mutex> lk(mu_);
  check_x(x, "bandit: context x");
  return select_locked(x, track);
}

void Bandit::select_batch(const double* X, std::size_t n, bool track, std::uint64_t* ids,
                          std::uint32_t* arms, double* scores, double* propensities) {
  std::lock_guard<std::mutex> lk(mu_);
  const std::size_t d = cfg_.dim;
  for (std::size_t i = 0; i < n; ++i) {
    try {
      check_x(X + i * d, "bandit: context");
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()) + " (row " + std::to_string(i) + ")");
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Decision dec = select_locked(X + i * d, track);
    ids[i] = dec.id;
    arms[i] = dec.arm;
    scores[i] = dec.score;
    propensities[i] = dec.propensity;
  }
}

void Bandit::apply(std::uint32_t arm, const double* x, double reward, std::uint64_t decided_at) {
  policy_->learn(arm, x, reward, decided_at, t_);
  ++stats_.updates;
}

// Applies the reward of a pending decision.
void Bandit::resolve(const Pending& p, double reward) {
  if (!p.in_design) {
    apply(p.arm, p.x.data(), reward, p.time);
    return;
  }
  // x is already in the model with the imputed reward: correct b only.
  policy_->correct(p.arm, p.x.data(), reward - p.imputed);
  ++stats_.updates;
}

void Bandit::resolve_expired(const Pending& p, bool evicted) {
  const Config& c = cfg_;
  if (c.has_default_reward) {
    resolve(p, c.default_reward);
    ++stats_.expired_default;
  } else if (p.in_design) {
    policy_->retract(p.arm, p.x.data(), p.imputed);  // take the decision back out
  }
  if (evicted)
    ++stats_.evicted;
  else
    ++stats_.expired;
}

void Bandit::expire_locked() {
  const std::uint64_t ttl = cfg_.ttl;
  if (ttl == 0) return;
  while (!pending_.empty() && t_ - pending_.oldest().time >= ttl)
    resolve_expired(pending_.take_oldest_expired(), /*evicted=*/false);
}

void Bandit::expire() {
  std::lock_guard<std::mutex> lk(mu_);
  expire_locked();
}

void Bandit::update(std::uint64_t id, double reward) {
  std::lock_guard<std::mutex> lk(mu_);
  check_reward(reward);
  pending_.require_pending(id, next_id_, cfg_.ttl);
  resolve(pending_.take_rewarded(id), reward);
}

void Bandit::update_batch(const std::uint64_t* ids, const double* rewards, std::size_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      check_reward(rewards[i]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()) + " (position " + std::to_string(i) + ")");
    }
    if (!seen.insert(ids[i]).second)
      throw std::invalid_argument("bandit: decision id " + std::to_string(ids[i]) +
                                  " appears twice in the batch");
    pending_.require_pending(ids[i], next_id_, cfg_.ttl);
  }
  for (std::size_t i = 0; i < n; ++i) resolve(pending_.take_rewarded(ids[i]), rewards[i]);
}

void Bandit::update_arm(std::uint32_t arm, const double* x, double reward) {
  std::lock_guard<std::mutex> lk(mu_);
  if (arm >= cfg_.n_arms)
    throw std::out_of_range("bandit: arm " + std::to_string(arm) + " out of range (n_arms = " +
                            std::to_string(cfg_.n_arms) + ")");
  check_x(x, "bandit: context x");
  check_reward(reward);
  apply(arm, x, reward, UINT64_MAX);
}

void Bandit::update_arm_batch(const std::uint32_t* arms, const double* X, const double* rewards,
                              std::size_t n) {
  std::lock_guard<std::mutex> lk(mu_);
  const std::size_t d = cfg_.dim;
  for (std::size_t i = 0; i < n; ++i) {
    if (arms[i] >= cfg_.n_arms)
      throw std::out_of_range("bandit: arm " + std::to_string(arms[i]) + " out of range (n_arms = " +
                              std::to_string(cfg_.n_arms) + ") at position " + std::to_string(i));
    try {
      check_x(X + i * d, "bandit: context");
      check_reward(rewards[i]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()) + " (row " + std::to_string(i) + ")");
    }
  }
  for (std::size_t i = 0; i < n; ++i) apply(arms[i], X + i * d, rewards[i], UINT64_MAX);
}

Stats Bandit::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  Stats s = stats_;
  s.pending = pending_.size();
  s.reinversions = policy_->reinversions();
  s.next_id = next_id_;
  return s;
}

std::vector<std::uint64_t> Bandit::pending_ids() const {
  std::lock_guard<std::mutex> lk(mu_);
  return pending_.ids();
}

std::vector<double> Bandit::theta(std::uint32_t arm) const {
  std::lock_guard<std::mutex> lk(mu_);
  if (arm >= cfg_.n_arms) throw std::out_of_range("bandit: arm out of range");
  return policy_->theta(arm, t_);
}

std::vector<double> Bandit::a_inv(std::uint32_t arm) const {
  std::lock_guard<std::mutex> lk(mu_);
  if (arm >= cfg_.n_arms) throw std::out_of_range("bandit: arm out of range");
  return policy_->a_inv(arm, t_);
}

}  // namespace si::bandit
