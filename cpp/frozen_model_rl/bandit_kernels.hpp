// The bandit core's float64 kernels are the common F64Kernels table
// (common/vector_kernels.hpp): dot, the symmetric matrix-vector product
// behind x'A^-1x and Sherman-Morrison, and the rank-1 update of A^-1.
// These names keep the component's spelling.
#pragma once

#include "common/vector_kernels.hpp"

namespace si::bandit {

using BanditKernels = simd::F64Kernels;
inline const simd::KernelSet<BanditKernels>& bandit_kernel_set() { return simd::f64_kernel_set(); }

namespace detail {
// The scalar reference table (bit-reproducible paths use its dot).
inline const BanditKernels& kBanditKernelsScalar = simd::detail::kF64KernelsScalar;
}  // namespace detail

}  // namespace si::bandit
