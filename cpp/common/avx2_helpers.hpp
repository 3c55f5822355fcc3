// Small AVX2 helpers shared by the per-ISA kernel files. Include only from
// sources compiled with -mavx2 (files named *_avx2.cpp).
#pragma once

#include <immintrin.h>

#include <cstddef>

namespace si::simd::avx2 {

// Sum of the 8 lanes.
inline float hsum(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, sums);
  return _mm_cvtss_f32(_mm_add_ss(sums, sh));
}

// Lanes [0, n) set, for a masked load of the last partial vector.
inline __m256i tail_mask(std::size_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

}  // namespace si::simd::avx2
