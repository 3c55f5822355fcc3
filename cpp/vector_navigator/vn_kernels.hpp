// vector_navigator's SIMD kernels are the common float32 table
// (common/vector_kernels.hpp): dot_tile (one query and small batches),
// panel_tile (the batch scan, with the top-k compare fused in) and the
// f16 / i8 row kernels. These names keep the component's spelling.
#pragma once

#include "common/vector_kernels.hpp"

namespace si::vn {

using VnKernels = simd::VectorKernels;
inline const simd::KernelSet<VnKernels>& vn_kernel_set() { return simd::vector_kernel_set(); }
inline const VnKernels& vn_kernels() { return simd::vector_kernels(); }
inline const VnKernels& vn_kernels(simd::Level l) { return simd::vector_kernels(l); }

using simd::f16_to_f32;
using simd::f32_to_f16;
using simd::pack_columns;

}  // namespace si::vn
