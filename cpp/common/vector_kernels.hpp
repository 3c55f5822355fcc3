// float32 vector kernels shared by the components (cosine search, the CPU twin
// of the GPU's batched cosine): dot product and squared L2 distance, single and
// one-query-against-many-rows. One table per SIMD level, see dispatch.hpp.
#pragma once

#include <cstddef>

#include "common/dispatch.hpp"

namespace si::simd {

struct VectorKernels {
  Level level;
  float (*dot)(const float* a, const float* b, std::size_t n);
  float (*l2sq)(const float* a, const float* b, std::size_t n);
  // out[r] = dot(q, base + r * stride) for r in [0, rows); dim elements each.
  void (*dot_rows)(const float* q, const float* base, std::size_t rows, std::size_t dim,
                   std::size_t stride, float* out);
  void (*l2sq_rows)(const float* q, const float* base, std::size_t rows, std::size_t dim,
                    std::size_t stride, float* out);
};

const KernelSet<VectorKernels>& vector_kernel_set();

inline const VectorKernels& vector_kernels() { return vector_kernel_set().active(); }
inline const VectorKernels& vector_kernels(Level level) { return vector_kernel_set().at(level); }

namespace detail {
extern const VectorKernels kVectorKernelsScalar;
extern const VectorKernels kVectorKernelsAvx2;
extern const VectorKernels kVectorKernelsAvx512;
}  // namespace detail

}  // namespace si::simd
