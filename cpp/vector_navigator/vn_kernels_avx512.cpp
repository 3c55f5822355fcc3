// AVX-512 (F, BW, VL) kernels: 4-query x 4-row register tiles, masked tails.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "vector_navigator/vn_kernels.hpp"
#include "vector_navigator/vn_panel_tile.hpp"

namespace si::vn::detail {
namespace {

inline __mmask16 tail_mask(std::size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// The four horizontal sums of v0..v3, as one __m128 (v0's sum in lane 0).
inline __m128 reduce4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m512 a = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
  const __m512 b = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
  // per 128-bit lane: a = [v0 v1 v0 v1] partials, b = [v2 v3 v2 v3]
  const __m512 c = _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m256 d = _mm256_add_ps(_mm512_castps512_ps256(c),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
}

template <int QB, int RB>
inline void micro(const float* q, const float* rows, std::size_t dim, float* out,
                  std::size_t out_stride) {
  __m512 acc[QB][RB];
#pragma GCC unroll 4
  for (int a = 0; a < QB; ++a)
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) acc[a][b] = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m512 rv[RB];
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) rv[b] = _mm512_loadu_ps(rows + b * dim + i);
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a) {
      const __m512 qv = _mm512_loadu_ps(q + a * dim + i);
#pragma GCC unroll 4
      for (int b = 0; b < RB; ++b) acc[a][b] = _mm512_fmadd_ps(qv, rv[b], acc[a][b]);
    }
  }
  if (i < dim) {
    const __mmask16 m = tail_mask(dim - i);
    __m512 rv[RB];
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) rv[b] = _mm512_maskz_loadu_ps(m, rows + b * dim + i);
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + a * dim + i);
#pragma GCC unroll 4
      for (int b = 0; b < RB; ++b) acc[a][b] = _mm512_fmadd_ps(qv, rv[b], acc[a][b]);
    }
  }
  if constexpr (RB == 4) {
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a)
      _mm_storeu_ps(out + a * out_stride, reduce4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]));
  } else {
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a)
#pragma GCC unroll 4
      for (int b = 0; b < RB; ++b) out[a * out_stride + b] = _mm512_reduce_add_ps(acc[a][b]);
  }
}

template <int QB>
inline void row_loop(const float* q, const float* rows, std::size_t nr, std::size_t dim, float* out,
                     std::size_t out_stride) {
  std::size_t r = 0;
  for (; r + 4 <= nr; r += 4) micro<QB, 4>(q, rows + r * dim, dim, out + r, out_stride);
  for (; r < nr; ++r) micro<QB, 1>(q, rows + r * dim, dim, out + r, out_stride);
}

void dot_tile(const float* q, std::size_t nq, const float* rows, std::size_t nr, std::size_t dim,
              float* out, std::size_t out_stride) {
  if (nq == 1) {
    // One query streams rows from memory: one row at a time measured 3-5%
    // faster than 4-row tiles (interleaved A/B, 100k x 384), 2-row tiles 2-3% slower.
    for (std::size_t r = 0; r < nr; ++r) micro<1, 1>(q, rows + r * dim, dim, out + r, out_stride);
    return;
  }
  std::size_t qi = 0;
  for (; qi + 4 <= nq; qi += 4) row_loop<4>(q + qi * dim, rows, nr, dim, out + qi * out_stride, out_stride);
  for (; qi < nq; ++qi) row_loop<1>(q + qi * dim, rows, nr, dim, out + qi * out_stride, out_stride);
}

// Vector operations of the batch micro-kernel (vn_panel_tile.hpp): 32-row
// panels, query groups of 12 (24 accumulators of the 32 registers).
struct V16 {
  using reg = __m512;
  static constexpr std::size_t width = 16;
  static reg zero() { return _mm512_setzero_ps(); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static reg bcast(const float* p) { return _mm512_set1_ps(*p); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static bool any_ge(reg v, float t) { return _mm512_cmp_ps_mask(v, _mm512_set1_ps(t), _CMP_GE_OQ) != 0; }
};
constexpr std::size_t kPanelRows = 2 * V16::width, kPanelQueries = 12;

std::uint32_t panel_tile(const float* group, std::size_t nq, const float* panel, std::size_t dim, const float* thr,
                         float* tile) {
  if (nq > 8) return panel_micro<V16, kPanelQueries, 12>(group, nq, panel, dim, thr, tile);
  if (nq > 4) return panel_micro<V16, kPanelQueries, 8>(group, nq, panel, dim, thr, tile);
  return panel_micro<V16, kPanelQueries, 4>(group, nq, panel, dim, thr, tile);
}

void widen_f16(const std::uint16_t* in, std::size_t n, float* out) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i))));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, in + i)));
  }
}

void widen_i8(const std::int8_t* in, std::size_t n, float scale, float* out) {
  const __m512 s = _mm512_set1_ps(scale);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), s));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, in + i)));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(v, s));
  }
}

void dot_f16_rows(const float* q, const std::uint16_t* rows, std::size_t nr, std::size_t dim,
                  float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::uint16_t* row = rows + r * dim;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i),
                           _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i))), s0);
      s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16),
                           _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i + 16))), s1);
    }
    for (; i + 16 <= dim; i += 16)
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i),
                           _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i))), s0);
    if (i < dim) {
      const __mmask16 m = tail_mask(dim - i);
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i),
                           _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + i)), s1);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  }
}

void dot_i8_rows(const float* q, const std::int8_t* rows, const float* scale, std::size_t nr,
                 std::size_t dim, float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::int8_t* row = rows + r * dim;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
      const __m512 v = _mm512_cvtepi32_ps(
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i))));
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), v, s0);
    }
    if (i < dim) {
      const __mmask16 m = tail_mask(dim - i);
      const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, row + i)));
      s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), v, s1);
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) * scale[r];
  }
}

}  // namespace

const VnKernels kVnKernelsAvx512{simd::Level::avx512, dot_tile,     kPanelRows,  kPanelQueries,
                                 panel_tile,          widen_f16,    widen_i8,
                                 dot_f16_rows,        dot_i8_rows};

}  // namespace si::vn::detail
