// AVX2 + FMA + F16C kernels: 2-query x 4-row register tiles, masked tails.
#include <immintrin.h>

#include "common/avx2_helpers.hpp"
#include "vector_navigator/vn_kernels.hpp"
#include "vector_navigator/vn_panel_tile.hpp"

namespace si::vn::detail {
namespace {

using si::simd::avx2::hsum;
using si::simd::avx2::tail_mask;

inline __m128 reduce4(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

template <int QB, int RB>
inline void micro(const float* q, const float* rows, std::size_t dim, float* out,
                  std::size_t out_stride) {
  __m256 acc[QB][RB];
#pragma GCC unroll 4
  for (int a = 0; a < QB; ++a)
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) acc[a][b] = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    __m256 rv[RB];
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) rv[b] = _mm256_loadu_ps(rows + b * dim + i);
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a) {
      const __m256 qv = _mm256_loadu_ps(q + a * dim + i);
#pragma GCC unroll 4
      for (int b = 0; b < RB; ++b) acc[a][b] = _mm256_fmadd_ps(qv, rv[b], acc[a][b]);
    }
  }
  if (i < dim) {
    const __m256i m = tail_mask(dim - i);
    __m256 rv[RB];
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) rv[b] = _mm256_maskload_ps(rows + b * dim + i, m);
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a) {
      const __m256 qv = _mm256_maskload_ps(q + a * dim + i, m);
#pragma GCC unroll 4
      for (int b = 0; b < RB; ++b) acc[a][b] = _mm256_fmadd_ps(qv, rv[b], acc[a][b]);
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
      for (int b = 0; b < RB; ++b) out[a * out_stride + b] = hsum(acc[a][b]);
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
  std::size_t qi = 0;
  for (; qi + 2 <= nq; qi += 2) row_loop<2>(q + qi * dim, rows, nr, dim, out + qi * out_stride, out_stride);
  for (; qi < nq; ++qi) row_loop<1>(q + qi * dim, rows, nr, dim, out + qi * out_stride, out_stride);
}

// Vector operations of the batch micro-kernel (vn_panel_tile.hpp): 16-row
// panels, query groups of 6 (12 accumulators of the 16 registers).
struct V8 {
  using reg = __m256;
  static constexpr std::size_t width = 8;
  static reg zero() { return _mm256_setzero_ps(); }
  static reg load(const float* p) { return _mm256_loadu_ps(p); }
  static reg bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static bool any_ge(reg v, float t) { return _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(t), _CMP_GE_OQ)) != 0; }
};
constexpr std::size_t kPanelRows = 2 * V8::width, kPanelQueries = 6;

std::uint32_t panel_tile(const float* group, std::size_t nq, const float* panel, std::size_t dim, const float* thr,
                         float* tile) {
  if (nq > 3) return panel_micro<V8, kPanelQueries, 6>(group, nq, panel, dim, thr, tile);
  return panel_micro<V8, kPanelQueries, 3>(group, nq, panel, dim, thr, tile);
}

void widen_f16(const std::uint16_t* in, std::size_t n, float* out) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  for (; i < n; ++i) out[i] = f16_to_f32(in[i]);
}

void widen_i8(const std::int8_t* in, std::size_t n, float scale, float* out) {
  const __m256 s = _mm256_set1_ps(scale);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), s));
  }
  for (; i < n; ++i) out[i] = static_cast<float>(in[i]) * scale;
}

void dot_f16_rows(const float* q, const std::uint16_t* rows, std::size_t nr, std::size_t dim,
                  float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::uint16_t* row = rows + r * dim;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= dim; i += 8)
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i),
                           _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i))), s0);
    float tail = 0;
    for (; i < dim; ++i) tail += q[i] * f16_to_f32(row[i]);
    out[r] = hsum(_mm256_add_ps(s0, s1)) + tail;
  }
}

void dot_i8_rows(const float* q, const std::int8_t* rows, const float* scale, std::size_t nr,
                 std::size_t dim, float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::int8_t* row = rows + r * dim;
    __m256 s0 = _mm256_setzero_ps();
    std::size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
      const __m256 v = _mm256_cvtepi32_ps(
          _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + i))));
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), v, s0);
    }
    float tail = 0;
    for (; i < dim; ++i) tail += q[i] * static_cast<float>(row[i]);
    out[r] = (hsum(s0) + tail) * scale[r];
  }
}

}  // namespace

const VnKernels kVnKernelsAvx2{simd::Level::avx2, dot_tile,     kPanelRows,  kPanelQueries,
                               panel_tile,        widen_f16,    widen_i8,
                               dot_f16_rows,      dot_i8_rows};

}  // namespace si::vn::detail
