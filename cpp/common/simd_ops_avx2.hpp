// The AVX2 level's vector operations (AVX2 + FMA + F16C), in which the kernel
// templates of cpp/common/kernels_*.hpp and the components' SIMD algorithms
// are written once for every level. Include only from files compiled with the
// AVX2 flags (named *_avx2.cpp, see cpp/CMakeLists.txt).
//
// Everything here has internal linkage, so a template instantiated on these
// types is local to the file that instantiates it: the linker can never pick
// it for a file built with other ISA flags (ODR safety).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/cpu_features.hpp"

namespace si::simd::ops {
namespace {

// 32-bit lanes [0, n) set, for masked loads and stores of the last partial vector.
inline __m256i lanes32(std::size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// 64-bit lanes [0, n) set.
inline __m256i lanes64(std::size_t n) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(n)), _mm256_setr_epi64x(0, 1, 2, 3));
}

struct F32x8 {
  using value = float;
  using reg = __m256;
  static constexpr std::size_t width = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float x) { return _mm256_set1_ps(x); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static reg load_n(const float* p, std::size_t n) { return _mm256_maskload_ps(p, lanes32(n)); }  // n < width
  static reg bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static void store_n(float* p, reg v, std::size_t n) { _mm256_maskstore_ps(p, lanes32(n), v); }
  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(reg v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(lo);
    const __m128 sums = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, sums);
    return _mm_cvtss_f32(_mm_add_ss(sums, sh));
  }
  // out[0..3] = the sums of v0..v3.
  static void hsum4(reg v0, reg v1, reg v2, reg v3, float* out) {
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
  }
  static bool any_ge(reg v, float t) {
    return _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(t), _CMP_GE_OQ)) != 0;
  }
  // Stored rows widened to float32: IEEE half, int8.
  static reg load_f16(const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static reg load_f16_n(const std::uint16_t* p, std::size_t n) {
    alignas(16) std::uint16_t b[8] = {};
    std::memcpy(b, p, n * sizeof *p);
    return load_f16(b);
  }
  static reg load_i8(const std::int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static reg load_i8_n(const std::int8_t* p, std::size_t n) {
    alignas(16) std::int8_t b[8] = {};
    std::memcpy(b, p, n);
    return load_i8(b);
  }
};

struct F64x4 {
  using value = double;
  using reg = __m256d;
  static constexpr std::size_t width = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg set1(double x) { return _mm256_set1_pd(x); }
  static reg load(const double* p) { return _mm256_loadu_pd(p); }
  static reg load_n(const double* p, std::size_t n) { return _mm256_maskload_pd(p, lanes64(n)); }
  static void store(double* p, reg v) { _mm256_storeu_pd(p, v); }
  static void store_n(double* p, reg v, std::size_t n) { _mm256_maskstore_pd(p, lanes64(n), v); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_pd(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_pd(a, b, c); }
  static double hsum(reg v) {
    __m128d lo = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
  }
};

// Saturating int16 lanes (the alignment kernels' cells) and a 32-entry lookup
// table indexed per lane by bytes (their substitution profile).
struct I16x16 {
  using reg = __m256i;
  using cmp = __m256i;  // a lane mask
  static constexpr int lanes = 16;
  static reg zero() { return _mm256_setzero_si256(); }
  static reg set1(std::int16_t x) { return _mm256_set1_epi16(x); }
  static reg load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static void store(void* p, reg v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
  static reg adds(reg a, reg b) { return _mm256_adds_epi16(a, b); }
  static reg subs(reg a, reg b) { return _mm256_subs_epi16(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_epi16(a, b); }
  static cmp gt(reg a, reg b) { return _mm256_cmpgt_epi16(a, b); }
  static cmp eq(reg a, reg b) { return _mm256_cmpeq_epi16(a, b); }
  // Lanes of m from v, the others from src.
  static reg select(cmp m, reg v, reg src) { return _mm256_blendv_epi8(src, v, m); }

  // Table rows as bytes, low and high 16 entries looked up with one pshufb each.
  using lut_entry = std::int8_t;
  struct lut_index {
    __m128i idx, hi;
  };
  static lut_index lut_indices(const std::uint8_t* p) {
    const __m128i idx = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return {idx, _mm_cmpgt_epi8(idx, _mm_set1_epi8(15))};
  }
  // row[idx[l]] for every lane l (row: 32 entries, 32-byte aligned).
  static reg lut(const lut_entry* row, const lut_index& i) {
    const __m128i lo = _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(row)), i.idx);
    const __m128i hi = _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(row + 16)), i.idx);
    return _mm256_cvtepi8_epi16(_mm_blendv_epi8(lo, hi, i.hi));
  }
};

// The level as a whole: its types and the register-tile shapes its kernels use.
struct Avx2 {
  static constexpr Level level = Level::avx2;
  using f32 = F32x8;
  using f64 = F64x4;
  using i16 = I16x16;
  // dot_tile: queries per register tile; rows per tile when there is one query.
  static constexpr int dot_tile_queries = 2, single_query_rows = 4;
  // panel_tile: query groups of 6 (12 accumulators of the 16 registers), in steps of 3.
  // qk_block: its loop over dim unrolled this many times (measured 15% faster than 1 (in-process A/B, 16 x 128 x 384)).
  static constexpr int qk_unroll = 2;
  static constexpr std::size_t panel_queries = 6, panel_query_step = 3;
};

}  // namespace
}  // namespace si::simd::ops
