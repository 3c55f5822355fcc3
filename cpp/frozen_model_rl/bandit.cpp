#include "frozen_model_rl/bandit.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"
#include "frozen_model_rl/bandit_kernels.hpp"

namespace si::bandit {

namespace {

constexpr std::size_t kRecentIds = 65536;  // remembered rewarded / expired ids

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Paths that do not go through the dispatched table (means, hybrid and
// Thompson terms) use the scalar table's kernel.
inline double dot(const double* a, const double* b, std::size_t n) {
  return detail::kBanditKernelsScalar.dot(a, b, n);
}

// y = M x, M n x n row-major.
inline void matvec(const double* M, const double* x, std::size_t n, double* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = dot(M + i * n, x, n);
}

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// A limit in a message (1e+50, not 1.0000000000000001e+50).
std::string lim(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

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

// Exact re-inversion of A; returns false (state kept) if A is not SPD.
bool ridge_exact(Ridge& r, std::size_t d) {
  std::vector<double> inv(d * d);
  if (!spd_inverse(r.A.data(), d, inv.data())) return false;
  r.Ainv.swap(inv);
  matvec(r.Ainv.data(), r.b.data(), d, r.theta.data());
  r.since_exact = 0;
  return true;
}

// A += w x x', b += w r x, A^-1 by Sherman-Morrison (w = +1 add, -1 remove).
// Returns the number of exact re-inversions done (0 or 1).
int ridge_add(Ridge& r, const double* x, double reward, double w, std::size_t d,
              std::uint32_t reinvert_every, const BanditKernels& k) {
  double ubuf[512];
  std::vector<double> uheap;
  double* u = ubuf;
  if (d > 512) {
    uheap.resize(d);
    u = uheap.data();
  }
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

// ---- serialisation helpers
class Writer {
 public:
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    out.append(p, sizeof(T));
  }
  void vec(const std::vector<double>& v) {
    put<std::uint64_t>(v.size());
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  }
  std::string out;
};

class Reader {
 public:
  Reader(const unsigned char* p, std::size_t n) : p_(p), n_(n) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::vector<double> vec(std::size_t expect, const char* what) {
    const auto len = get<std::uint64_t>();
    if (expect != SIZE_MAX && len != expect)
      throw CorruptFile(std::string("bandit state: ") + what + " has " + std::to_string(len) +
                        " values, expected " + std::to_string(expect));
    if (len > (n_ - pos_) / sizeof(double)) need(SIZE_MAX);
    std::vector<double> v(len);
    std::memcpy(v.data(), p_ + pos_, len * sizeof(double));
    pos_ += len * sizeof(double);
    for (double x : v)
      if (!std::isfinite(x)) throw CorruptFile(std::string("bandit state: ") + what + " is not finite");
    return v;
  }
  bool done() const { return pos_ == n_; }
  std::size_t remaining() const { return n_ - pos_; }

 private:
  void need(std::size_t k) {
    if (k > n_ - pos_) throw CorruptFile("bandit state: truncated payload");
  }
  const unsigned char* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

}  // namespace

// ------------------------------------------------------------------ linear algebra
bool spd_inverse(const double* A, std::size_t n, double* out) {
  std::vector<double> L(n * n, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    double s = A[j * n + j];
    for (std::size_t k = 0; k < j; ++k) s -= L[j * n + k] * L[j * n + k];
    if (!(s > 0.0) || !std::isfinite(s)) return false;
    const double ljj = std::sqrt(s);
    L[j * n + j] = ljj;
    for (std::size_t i = j + 1; i < n; ++i) {
      double t = A[i * n + j];
      for (std::size_t k = 0; k < j; ++k) t -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = t / ljj;
    }
  }
  // Linv (lower triangular).
  std::vector<double> Li(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    Li[i * n + i] = 1.0 / L[i * n + i];
    for (std::size_t j = 0; j < i; ++j) {
      double s = 0.0;
      for (std::size_t k = j; k < i; ++k) s -= L[i * n + k] * Li[k * n + j];
      Li[i * n + j] = s / L[i * n + i];
    }
  }
  // A^-1 = Linv' Linv.
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) {
      double s = 0.0;
      for (std::size_t k = i; k < n; ++k) s += Li[k * n + i] * Li[k * n + j];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  return true;
}

void sym_eigen(const double* A, std::size_t n, double* Q, double* w) {
  // Cyclic Jacobi with the threshold strategy: a rotation is skipped when its
  // off-diagonal element is negligible against both diagonal entries; stops
  // when the off-diagonal mass is below 1e-26 of the total (relative 1e-13).
  std::vector<double> a(A, A + n * n);
  for (std::size_t i = 0; i < n * n; ++i) Q[i] = 0.0;
  for (std::size_t i = 0; i < n; ++i) Q[i * n + i] = 1.0;
  double norm = 0.0;
  for (double v : a) norm += v * v;
  for (int sweep = 0; sweep < 60; ++sweep) {
    double off = 0.0;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-26 * norm || off == 0.0) break;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        const double app = a[p * n + p], aqq = a[q * n + q];
        if (std::fabs(apq) <= 1e-15 * std::sqrt(std::fabs(app * aqq)) || apq == 0.0) continue;
        const double theta = (aqq - app) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0);
        const double s = t * c;
        double* rp = a.data() + p * n;
        double* rq = a.data() + q * n;
        for (std::size_t k = 0; k < n; ++k) {  // rows p and q
          const double apk = rp[k], aqk = rq[k];
          rp[k] = c * apk - s * aqk;
          rq[k] = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {  // columns p and q (symmetric)
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        a[p * n + q] = a[q * n + p] = 0.0;
        for (std::size_t k = 0; k < n; ++k) {
          const double qkp = Q[k * n + p], qkq = Q[k * n + q];
          Q[k * n + p] = c * qkp - s * qkq;
          Q[k * n + q] = s * qkp + c * qkq;
        }
      }
  }
  for (std::size_t i = 0; i < n; ++i) w[i] = a[i * n + i];
}

// ------------------------------------------------------------------ config
const char* algo_name(Algo a) {
  switch (a) {
    case Algo::LinUCB: return "linucb";
    case Algo::HybridLinUCB: return "hybrid_linucb";
    case Algo::LinTS: return "lints";
    case Algo::EpsGreedy: return "epsilon_greedy";
    case Algo::DLinUCB: return "dlinucb";
    case Algo::SWLinUCB: return "sw_linucb";
  }
  return "?";
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
  for (std::uint32_t i = 0; i <= 5; ++i)
    if (name == algo_name(static_cast<Algo>(i))) return static_cast<Algo>(i);
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
  if (static_cast<std::uint32_t>(algo) > 5) throw std::invalid_argument("bandit: unknown algorithm");
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

// ------------------------------------------------------------------ Bandit
Bandit::Bandit(Config config) : cfg_(std::move(config)) {
  cfg_.validate();
  kern_ = cfg_.simd_level < 0 ? &bandit_kernel_set().active()
                              : &bandit_kernel_set().at(static_cast<simd::Level>(cfg_.simd_level));
  if (cfg_.algo != Algo::HybridLinUCB) {
    cfg_.arm_feature_dim = 0;
    cfg_.arm_features.clear();
  }
  max_norm2_ = cfg_.max_context_norm2();
  reset_locked();
}

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
  max_norm2_ = o.max_norm2_;
  t_ = o.t_;
  next_id_ = o.next_id_;
  stats_ = o.stats_;
  std::copy(o.rng_, o.rng_ + 4, rng_);
  ridge_ = o.ridge_;
  disc_ = o.disc_;
  k_ = o.k_;
  A0_ = o.A0_;
  A0inv_ = o.A0inv_;
  b0_ = o.b0_;
  beta_ = o.beta_;
  B_ = o.B_;
  window_ = o.window_;
  arm_window_ = o.arm_window_;
  pending_ = o.pending_;
  rewarded_q_ = o.rewarded_q_;
  expired_q_ = o.expired_q_;
  rewarded_s_ = o.rewarded_s_;
  expired_s_ = o.expired_s_;
}

void Bandit::init_models() {
  const std::size_t d = cfg_.dim, K = cfg_.n_arms;
  ridge_.clear();
  disc_.clear();
  B_.clear();
  A0_.clear();
  A0inv_.clear();
  b0_.clear();
  beta_.clear();
  window_.clear();
  arm_window_.clear();
  if (cfg_.algo == Algo::SWLinUCB && cfg_.clock == Clock::Update) arm_window_.resize(K);
  k_ = 0;
  if (cfg_.algo == Algo::DLinUCB) {
    disc_.resize(K);
    for (auto& m : disc_) {
      m.V.assign(d * d, 0.0);
      m.Q.assign(d * d, 0.0);
      for (std::size_t i = 0; i < d; ++i) m.V[i * d + i] = m.Q[i * d + i] = 1.0;
      for (double& v : m.V) v *= cfg_.lam;
      m.Vt = m.V;
      m.M = m.V;
      m.evals.assign(d, cfg_.lam);
      m.b.assign(d, 0.0);
      m.Qb.assign(d, 0.0);
      m.t_last = 0;
    }
    return;
  }
  ridge_.resize(K);
  for (auto& r : ridge_) ridge_init(r, d, cfg_.lam);
  if (cfg_.algo == Algo::HybridLinUCB) {
    k_ = cfg_.arm_feature_dim * cfg_.dim;
    A0_.assign(std::size_t{k_} * k_, 0.0);
    A0inv_.assign(std::size_t{k_} * k_, 0.0);
    for (std::size_t i = 0; i < k_; ++i) {
      A0_[i * k_ + i] = cfg_.lam;
      A0inv_[i * k_ + i] = 1.0 / cfg_.lam;
    }
    b0_.assign(k_, 0.0);
    beta_.assign(k_, 0.0);
    B_.assign(K, std::vector<double>(d * k_, 0.0));
  }
}

void Bandit::reset() {
  std::lock_guard<std::mutex> lk(mu_);
  reset_locked();
}

void Bandit::reset_locked() {
  init_models();
  t_ = 0;
  next_id_ = 0;
  stats_ = Stats{};
  pending_.clear();
  rewarded_q_.clear();
  expired_q_.clear();
  rewarded_s_.clear();
  expired_s_.clear();
  std::uint64_t sm = cfg_.seed;
  for (auto& s : rng_) s = splitmix64(sm);
}

double Bandit::uniform() {
  std::uint64_t* s = rng_;
  const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return static_cast<double>(result >> 11) * 0x1.0p-53;  // [0, 1)
}

double Bandit::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

double Bandit::idle_decay(const Discounted& m) const {
  const double per_round = cfg_.clock == Clock::Round ? cfg_.gamma : cfg_.idle_gamma;
  if (per_round == 1.0) return 1.0;
  return std::pow(per_round, static_cast<double>(t_ - m.t_last));
}

double Bandit::update_decay(const Discounted& m) const {
  const double idle = idle_decay(m);
  return cfg_.clock == Clock::Round ? idle : idle * cfg_.arm_gamma();
}

void Bandit::check_x(const double* x, const char* what) const {
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

void Bandit::check_reward(double r) {
  if (!(std::fabs(r) <= kMaxReward))
    throw std::invalid_argument("bandit: reward must be finite with |reward| <= " + lim(kMaxReward) +
                                ", got " + num(r));
}

// Defence against a state loaded from a forged file whose (finite) values are
// so large that a score overflows; states built through the API cannot get
// there (see kMaxContextNorm2).
void Bandit::check_scores(const double* s) const {
  for (std::size_t a = 0; a < cfg_.n_arms; ++a)
    if (!std::isfinite(s[a]))
      throw std::invalid_argument("bandit: the score of arm " + std::to_string(a) +
                                  " is not finite for this context (the policy's state is out of range)");
}

void Bandit::mean_locked(const double* x, double* out) const {
  const std::size_t d = cfg_.dim;
  if (cfg_.algo == Algo::DLinUCB) {
    std::vector<double> y(d);
    for (std::size_t a = 0; a < cfg_.n_arms; ++a) {
      const auto& m = disc_[a];
      const double g = idle_decay(m);
      const double c = (1.0 - g) * cfg_.lam;
      double mean = 0.0;
      for (std::size_t i = 0; i < d; ++i) {
        double yi = 0.0;
        for (std::size_t k = 0; k < d; ++k) yi += m.Q[k * d + i] * x[k];
        mean += yi * g * m.Qb[i] / (g * m.evals[i] + c);
      }
      out[a] = mean;
    }
    return;
  }
  if (cfg_.algo == Algo::HybridLinUCB) {
    score_locked(x, out, false);
    return;
  }
  for (std::size_t a = 0; a < cfg_.n_arms; ++a) out[a] = dot(ridge_[a].theta.data(), x, d);
}

void Bandit::score_locked(const double* x, double* out, bool with_width) const {
  const std::size_t d = cfg_.dim, K = cfg_.n_arms;
  const double alpha = cfg_.alpha;
  switch (cfg_.algo) {
    case Algo::LinUCB:
    case Algo::SWLinUCB:
    case Algo::LinTS:
    case Algo::EpsGreedy: {
      const bool ucb = with_width && (cfg_.algo == Algo::LinUCB || cfg_.algo == Algo::SWLinUCB);
      if (!ucb) {
        for (std::size_t a = 0; a < K; ++a) out[a] = dot(ridge_[a].theta.data(), x, d);
        return;
      }
      double ubuf[512];
      std::vector<double> uheap;
      double* u = ubuf;
      if (d > 512) {
        uheap.resize(d);
        u = uheap.data();
      }
      const BanditKernels& k = *kern_;
      for (std::size_t a = 0; a < K; ++a) {
        const auto& r = ridge_[a];
        k.symv(r.Ainv.data(), x, d, u);
        const double q = k.dot(x, u, d);
        out[a] = k.dot(r.theta.data(), x, d) + alpha * std::sqrt(std::max(q, 0.0));
      }
      return;
    }
    case Algo::DLinUCB: {
      std::vector<double> z(d);
      for (std::size_t a = 0; a < K; ++a) {
        const auto& m = disc_[a];
        const double g = idle_decay(m);
        const double c = (1.0 - g) * cfg_.lam;
        double mean = 0.0, zz = 0.0;
        for (std::size_t i = 0; i < d; ++i) {
          double yi = 0.0;
          for (std::size_t k = 0; k < d; ++k) yi += m.Q[k * d + i] * x[k];
          const double e = g * m.evals[i] + c;
          z[i] = yi / e;
          mean += z[i] * g * m.Qb[i];
          zz += z[i] * z[i];
        }
        if (!with_width) {
          out[a] = mean;
          continue;
        }
        double zMz = 0.0;
        for (std::size_t i = 0; i < d; ++i) zMz += z[i] * dot(m.M.data() + i * d, z.data(), d);
        const double w2 = g * g * zMz + (1.0 - g * g) * cfg_.lam * zz;
        out[a] = mean + alpha * std::sqrt(std::max(w2, 0.0));
      }
      return;
    }
    case Algo::HybridLinUCB: {
      const std::size_t m = cfg_.arm_feature_dim, k = k_;
      std::vector<double> u(d), v(k), z(k), w(k), Bb(d);
      for (std::size_t a = 0; a < K; ++a) {
        const auto& r = ridge_[a];
        const double* af = cfg_.arm_features.data() + a * m;
        for (std::size_t j = 0; j < m; ++j)
          for (std::size_t i = 0; i < d; ++i) z[j * d + i] = af[j] * x[i];
        matvec(r.Ainv.data(), x, d, u.data());
        const auto& B = B_[a];
        std::fill(v.begin(), v.end(), 0.0);
        for (std::size_t i = 0; i < d; ++i) {
          const double ui = u[i];
          const double* Bi = B.data() + i * k;
          for (std::size_t j = 0; j < k; ++j) v[j] += Bi[j] * ui;
        }
        // mean = z.beta + u.(b_a - B_a beta)
        double mean = dot(z.data(), beta_.data(), k);
        for (std::size_t i = 0; i < d; ++i) mean += u[i] * (r.b[i] - dot(B.data() + i * k, beta_.data(), k));
        if (!with_width) {
          out[a] = mean;
          continue;
        }
        for (std::size_t j = 0; j < k; ++j) w[j] = z[j] - v[j];
        double s = dot(x, u.data(), d);
        for (std::size_t j = 0; j < k; ++j) s += w[j] * dot(A0inv_.data() + j * k, w.data(), k);
        out[a] = mean + alpha * std::sqrt(std::max(s, 0.0));
      }
      return;
    }
  }
}

void Bandit::scores(const double* x, double* out) const {
  std::lock_guard<std::mutex> lk(mu_);
  check_x(x, "bandit: context x");
  score_locked(x, out, true);
  check_scores(out);
}

void Bandit::means(const double* x, double* out) const {
  std::lock_guard<std::mutex> lk(mu_);
  check_x(x, "bandit: context x");
  mean_locked(x, out);
  check_scores(out);
}

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

std::uint32_t argmax_lowest(const double* s, std::size_t K) {
  std::uint32_t best = 0;
  for (std::size_t a = 1; a < K; ++a)
    if (s[a] > s[best]) best = static_cast<std::uint32_t>(a);
  return best;
}
}  // namespace

Decision Bandit::select_locked(const double* x, bool track) {
  const std::size_t K = cfg_.n_arms, d = cfg_.dim;
  expire_locked();
  if (cfg_.algo == Algo::SWLinUCB) evict_window_locked();
  Decision dec;
  scratch_.resize(K);
  double* s = scratch_.data();
  switch (cfg_.algo) {
    case Algo::LinTS: {
      std::vector<double> mu(K), sd(K);
      std::vector<double> u(d);
      for (std::size_t a = 0; a < K; ++a) {
        const auto& r = ridge_[a];
        kern_->symv(r.Ainv.data(), x, d, u.data());
        const double q = kern_->dot(x, u.data(), d);
        mu[a] = kern_->dot(r.theta.data(), x, d);
        sd[a] = cfg_.alpha * std::sqrt(std::max(q, 0.0));
        s[a] = mu[a] + sd[a];
      }
      check_scores(s);  // before the draws: a refused context leaves the generator as it was
      for (std::size_t a = 0; a < K; ++a) s[a] = mu[a] + sd[a] * normal();
      dec.arm = argmax_lowest(s, K);
      dec.score = s[dec.arm];
      dec.propensity = ts_propensity(mu, sd, dec.arm, cfg_.ts_propensity_draws);
      break;
    }
    case Algo::EpsGreedy: {
      score_locked(x, s, false);
      check_scores(s);
      const std::uint32_t greedy = argmax_lowest(s, K);
      const double eps = cfg_.epsilon;
      if (eps > 0 && uniform() < eps) {
        dec.arm = static_cast<std::uint32_t>(std::min<double>(K - 1, std::floor(uniform() * K)));
      } else {
        dec.arm = greedy;
      }
      dec.score = s[dec.arm];
      dec.propensity = eps / K + (dec.arm == greedy ? 1.0 - eps : 0.0);
      break;
    }
    default: {
      score_locked(x, s, true);
      check_scores(s);
      dec.arm = argmax_lowest(s, K);
      dec.score = s[dec.arm];
      dec.propensity = 1.0;
    }
  }
  dec.id = next_id_++;
  if (track) {
    if (pending_.size() >= cfg_.max_pending) resolve_expired(pending_.begin(), /*evicted=*/true);
    Pending p;
    p.arm = dec.arm;
    p.time = t_;
    p.propensity = dec.propensity;
    p.x.assign(x, x + d);
    if (hallucinates()) {
      auto& r = ridge_[dec.arm];
      p.imputed = dot(r.theta.data(), x, d);
      p.in_design = true;
      stats_.reinversions += ridge_add(r, x, p.imputed, 1.0, d, cfg_.reinvert_every, *kern_);
    }
    pending_.emplace_hint(pending_.end(), dec.id, std::move(p));
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
  const std::size_t d = cfg_.dim;
  switch (cfg_.algo) {
    case Algo::LinUCB:
    case Algo::LinTS:
    case Algo::EpsGreedy:
      stats_.reinversions += ridge_add(ridge_[arm], x, reward, 1.0, d, cfg_.reinvert_every, *kern_);
      break;
    case Algo::SWLinUCB:
      stats_.reinversions += ridge_add(ridge_[arm], x, reward, 1.0, d, cfg_.reinvert_every, *kern_);
      push_window(arm, x, reward);
      evict_window_locked();
      break;
    case Algo::DLinUCB: {
      auto& m = disc_[arm];
      const double lam = cfg_.lam, gam = cfg_.gamma;
      const double g = update_decay(m);
      const double c1 = (1.0 - g) * lam, c2 = (1.0 - g * g) * lam;
      // Weight of an observation decided `age` rounds before the current time
      // (round clock); on the update clock an arm's time is its own updates, and
      // a late reward counts from its arrival.
      const std::uint64_t now = t_ == 0 ? 0 : t_ - 1;
      const double w = cfg_.clock == Clock::Update || decided_at == UINT64_MAX || decided_at >= now
                           ? 1.0
                           : std::pow(gam, static_cast<double>(now - decided_at));
      // Explicit statistics (kept for exact refreshes and saving).
      for (std::size_t i = 0; i < d * d; ++i) {
        m.V[i] *= g;
        m.Vt[i] *= g * g;
      }
      for (std::size_t i = 0; i < d; ++i) {
        m.V[i * d + i] += c1;
        m.Vt[i * d + i] += c2;
        m.b[i] *= g;
      }
      for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
          m.V[i * d + j] += w * x[i] * x[j];
          m.Vt[i * d + j] += w * w * x[i] * x[j];
        }
        m.b[i] += w * reward * x[i];
      }
      m.t_last = t_;
      std::vector<double> T(d * d, 0.0);
      ++m.since_exact;
      if (cfg_.reinvert_every && m.since_exact >= cfg_.reinvert_every) {
        // Fresh decomposition of the explicit V; M = Q' Vt Q.
        sym_eigen(m.V.data(), d, m.Q.data(), m.evals.data());
        for (std::size_t i = 0; i < d; ++i)
          for (std::size_t k = 0; k < d; ++k) {
            const double v = m.Vt[i * d + k];
            for (std::size_t j = 0; j < d; ++j) T[i * d + j] += v * m.Q[k * d + j];
          }
        std::fill(m.M.begin(), m.M.end(), 0.0);
        for (std::size_t k = 0; k < d; ++k)
          for (std::size_t i = 0; i < d; ++i) {
            const double q = m.Q[k * d + i];
            for (std::size_t j = 0; j < d; ++j) m.M[i * d + j] += q * T[k * d + j];
          }
        m.since_exact = 0;
        ++stats_.reinversions;
      } else {
        // Warm start in the old eigenbasis: Q'V_new Q = diag(g evals + c1) + w y y'
        // (y = Q'x) is diagonal plus rank one, so Jacobi converges in a few sweeps.
        std::vector<double> y(d), B(d * d), Q2(d * d), e2(d);
        for (std::size_t i = 0; i < d; ++i) {
          double s2 = 0.0;
          for (std::size_t k = 0; k < d; ++k) s2 += m.Q[k * d + i] * x[k];
          y[i] = s2;
        }
        for (std::size_t i = 0; i < d; ++i)
          for (std::size_t j = 0; j < d; ++j) B[i * d + j] = w * y[i] * y[j];
        for (std::size_t i = 0; i < d; ++i) B[i * d + i] += g * m.evals[i] + c1;
        sym_eigen(B.data(), d, Q2.data(), e2.data());
        // Q <- Q Q2
        std::fill(T.begin(), T.end(), 0.0);
        for (std::size_t i = 0; i < d; ++i)
          for (std::size_t k = 0; k < d; ++k) {
            const double q = m.Q[i * d + k];
            for (std::size_t j = 0; j < d; ++j) T[i * d + j] += q * Q2[k * d + j];
          }
        m.Q.swap(T);
        m.evals.swap(e2);
        // Old-basis Vt: g^2 M + c2 I + w^2 y y'; then M <- Q2' (that) Q2.
        for (std::size_t i = 0; i < d; ++i)
          for (std::size_t j = 0; j < d; ++j) B[i * d + j] = g * g * m.M[i * d + j] + w * w * y[i] * y[j];
        for (std::size_t i = 0; i < d; ++i) B[i * d + i] += c2;
        std::vector<double> BQ(d * d, 0.0);
        for (std::size_t i = 0; i < d; ++i)
          for (std::size_t k = 0; k < d; ++k) {
            const double v = B[i * d + k];
            for (std::size_t j = 0; j < d; ++j) BQ[i * d + j] += v * Q2[k * d + j];
          }
        std::fill(m.M.begin(), m.M.end(), 0.0);
        for (std::size_t k = 0; k < d; ++k)
          for (std::size_t i = 0; i < d; ++i) {
            const double q = Q2[k * d + i];
            for (std::size_t j = 0; j < d; ++j) m.M[i * d + j] += q * BQ[k * d + j];
          }
      }
      for (std::size_t i = 0; i < d; ++i) {
        double s2 = 0.0;
        for (std::size_t k = 0; k < d; ++k) s2 += m.Q[k * d + i] * m.b[k];
        m.Qb[i] = s2;
      }
      break;
    }
    case Algo::HybridLinUCB: {
      const std::size_t k = k_, mdim = cfg_.arm_feature_dim;
      auto& r = ridge_[arm];
      auto& B = B_[arm];
      std::vector<double> z(k);
      const double* af = cfg_.arm_features.data() + arm * mdim;
      for (std::size_t j = 0; j < mdim; ++j)
        for (std::size_t i = 0; i < d; ++i) z[j * d + i] = af[j] * x[i];
      // BtAB = B' Ainv B (k x k), BtAb = B' Ainv b (k).
      auto accumulate = [&](double sign) {
        std::vector<double> AiB(d * k, 0.0);  // Ainv B
        for (std::size_t i = 0; i < d; ++i)
          for (std::size_t l = 0; l < d; ++l) {
            const double v = r.Ainv[i * d + l];
            if (v == 0.0) continue;
            for (std::size_t j = 0; j < k; ++j) AiB[i * k + j] += v * B[l * k + j];
          }
        for (std::size_t i = 0; i < d; ++i) {
          const double* Bi = B.data() + i * k;
          const double* Ci = AiB.data() + i * k;
          for (std::size_t p = 0; p < k; ++p) {
            const double bp = sign * Bi[p];
            if (bp == 0.0) continue;
            double* Ap = A0_.data() + p * k;
            for (std::size_t q = 0; q < k; ++q) Ap[q] += bp * Ci[q];
          }
        }
        std::vector<double> Aib(d);
        matvec(r.Ainv.data(), r.b.data(), d, Aib.data());
        for (std::size_t i = 0; i < d; ++i) {
          const double* Bi = B.data() + i * k;
          for (std::size_t p = 0; p < k; ++p) b0_[p] += sign * Bi[p] * Aib[i];
        }
      };
      accumulate(+1.0);
      stats_.reinversions += ridge_add(r, x, reward, 1.0, d, cfg_.reinvert_every, *kern_);
      for (std::size_t i = 0; i < d; ++i)
        for (std::size_t j = 0; j < k; ++j) B[i * k + j] += x[i] * z[j];
      for (std::size_t p = 0; p < k; ++p) {
        for (std::size_t q = 0; q < k; ++q) A0_[p * k + q] += z[p] * z[q];
        b0_[p] += reward * z[p];
      }
      accumulate(-1.0);
      // Symmetrise against rounding, then invert exactly (k <= 1024).
      for (std::size_t p = 0; p < k; ++p)
        for (std::size_t q = p + 1; q < k; ++q) {
          const double v = 0.5 * (A0_[p * k + q] + A0_[q * k + p]);
          A0_[p * k + q] = A0_[q * k + p] = v;
        }
      if (spd_inverse(A0_.data(), k, A0inv_.data())) ++stats_.reinversions;
      matvec(A0inv_.data(), b0_.data(), k, beta_.data());
      break;
    }
  }
  ++stats_.updates;
}

bool Bandit::hallucinates() const {
  return cfg_.pending_in_design && (cfg_.algo == Algo::LinUCB || cfg_.algo == Algo::LinTS);
}

// Applies the reward of a pending decision.
void Bandit::resolve(const Pending& p, double reward) {
  if (!p.in_design) {
    apply(p.arm, p.x.data(), reward, p.time);
    return;
  }
  // x is already in A with the imputed reward: correct b only.
  auto& r = ridge_[p.arm];
  const std::size_t d = cfg_.dim;
  const double delta = reward - p.imputed;
  for (std::size_t i = 0; i < d; ++i) r.b[i] += delta * p.x[i];
  kern_->symv(r.Ainv.data(), r.b.data(), d, r.theta.data());
  ++stats_.updates;
}

void Bandit::push_window(std::uint32_t arm, const double* x, double reward) {
  WindowEntry e;
  e.time = t_;
  e.arm = arm;
  e.reward = reward;
  e.x.assign(x, x + cfg_.dim);
  (cfg_.clock == Clock::Round ? window_ : arm_window_[arm]).push_back(std::move(e));
}

// Takes the oldest observation of q out of its arm's model.
void Bandit::downdate_front(std::deque<WindowEntry>& q) {
  const auto& e = q.front();
  stats_.reinversions +=
      ridge_add(ridge_[e.arm], e.x.data(), e.reward, -1.0, cfg_.dim, cfg_.reinvert_every, *kern_);
  q.pop_front();
}

void Bandit::evict_window_locked() {
  if (cfg_.clock == Clock::Round) {
    while (!window_.empty() && t_ - window_.front().time >= cfg_.window) downdate_front(window_);
    return;
  }
  // Update clock: each arm keeps its last arm_window() observations, none older
  // than max_age rounds (if set).
  const std::uint64_t keep = cfg_.arm_window();
  for (auto& q : arm_window_) {
    while (q.size() > keep) downdate_front(q);
    while (cfg_.max_age && !q.empty() && t_ - q.front().time >= cfg_.max_age) downdate_front(q);
  }
}

void Bandit::remember(std::deque<std::uint64_t>& q, std::unordered_set<std::uint64_t>& s,
                      std::uint64_t id) {
  q.push_back(id);
  s.insert(id);
  while (q.size() > kRecentIds) {
    s.erase(q.front());
    q.pop_front();
  }
}

void Bandit::resolve_expired(std::map<std::uint64_t, Pending>::iterator it, bool evicted) {
  if (cfg_.has_default_reward) {
    resolve(it->second, cfg_.default_reward);
    ++stats_.expired_default;
  } else if (it->second.in_design) {
    // Take the decision back out of the design matrix.
    const auto& p = it->second;
    stats_.reinversions += ridge_add(ridge_[p.arm], p.x.data(), p.imputed, -1.0, cfg_.dim, cfg_.reinvert_every, *kern_);
  }
  if (evicted)
    ++stats_.evicted;
  else
    ++stats_.expired;
  remember(expired_q_, expired_s_, it->first);
  pending_.erase(it);
}

void Bandit::expire_locked() {
  if (cfg_.ttl == 0) return;
  while (!pending_.empty()) {
    auto it = pending_.begin();
    if (t_ - it->second.time < cfg_.ttl) break;
    resolve_expired(it, false);
  }
}

void Bandit::expire() {
  std::lock_guard<std::mutex> lk(mu_);
  expire_locked();
}

namespace {
[[noreturn]] void not_pending(std::uint64_t id, std::uint64_t next_id, bool rewarded, bool expired,
                              std::uint64_t ttl) {
  if (id >= next_id)
    throw UnknownId("bandit: decision id " + std::to_string(id) + " was never issued (next id is " +
                    std::to_string(next_id) + ")");
  if (rewarded)
    throw std::invalid_argument("bandit: decision id " + std::to_string(id) +
                                " already received its reward (duplicate update)");
  if (expired)
    throw UnknownId("bandit: decision id " + std::to_string(id) +
                    " expired (time-to-live " + std::to_string(ttl) +
                    " rounds, or evicted from a full pending table)");
  throw UnknownId("bandit: decision id " + std::to_string(id) +
                  " is not pending (rewarded or expired long ago, or decided with track=False)");
}
}  // namespace

void Bandit::update(std::uint64_t id, double reward) {
  std::lock_guard<std::mutex> lk(mu_);
  check_reward(reward);
  auto it = pending_.find(id);
  if (it == pending_.end())
    not_pending(id, next_id_, rewarded_s_.count(id) > 0, expired_s_.count(id) > 0, cfg_.ttl);
  resolve(it->second, reward);
  pending_.erase(it);
  remember(rewarded_q_, rewarded_s_, id);
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
    if (pending_.find(ids[i]) == pending_.end())
      not_pending(ids[i], next_id_, rewarded_s_.count(ids[i]) > 0, expired_s_.count(ids[i]) > 0,
                  cfg_.ttl);
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto it = pending_.find(ids[i]);
    resolve(it->second, rewards[i]);
    pending_.erase(it);
    remember(rewarded_q_, rewarded_s_, ids[i]);
  }
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
  s.next_id = next_id_;
  return s;
}

std::vector<std::uint64_t> Bandit::pending_ids() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::uint64_t> out;
  out.reserve(pending_.size());
  for (const auto& kv : pending_) out.push_back(kv.first);
  return out;
}

std::vector<double> Bandit::theta(std::uint32_t arm) const {
  std::lock_guard<std::mutex> lk(mu_);
  if (arm >= cfg_.n_arms) throw std::out_of_range("bandit: arm out of range");
  const std::size_t d = cfg_.dim;
  std::vector<double> th(d, 0.0);
  if (cfg_.algo == Algo::DLinUCB) {
    const auto& m = disc_[arm];
    const double g = idle_decay(m);
    const double c = (1.0 - g) * cfg_.lam;
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t k = 0; k < d; ++k) th[k] += m.Q[k * d + i] * g * m.Qb[i] / (g * m.evals[i] + c);
    return th;
  }
  if (cfg_.algo == Algo::HybridLinUCB) {
    // theta_a = Ainv (b - B beta)
    const auto& r = ridge_[arm];
    std::vector<double> c(d);
    for (std::size_t i = 0; i < d; ++i) c[i] = r.b[i] - dot(B_[arm].data() + i * k_, beta_.data(), k_);
    matvec(r.Ainv.data(), c.data(), d, th.data());
    return th;
  }
  return ridge_[arm].theta;
}

std::vector<double> Bandit::a_inv(std::uint32_t arm) const {
  std::lock_guard<std::mutex> lk(mu_);
  if (arm >= cfg_.n_arms) throw std::out_of_range("bandit: arm out of range");
  const std::size_t d = cfg_.dim;
  if (cfg_.algo == Algo::DLinUCB) {
    const auto& m = disc_[arm];
    const double g = idle_decay(m);
    const double c = (1.0 - g) * cfg_.lam;
    std::vector<double> out(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i)
      for (std::size_t j = 0; j < d; ++j) {
        double s = 0.0;
        for (std::size_t k = 0; k < d; ++k) s += m.Q[i * d + k] * m.Q[j * d + k] / (g * m.evals[k] + c);
        out[i * d + j] = s;
      }
    return out;
  }
  return ridge_[arm].Ainv;
}

// ------------------------------------------------------------------ persistence
std::string Bandit::serialize() const {
  std::lock_guard<std::mutex> lk(mu_);
  Writer w;
  w.put<std::uint32_t>(static_cast<std::uint32_t>(cfg_.algo));
  w.put<std::uint32_t>(cfg_.n_arms);
  w.put<std::uint32_t>(cfg_.dim);
  w.put<double>(cfg_.alpha);
  w.put<double>(cfg_.lam);
  w.put<double>(cfg_.epsilon);
  w.put<double>(cfg_.gamma);
  w.put<std::uint64_t>(cfg_.window);
  w.put<std::uint64_t>(cfg_.seed);
  w.put<std::uint32_t>(cfg_.reinvert_every);
  w.put<std::uint32_t>(cfg_.ts_propensity_draws);
  w.put<std::uint8_t>(cfg_.pending_in_design ? 1 : 0);
  w.put<std::uint32_t>(cfg_.arm_feature_dim);
  w.vec(cfg_.arm_features);
  w.put<std::uint64_t>(cfg_.max_pending);
  w.put<std::uint64_t>(cfg_.ttl);
  w.put<std::uint8_t>(cfg_.has_default_reward ? 1 : 0);
  w.put<double>(cfg_.default_reward);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(cfg_.clock));  // version 2
  w.put<double>(cfg_.idle_gamma);
  w.put<std::uint64_t>(cfg_.max_age);

  w.put<std::uint64_t>(t_);
  w.put<std::uint64_t>(next_id_);
  w.put<std::uint64_t>(stats_.rounds);
  w.put<std::uint64_t>(stats_.updates);
  w.put<std::uint64_t>(stats_.expired);
  w.put<std::uint64_t>(stats_.expired_default);
  w.put<std::uint64_t>(stats_.evicted);
  w.put<std::uint64_t>(stats_.reinversions);
  for (auto s : rng_) w.put<std::uint64_t>(s);

  for (const auto& r : ridge_) {
    w.vec(r.A);
    w.vec(r.Ainv);
    w.vec(r.b);
    w.vec(r.theta);
    w.put<std::uint32_t>(r.since_exact);
  }
  for (const auto& m : disc_) {
    w.vec(m.V);
    w.vec(m.Vt);
    w.vec(m.b);
    w.vec(m.Q);
    w.vec(m.evals);
    w.vec(m.Qb);
    w.vec(m.M);
    w.put<std::uint64_t>(m.t_last);
    w.put<std::uint32_t>(m.since_exact);
  }
  if (cfg_.algo == Algo::HybridLinUCB) {
    w.vec(A0_);
    w.vec(A0inv_);
    w.vec(b0_);
    w.vec(beta_);
    for (const auto& B : B_) w.vec(B);
  }
  // Window entries: the round clock's one queue, or the update clock's per-arm
  // queues one after the other (each oldest first).
  std::vector<const std::deque<WindowEntry>*> queues;
  if (cfg_.clock == Clock::Round) queues.push_back(&window_);
  for (const auto& q : arm_window_) queues.push_back(&q);
  std::uint64_t n_window = 0;
  for (const auto* q : queues) n_window += q->size();
  w.put<std::uint64_t>(n_window);
  for (const auto* q : queues)
    for (const auto& e : *q) {
      w.put<std::uint64_t>(e.time);
      w.put<std::uint32_t>(e.arm);
      w.put<double>(e.reward);
      w.vec(e.x);
    }
  w.put<std::uint64_t>(pending_.size());
  for (const auto& kv : pending_) {
    w.put<std::uint64_t>(kv.first);
    w.put<std::uint32_t>(kv.second.arm);
    w.put<std::uint64_t>(kv.second.time);
    w.put<double>(kv.second.propensity);
    w.put<std::uint8_t>(kv.second.in_design ? 1 : 0);
    w.put<double>(kv.second.imputed);
    w.vec(kv.second.x);
  }
  w.put<std::uint64_t>(rewarded_q_.size());
  for (auto id : rewarded_q_) w.put<std::uint64_t>(id);
  w.put<std::uint64_t>(expired_q_.size());
  for (auto id : expired_q_) w.put<std::uint64_t>(id);
  return std::move(w.out);
}

namespace {
// A forged header must not make the loader allocate more than the payload
// could hold: every arm stores its matrices (d x d doubles each) in the file.
void check_payload_holds_models(const Config& c, std::size_t remaining) {
  const double d = c.dim, K = c.n_arms;
  const double per_vec = sizeof(std::uint64_t);  // each vector's length prefix
  double need;
  if (c.algo == Algo::DLinUCB) {
    need = K * (8.0 * (4 * d * d + 3 * d) + 7 * per_vec);  // V, Vt, Q, M; b, evals, Qb
  } else {
    need = K * (8.0 * (2 * d * d + 2 * d) + 4 * per_vec);  // A, A^-1; b, theta
    if (c.algo == Algo::HybridLinUCB) {
      const double k = static_cast<double>(c.arm_feature_dim) * d;
      need += 8.0 * (2 * k * k + 2 * k + K * d * k);
    }
  }
  if (need > static_cast<double>(remaining))
    throw CorruptFile("bandit state: the configuration (n_arms = " + std::to_string(c.n_arms) +
                      ", dim = " + std::to_string(c.dim) + ") needs at least " + num(need) +
                      " bytes of model state, the payload has " + std::to_string(remaining));
}
}  // namespace

void Bandit::check_stored_x(const std::vector<double>& x, const char* what) const {
  try {
    check_x(x.data(), "bandit state: a stored context");
  } catch (const std::invalid_argument& e) {
    throw CorruptFile(std::string(e.what()) + " (" + what + ")");
  }
}

std::unique_ptr<Bandit> Bandit::deserialize(const unsigned char* data, std::size_t n,
                                            std::uint32_t version) {
  if (version < 1 || version > kFormatVersion)
    throw UnsupportedVersion("bandit state: format version " + std::to_string(version) +
                             " (this build reads 1 to " + std::to_string(kFormatVersion) + ")");
  Reader rd(data, n);
  Config c;
  c.algo = static_cast<Algo>(rd.get<std::uint32_t>());
  c.n_arms = rd.get<std::uint32_t>();
  c.dim = rd.get<std::uint32_t>();
  c.alpha = rd.get<double>();
  c.lam = rd.get<double>();
  c.epsilon = rd.get<double>();
  c.gamma = rd.get<double>();
  c.window = rd.get<std::uint64_t>();
  c.seed = rd.get<std::uint64_t>();
  c.reinvert_every = rd.get<std::uint32_t>();
  c.ts_propensity_draws = rd.get<std::uint32_t>();
  c.pending_in_design = rd.get<std::uint8_t>() != 0;
  c.arm_feature_dim = rd.get<std::uint32_t>();
  c.arm_features = rd.vec(SIZE_MAX, "arm_features");
  c.max_pending = rd.get<std::uint64_t>();
  c.ttl = rd.get<std::uint64_t>();
  c.has_default_reward = rd.get<std::uint8_t>() != 0;
  c.default_reward = rd.get<double>();
  if (version >= 2) {  // version 1 had only the round clock
    c.clock = static_cast<Clock>(rd.get<std::uint32_t>());
    c.idle_gamma = rd.get<double>();
    c.max_age = rd.get<std::uint64_t>();
  }
  try {
    c.validate();  // the constructor's caps, before anything is allocated
  } catch (const std::invalid_argument& e) {
    throw CorruptFile(std::string("bandit state: invalid configuration: ") + e.what());
  }
  check_payload_holds_models(c, rd.remaining());
  std::unique_ptr<Bandit> b = std::make_unique<Bandit>(c);
  const std::size_t d = c.dim, K = c.n_arms;
  b->t_ = rd.get<std::uint64_t>();
  b->next_id_ = rd.get<std::uint64_t>();
  b->stats_.rounds = rd.get<std::uint64_t>();
  b->stats_.updates = rd.get<std::uint64_t>();
  b->stats_.expired = rd.get<std::uint64_t>();
  b->stats_.expired_default = rd.get<std::uint64_t>();
  b->stats_.evicted = rd.get<std::uint64_t>();
  b->stats_.reinversions = rd.get<std::uint64_t>();
  for (auto& s : b->rng_) s = rd.get<std::uint64_t>();
  for (auto& r : b->ridge_) {
    r.A = rd.vec(d * d, "A");
    r.Ainv = rd.vec(d * d, "A_inv");
    r.b = rd.vec(d, "b");
    r.theta = rd.vec(d, "theta");
    r.since_exact = rd.get<std::uint32_t>();
  }
  for (auto& m : b->disc_) {
    m.V = rd.vec(d * d, "V");
    m.Vt = rd.vec(d * d, "V_tilde");
    m.b = rd.vec(d, "b");
    m.Q = rd.vec(d * d, "Q");
    m.evals = rd.vec(d, "eigenvalues");
    m.Qb = rd.vec(d, "Qb");
    m.M = rd.vec(d * d, "M");
    m.t_last = rd.get<std::uint64_t>();
    m.since_exact = rd.get<std::uint32_t>();
    if (m.t_last > b->t_) throw CorruptFile("bandit state: arm time after current time");
  }
  if (c.algo == Algo::HybridLinUCB) {
    const std::size_t k = b->k_;
    b->A0_ = rd.vec(k * k, "A0");
    b->A0inv_ = rd.vec(k * k, "A0_inv");
    b->b0_ = rd.vec(k, "b0");
    b->beta_ = rd.vec(k, "beta");
    for (auto& B : b->B_) B = rd.vec(d * k, "B");
  }
  const auto nw = rd.get<std::uint64_t>();
  if (nw > n || (nw && c.algo != Algo::SWLinUCB)) throw CorruptFile("bandit state: bad window size");
  for (std::uint64_t i = 0; i < nw; ++i) {
    WindowEntry e;
    e.time = rd.get<std::uint64_t>();
    e.arm = rd.get<std::uint32_t>();
    e.reward = rd.get<double>();
    e.x = rd.vec(d, "window x");
    if (e.arm >= K || e.time > b->t_ || !(std::fabs(e.reward) <= kMaxReward))
      throw CorruptFile("bandit state: bad window entry");
    b->check_stored_x(e.x, "window");
    auto& q = c.clock == Clock::Round ? b->window_ : b->arm_window_[e.arm];
    if (!q.empty() && e.time < q.back().time) throw CorruptFile("bandit state: window out of order");
    q.push_back(std::move(e));
  }
  for (const auto& q : b->arm_window_)
    if (q.size() > c.arm_window()) throw CorruptFile("bandit state: an arm's window is over-full");
  const auto np = rd.get<std::uint64_t>();
  if (np > n) throw CorruptFile("bandit state: bad pending count");
  for (std::uint64_t i = 0; i < np; ++i) {
    const auto id = rd.get<std::uint64_t>();
    Pending p;
    p.arm = rd.get<std::uint32_t>();
    p.time = rd.get<std::uint64_t>();
    p.propensity = rd.get<double>();
    p.in_design = rd.get<std::uint8_t>() != 0;
    p.imputed = rd.get<double>();
    p.x = rd.vec(d, "pending x");
    if (p.in_design && !b->hallucinates()) throw CorruptFile("bandit state: bad pending decision");
    if (!std::isfinite(p.imputed)) throw CorruptFile("bandit state: bad pending decision");
    if (p.arm >= K || id >= b->next_id_ || p.time > b->t_)
      throw CorruptFile("bandit state: bad pending decision");
    b->check_stored_x(p.x, "pending decision");
    b->pending_.emplace(id, std::move(p));
  }
  const auto nr = rd.get<std::uint64_t>();
  if (nr > kRecentIds) throw CorruptFile("bandit state: bad id history");
  for (std::uint64_t i = 0; i < nr; ++i) b->remember(b->rewarded_q_, b->rewarded_s_, rd.get<std::uint64_t>());
  const auto ne = rd.get<std::uint64_t>();
  if (ne > kRecentIds) throw CorruptFile("bandit state: bad id history");
  for (std::uint64_t i = 0; i < ne; ++i) b->remember(b->expired_q_, b->expired_s_, rd.get<std::uint64_t>());
  if (!rd.done()) throw CorruptFile("bandit state: trailing bytes");
  return b;
}

void Bandit::save(const std::string& path) const {
  const std::string blob = serialize();
  try {  // what load would do with it, before the good file is replaced
    deserialize(reinterpret_cast<const unsigned char*>(blob.data()), blob.size());
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("bandit: refusing to save a state that would not load (") +
                                e.what() + "); the file was not written");
  }
  io::write_file_atomic(path, kFileKind, kFormatVersion, blob.data(), blob.size());
}

std::unique_ptr<Bandit> Bandit::load(const std::string& path) {
  io::LoadedFile f = io::read_file(path, kFileKind, kFormatVersion);
  return deserialize(f.payload.data(), f.payload.size(), f.header.version);
}

}  // namespace si::bandit
