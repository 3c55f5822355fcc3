#include <algorithm>

#include "gpu_accelerator/dp/dp_fw.hpp"

namespace si::dp {
namespace detail {
namespace {
void relax_row(std::int32_t* di, const std::int32_t* dk, std::int32_t dik, std::size_t len) {
  for (std::size_t j = 0; j < len; ++j) di[j] = std::min(di[j], dik + dk[j]);
}
}  // namespace
const FwKernels kFwScalar{simd::Level::scalar, &relax_row};
}  // namespace detail

const simd::KernelSet<FwKernels>& fw_kernel_set() {
  static const simd::KernelSet<FwKernels> set{
      &detail::kFwScalar,
#if defined(SUPERINSTANCE_X86_KERNELS)
      &detail::kFwAvx2,
      &detail::kFwAvx512,
#else
      nullptr,
      nullptr,
#endif
  };
  return set;
}

}  // namespace si::dp
