// AVX-512BW level of the alignment kernel (dp_align_simd.hpp): 32 targets per group.
#include "common/simd_ops_avx512.hpp"
#include "gpu_accelerator/dp/dp_align_simd.hpp"

namespace si::dp::detail {
const AlignKernels kAlignAvx512{simd::Level::avx512, simd::ops::I16x32::lanes, &align_pair32, &group16<simd::ops::I16x32>};
}  // namespace si::dp::detail
