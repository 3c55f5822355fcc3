// SIMD micro-kernels of the CPU batched cosine (cpu_models.cpp): dot products
// of queries with a block of keys stored transposed (dim x kKeyBlock), which
// vectorises over keys with no horizontal sums. One table per SIMD level, in
// cosine_kernels_{scalar,avx2,avx512}.cpp (see common/dispatch.hpp).
#pragma once

#include <cstddef>

#include "common/dispatch.hpp"

namespace si::gpu {

constexpr std::size_t kKeyBlock = 128;

struct CosineKernels {
  simd::Level level;
  // out[i * ldo + j] = sum_d q[i * dim + d] * kt[d * kKeyBlock + j], for i < m, j < valid.
  // kt holds kKeyBlock columns (those >= valid are zero padding or ignored);
  // only the first `valid` columns (rounded up to a vector) are computed.
  void (*qk_block)(const float* q, std::size_t m, std::size_t dim, const float* kt,
                   std::size_t valid, float* out, std::size_t ldo);
};

const simd::KernelSet<CosineKernels>& cosine_kernel_set();

namespace detail {
extern const CosineKernels kCosineKernelsScalar;
extern const CosineKernels kCosineKernelsAvx2;
extern const CosineKernels kCosineKernelsAvx512;
}  // namespace detail

}  // namespace si::gpu
