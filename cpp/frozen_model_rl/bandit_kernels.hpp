// float64 kernels of the bandit core (per SIMD level, see common/dispatch.hpp):
// the dot product, the symmetric matrix-vector product behind x'A^-1x and
// Sherman-Morrison, and the rank-1 update of A^-1.
#pragma once

#include <cstddef>

#include "common/dispatch.hpp"

namespace si::bandit {

struct BanditKernels {
  simd::Level level;
  double (*dot)(const double* a, const double* b, std::size_t n);
  // y = M x for a symmetric n x n row-major M.
  void (*symv)(const double* M, const double* x, std::size_t n, double* y);
  // M += f * u u' (n x n row-major).
  void (*rank1)(double* M, const double* u, double f, std::size_t n);
};

const simd::KernelSet<BanditKernels>& bandit_kernel_set();

namespace detail {
extern const BanditKernels kBanditKernelsScalar;
extern const BanditKernels kBanditKernelsAvx2;
extern const BanditKernels kBanditKernelsAvx512;
}  // namespace detail

}  // namespace si::bandit
