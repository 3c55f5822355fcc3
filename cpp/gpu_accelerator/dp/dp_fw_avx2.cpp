#include <immintrin.h>

#include <algorithm>

#include "gpu_accelerator/dp/dp_fw.hpp"

namespace si::dp::detail {
namespace {
void relax_row(std::int32_t* di, const std::int32_t* dk, std::int32_t dik, std::size_t len) {
  const __m256i vik = _mm256_set1_epi32(dik);
  std::size_t j = 0;
  for (; j + 8 <= len; j += 8) {
    __m256i* p = reinterpret_cast<__m256i*>(di + j);
    const __m256i k = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dk + j));
    _mm256_storeu_si256(p, _mm256_min_epi32(_mm256_loadu_si256(p), _mm256_add_epi32(vik, k)));
  }
  for (; j < len; ++j) di[j] = std::min(di[j], dik + dk[j]);
}
}  // namespace
const FwKernels kFwAvx2{simd::Level::avx2, &relax_row};
}  // namespace si::dp::detail
