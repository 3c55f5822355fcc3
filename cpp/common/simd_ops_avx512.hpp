// The AVX-512 level's vector operations (F, BW, VL, DQ; see simd_ops_avx2.hpp
// for the contract). Tails are masked loads and stores. Include only from
// files compiled with the AVX-512 flags (named *_avx512.cpp).
//
// GCC 12 warns about _mm512_reduce_add_ps and some masked intrinsics inside
// its own headers (an intentionally undefined register): false positives.
#pragma once
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "common/cpu_features.hpp"

namespace si::simd::ops {
namespace {

inline __mmask16 lanes16(std::size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
inline __mmask8 lanes8(std::size_t n) { return static_cast<__mmask8>((1u << n) - 1u); }

struct F32x16 {
  using value = float;
  using reg = __m512;
  static constexpr std::size_t width = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float x) { return _mm512_set1_ps(x); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static reg load_n(const float* p, std::size_t n) { return _mm512_maskz_loadu_ps(lanes16(n), p); }
  static reg bcast(const float* p) { return _mm512_set1_ps(*p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static void store_n(float* p, reg v, std::size_t n) { _mm512_mask_storeu_ps(p, lanes16(n), v); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(reg v) { return _mm512_reduce_add_ps(v); }
  // out[0..3] = the sums of v0..v3.
  static void hsum4(reg v0, reg v1, reg v2, reg v3, float* out) {
    const __m512 a = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
    const __m512 b = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
    // per 128-bit lane: a = [v0 v1 v0 v1] partials, b = [v2 v3 v2 v3]
    const __m512 c = _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 d = _mm256_add_ps(_mm512_castps512_ps256(c),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1)));
  }
  static bool any_ge(reg v, float t) { return _mm512_cmp_ps_mask(v, _mm512_set1_ps(t), _CMP_GE_OQ) != 0; }
  static reg load_f16(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static reg load_f16_n(const std::uint16_t* p, std::size_t n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes16(n), p));
  }
  static reg load_i8(const std::int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static reg load_i8_n(const std::int8_t* p, std::size_t n) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(lanes16(n), p)));
  }
};

struct F64x8 {
  using value = double;
  using reg = __m512d;
  static constexpr std::size_t width = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg set1(double x) { return _mm512_set1_pd(x); }
  static reg load(const double* p) { return _mm512_loadu_pd(p); }
  static reg load_n(const double* p, std::size_t n) { return _mm512_maskz_loadu_pd(lanes8(n), p); }
  static void store(double* p, reg v) { _mm512_storeu_pd(p, v); }
  static void store_n(double* p, reg v, std::size_t n) { _mm512_mask_storeu_pd(p, lanes8(n), v); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_pd(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
  // Through memory: GCC 12's _mm512_reduce_add_pd warns spuriously.
  static double hsum(reg v) {
    alignas(64) double t[8];
    _mm512_store_pd(t, v);
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
  }
};

struct I16x32 {
  using reg = __m512i;
  using cmp = __mmask32;
  static constexpr int lanes = 32;
  static reg zero() { return _mm512_setzero_si512(); }
  static reg set1(std::int16_t x) { return _mm512_set1_epi16(x); }
  static reg load(const void* p) { return _mm512_loadu_si512(p); }
  static void store(void* p, reg v) { _mm512_storeu_si512(p, v); }
  static reg adds(reg a, reg b) { return _mm512_adds_epi16(a, b); }
  static reg subs(reg a, reg b) { return _mm512_subs_epi16(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_epi16(a, b); }
  static cmp gt(reg a, reg b) { return _mm512_cmpgt_epi16_mask(a, b); }
  static cmp eq(reg a, reg b) { return _mm512_cmpeq_epi16_mask(a, b); }
  static reg select(cmp m, reg v, reg src) { return _mm512_mask_mov_epi16(src, m, v); }

  // Table rows as int16, looked up with one vpermw.
  using lut_entry = std::int16_t;
  using lut_index = __m512i;
  static lut_index lut_indices(const std::uint8_t* p) {
    return _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static reg lut(const lut_entry* row, const lut_index& i) { return _mm512_permutexvar_epi16(i, _mm512_load_si512(row)); }
};

struct Avx512 {
  static constexpr Level level = Level::avx512;
  using f32 = F32x16;
  using f64 = F64x8;
  using i16 = I16x32;
  // One query streams rows from memory: one row at a time measured 3-5% faster
  // than 4-row tiles (interleaved A/B, 100k x 384), 2-row tiles 2-3% slower.
  static constexpr int dot_tile_queries = 4, single_query_rows = 1;
  // panel_tile: query groups of 12 (24 accumulators of the 32 registers), in steps of 4.
  // qk_block: its loop over dim unrolled this many times (2 measured 2% slower).
  static constexpr int qk_unroll = 1;
  static constexpr std::size_t panel_queries = 12, panel_query_step = 4;
};

}  // namespace
}  // namespace si::simd::ops
