#include "frozen_model_rl/ridge_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/errors.hpp"
#include "frozen_model_rl/linalg.hpp"

namespace si::bandit {

namespace {

// A work vector of n doubles: on the stack up to 512 (select and update stay
// free of allocations), on the heap beyond.
class Scratch {
 public:
  explicit Scratch(std::size_t n) : p_(buf_) {
    if (n > kStack) {
      heap_.resize(n);
      p_ = heap_.data();
    }
  }
  Scratch(const Scratch&) = delete;  // p_ may point into this object
  Scratch& operator=(const Scratch&) = delete;
  double* data() { return p_; }

 private:
  static constexpr std::size_t kStack = 512;
  double buf_[kStack];
  std::vector<double> heap_;
  double* p_;
};

// Exact re-inversion of A; returns false (state kept) if A is not SPD.
bool ridge_exact(Ridge& r, std::size_t d) {
  std::vector<double> inv(d * d);
  if (!spd_inverse(r.A.data(), d, inv.data())) return false;
  r.Ainv.swap(inv);
  matvec(r.Ainv.data(), r.b.data(), d, r.theta.data());
  r.since_exact = 0;
  return true;
}
}  // namespace

void ridge_init(Ridge& r, std::size_t d, double lam) {
  r.A.assign(d * d, 0.0);
  r.Ainv.assign(d * d, 0.0);
  for (std::size_t i = 0; i < d; ++i) {
    r.A[i * d + i] = lam;
    r.Ainv[i * d + i] = 1.0 / lam;
  }
  r.b.assign(d, 0.0);
  r.theta.assign(d, 0.0);
  r.since_exact = 0;
}

int ridge_add(Ridge& r, const double* x, double reward, double w, std::size_t d,
              std::uint32_t reinvert_every, const BanditKernels& k) {
  Scratch scratch(d);
  double* u = scratch.data();
  k.symv(r.Ainv.data(), x, d, u);
  const double q = k.dot(x, u, d);
  const double denom = 1.0 + w * q;
  k.rank1(r.A.data(), x, w, d);
  for (std::size_t i = 0; i < d; ++i) r.b[i] += w * x[i] * reward;
  bool need_exact = !(denom > 1e-10) || !std::isfinite(denom);
  if (!need_exact) {
    k.rank1(r.Ainv.data(), u, -w / denom, d);
    k.symv(r.Ainv.data(), r.b.data(), d, r.theta.data());
    ++r.since_exact;
    if (reinvert_every && r.since_exact >= reinvert_every) need_exact = true;
  }
  if (need_exact && ridge_exact(r, d)) return 1;
  return 0;
}

RidgePolicy::RidgePolicy(const Config& cfg, const BanditKernels& kern) : Policy(cfg, kern) {
  RidgePolicy::reset();
}

void RidgePolicy::reset() {
  ridge_.assign(config().n_arms, Ridge{});
  for (auto& r : ridge_) ridge_init(r, config().dim, config().lam);
}

void RidgePolicy::scores(const double* x, double* out, bool, std::uint64_t t) const { means(x, out, t); }

void RidgePolicy::means(const double* x, double* out, std::uint64_t) const {
  const std::size_t d = config().dim;
  for (std::size_t a = 0; a < config().n_arms; ++a) out[a] = dot(ridge_[a].theta.data(), x, d);
}

void RidgePolicy::ucb_scores(const double* x, double* out) const {
  const std::size_t d = config().dim, K = config().n_arms;
  const double alpha = config().alpha;
  Scratch scratch(d);
  double* u = scratch.data();
  const BanditKernels& k = kernels();
  for (std::size_t a = 0; a < K; ++a) {
    const auto& r = ridge_[a];
    k.symv(r.Ainv.data(), x, d, u);
    const double q = k.dot(x, u, d);
    out[a] = k.dot(r.theta.data(), x, d) + alpha * std::sqrt(std::max(q, 0.0));
  }
}

void RidgePolicy::add(std::uint32_t arm, const double* x, double reward, double w) {
  reinversions_ += ridge_add(ridge_[arm], x, reward, w, config().dim, config().reinvert_every, kernels());
}

void RidgePolicy::learn(std::uint32_t arm, const double* x, double reward, std::uint64_t, std::uint64_t) {
  add(arm, x, reward, 1.0);
}

double RidgePolicy::impute(std::uint32_t arm, const double* x) {
  const double predicted = dot(ridge_[arm].theta.data(), x, config().dim);
  add(arm, x, predicted, 1.0);
  return predicted;
}

void RidgePolicy::correct(std::uint32_t arm, const double* x, double delta) {
  auto& r = ridge_[arm];
  const std::size_t d = config().dim;
  for (std::size_t i = 0; i < d; ++i) r.b[i] += delta * x[i];
  kernels().symv(r.Ainv.data(), r.b.data(), d, r.theta.data());
}

void RidgePolicy::retract(std::uint32_t arm, const double* x, double imputed) { add(arm, x, imputed, -1.0); }

std::vector<double> RidgePolicy::theta(std::uint32_t arm, std::uint64_t) const { return ridge_[arm].theta; }

std::vector<double> RidgePolicy::a_inv(std::uint32_t arm, std::uint64_t) const { return ridge_[arm].Ainv; }

void RidgePolicy::write_ridges(ByteWriter& w) const {
  for (const auto& r : ridge_) {
    w.vec(r.A);
    w.vec(r.Ainv);
    w.vec(r.b);
    w.vec(r.theta);
    w.put<std::uint32_t>(r.since_exact);
  }
}

void RidgePolicy::read_ridges(ByteReader& rd) {
  const std::size_t d = config().dim;
  for (auto& r : ridge_) {
    r.A = read_doubles(rd, d * d, "A");
    r.Ainv = read_doubles(rd, d * d, "A_inv");
    r.b = read_doubles(rd, d, "b");
    r.theta = read_doubles(rd, d, "theta");
    r.since_exact = rd.get<std::uint32_t>();
  }
}

void RidgePolicy::read_no_window(ByteReader& r) {
  if (r.get<std::uint64_t>() != 0) throw CorruptFile("bandit state: bad window size");
}

void RidgePolicy::write(ByteWriter& w) const {
  write_ridges(w);
  w.put<std::uint64_t>(0);  // window entries
}

void RidgePolicy::read(ByteReader& r, std::uint64_t) {
  read_ridges(r);
  read_no_window(r);
}

double RidgePolicy::ridge_state_bytes(const Config& c) {
  const double d = c.dim, K = c.n_arms;
  const double per_vec = sizeof(std::uint64_t);  // each vector's length prefix
  return K * (8.0 * (2 * d * d + 2 * d) + 4 * per_vec);  // A, A^-1; b, theta
}

}  // namespace si::bandit
