// GCC 12 warns about _mm512_min_epi32 inside its own headers (an intentionally
// undefined register); the warning is a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "gpu_accelerator/dp/dp_fw.hpp"

namespace si::dp::detail {
namespace {
void relax_row(std::int32_t* di, const std::int32_t* dk, std::int32_t dik, std::size_t len) {
  const __m512i vik = _mm512_set1_epi32(dik);
  std::size_t j = 0;
  for (; j + 16 <= len; j += 16)
    _mm512_storeu_si512(di + j, _mm512_min_epi32(_mm512_loadu_si512(di + j),
                                                 _mm512_add_epi32(vik, _mm512_loadu_si512(dk + j))));
  if (j < len) {
    const __mmask16 m = static_cast<__mmask16>((1u << (len - j)) - 1u);
    const __m512i cur = _mm512_maskz_loadu_epi32(m, di + j);
    _mm512_mask_storeu_epi32(di + j, m, _mm512_min_epi32(cur, _mm512_add_epi32(vik, _mm512_maskz_loadu_epi32(m, dk + j))));
  }
}
}  // namespace
const FwKernels kFwAvx512{simd::Level::avx512, &relax_row};
}  // namespace si::dp::detail
