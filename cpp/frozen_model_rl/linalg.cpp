#include "frozen_model_rl/linalg.hpp"

#include <cmath>
#include <vector>

namespace si::bandit {

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

}  // namespace si::bandit
