// The AVX2 + FMA + F16C level of the kernel tables (those flags come from this
// file's name; reached only through the dispatch when the CPU and OS have them).
#include "common/simd_ops_avx2.hpp"
#include "common/vector_kernels_impl.hpp"

namespace si::simd::detail {
const VectorKernels kVectorKernelsAvx2 = make_vector_kernels<ops::Avx2>();
const F64Kernels kF64KernelsAvx2 = make_f64_kernels<ops::Avx2>();
}  // namespace si::simd::detail
