// Baseline kernels (no ISA flags). Four accumulators in dot() break the add
// latency chain; symv() accumulates rows as axpys, which vectorise with SSE2.
#include "frozen_model_rl/bandit_kernels.hpp"

namespace si::bandit::detail {
namespace {

double dot(const double* a, const double* b, std::size_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s2) + (s1 + s3);
}

void symv(const double* M, const double* x, std::size_t n, double* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    const double xj = x[j];
    const double* row = M + j * n;
    for (std::size_t i = 0; i < n; ++i) y[i] += row[i] * xj;
  }
}

void rank1(double* M, const double* u, double f, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double fu = f * u[i];
    double* row = M + i * n;
    for (std::size_t j = 0; j < n; ++j) row[j] += fu * u[j];
  }
}

}  // namespace

const BanditKernels kBanditKernelsScalar{simd::Level::scalar, dot, symv, rank1};

}  // namespace si::bandit::detail
