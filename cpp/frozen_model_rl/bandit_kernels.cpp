#include "frozen_model_rl/bandit_kernels.hpp"

namespace si::bandit {

const simd::KernelSet<BanditKernels>& bandit_kernel_set() {
  static const simd::KernelSet<BanditKernels> set{
      &detail::kBanditKernelsScalar,
#if defined(SUPERINSTANCE_X86_KERNELS)
      &detail::kBanditKernelsAvx2,
      &detail::kBanditKernelsAvx512,
#else
      nullptr,
      nullptr,
#endif
  };
  return set;
}

}  // namespace si::bandit
