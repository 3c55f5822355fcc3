// Per-arm ridge regression (A, A^-1 kept by Sherman-Morrison rank-1 updates and
// re-inverted exactly every reinvert_every updates, b, theta), and the policy
// base shared by LinUCB, LinTS, epsilon-greedy, SW-LinUCB and the hybrid
// LinUCB's disjoint part.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "frozen_model_rl/policy.hpp"

namespace si::bandit {

struct Ridge {
  std::vector<double> A, Ainv, b, theta;
  std::uint32_t since_exact = 0;
};

void ridge_init(Ridge& r, std::size_t d, double lam);
// A += w x x', b += w r x, A^-1 by Sherman-Morrison (w = +1 add, -1 remove).
// Returns the number of exact re-inversions done (0 or 1).
int ridge_add(Ridge& r, const double* x, double reward, double w, std::size_t d,
              std::uint32_t reinvert_every, const BanditKernels& k);

class RidgePolicy : public Policy {
 public:
  RidgePolicy(const Config& cfg, const BanditKernels& kern);

  void reset() override;
  // The posterior means theta_a . x (scalar kernel); with_width adds nothing.
  void scores(const double* x, double* out, bool with_width, std::uint64_t t) const override;
  void means(const double* x, double* out, std::uint64_t t) const override;
  void learn(std::uint32_t arm, const double* x, double reward, std::uint64_t decided_at,
             std::uint64_t t) override;
  double impute(std::uint32_t arm, const double* x) override;
  void correct(std::uint32_t arm, const double* x, double delta) override;
  void retract(std::uint32_t arm, const double* x, double imputed) override;
  std::vector<double> theta(std::uint32_t arm, std::uint64_t t) const override;
  std::vector<double> a_inv(std::uint32_t arm, std::uint64_t t) const override;
  // The ridges and an empty window.
  void write(ByteWriter& w) const override;
  void read(ByteReader& r, std::uint64_t t) override;

  // Saved size of the ridges (A, A^-1, b, theta per arm).
  static double ridge_state_bytes(const Config& c);

 protected:
  // UCB scores theta_a . x + alpha sqrt(x' A_a^-1 x) on the dispatched kernels.
  void ucb_scores(const double* x, double* out) const;
  void add(std::uint32_t arm, const double* x, double reward, double w);
  void write_ridges(ByteWriter& w) const;
  void read_ridges(ByteReader& r);
  // Reads the window count of a policy without a window (must be 0).
  static void read_no_window(ByteReader& r);

  std::vector<Ridge> ridge_;
};

}  // namespace si::bandit
