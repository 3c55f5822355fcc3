// AVX2 level of the alignment kernel (dp_align_simd.hpp): 16 targets per group.
#include "common/simd_ops_avx2.hpp"
#include "gpu_accelerator/dp/dp_align_simd.hpp"

namespace si::dp::detail {
const AlignKernels kAlignAvx2{simd::Level::avx2, simd::ops::I16x16::lanes, &align_pair32, &group16<simd::ops::I16x16>};
}  // namespace si::dp::detail
