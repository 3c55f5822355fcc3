// The AVX-512 (F, BW, VL, DQ) level of the kernel tables; flags from the file name.
#include "common/simd_ops_avx512.hpp"
#include "common/vector_kernels_impl.hpp"

namespace si::simd::detail {
const VectorKernels kVectorKernelsAvx512 = make_vector_kernels<ops::Avx512>();
const F64Kernels kF64KernelsAvx512 = make_f64_kernels<ops::Avx512>();
}  // namespace si::simd::detail
