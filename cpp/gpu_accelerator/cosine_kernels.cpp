#include "gpu_accelerator/cosine_kernels.hpp"

namespace si::gpu {

const simd::KernelSet<CosineKernels>& cosine_kernel_set() {
  static const simd::KernelSet<CosineKernels> set{
      &detail::kCosineKernelsScalar,
#if defined(SUPERINSTANCE_X86_KERNELS)
      &detail::kCosineKernelsAvx2,
      &detail::kCosineKernelsAvx512,
#else
      nullptr,
      nullptr,
#endif
  };
  return set;
}

}  // namespace si::gpu
