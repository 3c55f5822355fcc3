// Dense float64 linear algebra of the bandit models (row-major n x n matrices):
// the exact SPD inverse behind periodic re-inversion, the Jacobi
// eigen-decomposition behind D-LinUCB, and the small products the
// non-dispatched paths use. Exposed for tests (bandit_linalg_* in Python).
#pragma once

#include <cstddef>

#include "frozen_model_rl/bandit_kernels.hpp"

namespace si::bandit {

// Inverse of a symmetric positive definite n x n matrix via Cholesky; false if not SPD.
bool spd_inverse(const double* A, std::size_t n, double* out);
// Cyclic Jacobi eigen-decomposition of a symmetric matrix: A = Q diag(w) Q'.
// Q is row-major with eigenvectors in columns.
void sym_eigen(const double* A, std::size_t n, double* Q, double* w);

// Paths that do not go through the dispatched table (means, hybrid and
// Thompson terms) use the scalar table's kernel, so their results do not
// depend on the SIMD level.
inline double dot(const double* a, const double* b, std::size_t n) {
  return detail::kBanditKernelsScalar.dot(a, b, n);
}

// y = M x, M n x n row-major.
inline void matvec(const double* M, const double* x, std::size_t n, double* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = dot(M + i * n, x, n);
}

}  // namespace si::bandit
