#include "common/vector_kernels.hpp"

namespace si::simd {

const KernelSet<VectorKernels>& vector_kernel_set() {
  static const KernelSet<VectorKernels> set{
      &detail::kVectorKernelsScalar,
#if defined(SUPERINSTANCE_X86_KERNELS)
      &detail::kVectorKernelsAvx2,
      &detail::kVectorKernelsAvx512,
#else
      nullptr,
      nullptr,
#endif
  };
  return set;
}

}  // namespace si::simd
