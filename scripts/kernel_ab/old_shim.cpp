// The pre-#17 tables (compiled from the old revision's sources; their table
// symbols renamed by -D so that they do not clash with the new build's).
#include "common/vector_kernels.hpp"
#include "frozen_model_rl/bandit_kernels.hpp"
#include "gpu_accelerator/cosine_kernels.hpp"
#include "gpu_accelerator/dp/dp_align.hpp"
#include "kernel_ab.hpp"
#include "vector_navigator/vn_kernels.hpp"

extern "C" KernelFns old_kernels(int level) {
  using namespace si;
  const auto& v = level == 2 ? simd::detail::kVectorKernelsAvx512 : simd::detail::kVectorKernelsAvx2;
  const auto& n = level == 2 ? vn::detail::kVnKernelsAvx512 : vn::detail::kVnKernelsAvx2;
  const auto& c = level == 2 ? gpu::detail::kCosineKernelsAvx512 : gpu::detail::kCosineKernelsAvx2;
  const auto& b = level == 2 ? bandit::detail::kBanditKernelsAvx512 : bandit::detail::kBanditKernelsAvx2;
  const auto& a = level == 2 ? dp::detail::kAlignAvx512 : dp::detail::kAlignAvx2;
  return {v.dot,         v.dot_rows,     v.l2sq_rows,   n.dot_tile, n.panel_rows, n.panel_queries, n.panel_tile,
          c.qk_block,    n.dot_f16_rows, n.dot_i8_rows, b.dot,      b.symv,       b.rank1,         a.lanes,
          &a};
}

