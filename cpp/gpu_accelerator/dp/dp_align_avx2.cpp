// AVX2 alignment kernel: 16 targets per group, one per int16 lane
// (inter-sequence vectorisation). The per-column substitution profile is built
// with two pshufb per alphabet letter (alphabets of up to 32 letters; larger
// alphabets build it with scalar code).
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "gpu_accelerator/dp/dp_align_common.hpp"

namespace si::dp::detail {
namespace {

constexpr int kLanes = 16;

inline __m256i ld(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void st(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

void group16(const AlignParams& p, const std::uint8_t* q, std::size_t m, const AlignGroup& g,
             std::int16_t* scratch, std::int32_t* scores, std::uint8_t* overflow) {
  const int K = p.alphabet_size;
  const GroupConstants c = group_constants(p);
  thread_local std::vector<std::int16_t> prof_buf;
  prof_buf.assign(static_cast<std::size_t>(K) * kLanes, 0);
  std::int16_t* prof = prof_buf.data();
  alignas(32) std::int8_t rows8[32][32] = {};  // [a][0..15] low table, [a][16..31] high table
  const bool fast_profile = K <= 32;
  if (fast_profile)
    for (int a = 0; a < K; ++a)
      for (int b = 0; b < K; ++b) rows8[a][b] = p.matrix[a * K + b];

  __m256i* HE = reinterpret_cast<__m256i*>(scratch);
  const __m256i neg = _mm256_set1_epi16(std::numeric_limits<std::int16_t>::min());
  for (std::size_t i = 0; i < m; ++i) {
    // HE[2i] = H(i, j-1); HE[2i+1] = E(i, j) = max(E(i, j-1) - ext, H(i, j-1) - open),
    // computed one column ahead so that H - open serves both E and F.
    const std::int64_t h0 = p.global ? -(std::int64_t(c.open) + std::int64_t(i) * c.ext) : 0;
    st(HE + 2 * i, _mm256_set1_epi16(sat16(h0)));
    st(HE + 2 * i + 1, _mm256_set1_epi16(sat16(h0 - c.open)));
  }
  alignas(32) std::int16_t len16[kLanes];
  for (int l = 0; l < kLanes; ++l) len16[l] = static_cast<std::int16_t>(std::min<std::int32_t>(g.lengths[l], 32767));
  const __m256i lens = ld(len16);
  const __m256i vopen = _mm256_set1_epi16(c.open16), vext = _mm256_set1_epi16(c.ext16);
  const __m256i zero = _mm256_setzero_si256();
  const __m128i fifteen = _mm_set1_epi8(15);
  __m256i vmax = p.global ? neg : zero;
  __m256i res = zero;

  for (std::int32_t j = 0; j < g.max_length; ++j) {
    const std::uint8_t* tcol = g.residues + static_cast<std::size_t>(j) * kLanes;
    if (fast_profile) {
      const __m128i idx = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tcol));
      const __m128i hi_sel = _mm_cmpgt_epi8(idx, fifteen);
      for (int a = 0; a < K; ++a) {
        const __m128i lo = _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(rows8[a])), idx);
        const __m128i hi = _mm_shuffle_epi8(_mm_load_si128(reinterpret_cast<const __m128i*>(rows8[a] + 16)), idx);
        st(prof + a * kLanes, _mm256_cvtepi8_epi16(_mm_blendv_epi8(lo, hi, hi_sel)));
      }
    } else {
      build_profile_scalar(p, tcol, kLanes, prof);
    }
    std::int16_t diag0 = 0, f0 = sat16(-std::int64_t(c.open));
    if (p.global) {
      diag0 = j == 0 ? 0 : sat16(-(std::int64_t(c.open) + std::int64_t(j - 1) * c.ext));
      f0 = sat16(-(2 * std::int64_t(c.open) + std::int64_t(j) * c.ext));
    }
    __m256i hdiag = _mm256_set1_epi16(diag0);
    __m256i f = _mm256_set1_epi16(f0);
    __m256i colmax = neg, h = zero;
    if (p.global) {
      for (std::size_t i = 0; i < m; ++i) {
        const __m256i s = ld(prof + q[i] * kLanes);
        const __m256i hl = ld(HE + 2 * i);
        const __m256i e = ld(HE + 2 * i + 1);
        h = _mm256_max_epi16(_mm256_adds_epi16(hdiag, s), _mm256_max_epi16(e, f));
        hdiag = hl;
        const __m256i hmo = _mm256_subs_epi16(h, vopen);
        st(HE + 2 * i, h);
        st(HE + 2 * i + 1, _mm256_max_epi16(_mm256_subs_epi16(e, vext), hmo));
        f = _mm256_max_epi16(_mm256_subs_epi16(f, vext), hmo);
        colmax = _mm256_max_epi16(colmax, h);
      }
    } else {
      for (std::size_t i = 0; i < m; ++i) {
        const __m256i s = ld(prof + q[i] * kLanes);
        const __m256i hl = ld(HE + 2 * i);
        const __m256i e = ld(HE + 2 * i + 1);
        h = _mm256_max_epi16(_mm256_max_epi16(_mm256_adds_epi16(hdiag, s), zero), _mm256_max_epi16(e, f));
        hdiag = hl;
        const __m256i hmo = _mm256_subs_epi16(h, vopen);
        st(HE + 2 * i, h);
        st(HE + 2 * i + 1, _mm256_max_epi16(_mm256_subs_epi16(e, vext), hmo));
        f = _mm256_max_epi16(_mm256_subs_epi16(f, vext), hmo);
        colmax = _mm256_max_epi16(colmax, h);
      }
    }
    const __m256i active = _mm256_cmpgt_epi16(lens, _mm256_set1_epi16(static_cast<std::int16_t>(j)));
    vmax = _mm256_blendv_epi8(vmax, _mm256_max_epi16(vmax, colmax), active);
    if (p.global) {
      const __m256i end = _mm256_cmpeq_epi16(lens, _mm256_set1_epi16(static_cast<std::int16_t>(j + 1)));
      res = _mm256_blendv_epi8(res, h, end);
    }
  }
  alignas(32) std::int16_t out_max[kLanes], out_res[kLanes];
  st(out_max, vmax);
  st(out_res, res);
  finish_group(p, c, g, kLanes, out_max, out_res, scores, overflow);
}

}  // namespace

const AlignKernels kAlignAvx2{simd::Level::avx2, kLanes, &align_pair32, &group16};

}  // namespace si::dp::detail
