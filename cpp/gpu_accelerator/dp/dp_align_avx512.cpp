// AVX-512BW alignment kernel: 32 targets per group, one per int16 lane
// (inter-sequence vectorisation). The per-column substitution profile is built
// with one vpermw per alphabet letter (alphabets of up to 32 letters; larger
// alphabets build it with scalar code).
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "gpu_accelerator/dp/dp_align_common.hpp"

namespace si::dp::detail {
namespace {

constexpr int kLanes = 32;

void group16(const AlignParams& p, const std::uint8_t* q, std::size_t m, const AlignGroup& g,
             std::int16_t* scratch, std::int32_t* scores, std::uint8_t* overflow) {
  const int K = p.alphabet_size;
  const GroupConstants c = group_constants(p);
  thread_local std::vector<std::int16_t> prof_buf;
  prof_buf.assign(static_cast<std::size_t>(K) * kLanes, 0);
  std::int16_t* prof = prof_buf.data();
  alignas(64) std::int16_t rows16[32][32] = {};
  const bool fast_profile = K <= 32;
  if (fast_profile)
    for (int a = 0; a < K; ++a)
      for (int b = 0; b < K; ++b) rows16[a][b] = p.matrix[a * K + b];

  __m512i* HE = reinterpret_cast<__m512i*>(scratch);  // HE[2i] = H(i, j-1), HE[2i+1] = E(i, j-1)
  const __m512i neg = _mm512_set1_epi16(std::numeric_limits<std::int16_t>::min());
  for (std::size_t i = 0; i < m; ++i) {
    // HE[2i] = H(i, j-1); HE[2i+1] = E(i, j) = max(E(i, j-1) - ext, H(i, j-1) - open),
    // computed one column ahead so that H - open serves both E and F.
    const std::int64_t h0 = p.global ? -(std::int64_t(c.open) + std::int64_t(i) * c.ext) : 0;
    _mm512_storeu_si512(HE + 2 * i, _mm512_set1_epi16(sat16(h0)));
    _mm512_storeu_si512(HE + 2 * i + 1, _mm512_set1_epi16(sat16(h0 - c.open)));
  }
  alignas(64) std::int16_t len16[kLanes];
  for (int l = 0; l < kLanes; ++l) len16[l] = static_cast<std::int16_t>(std::min<std::int32_t>(g.lengths[l], 32767));
  const __m512i lens = _mm512_load_si512(len16);
  const __m512i vopen = _mm512_set1_epi16(c.open16), vext = _mm512_set1_epi16(c.ext16);
  const __m512i zero = _mm512_setzero_si512();
  __m512i vmax = p.global ? neg : zero;
  __m512i res = zero;

  for (std::int32_t j = 0; j < g.max_length; ++j) {
    const std::uint8_t* tcol = g.residues + static_cast<std::size_t>(j) * kLanes;
    if (fast_profile) {
      const __m512i idx = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(tcol)));
      for (int a = 0; a < K; ++a)
        _mm512_storeu_si512(prof + a * kLanes, _mm512_permutexvar_epi16(idx, _mm512_load_si512(rows16[a])));
    } else {
      build_profile_scalar(p, tcol, kLanes, prof);
    }
    std::int16_t diag0 = 0, f0 = sat16(-std::int64_t(c.open));
    if (p.global) {
      diag0 = j == 0 ? 0 : sat16(-(std::int64_t(c.open) + std::int64_t(j - 1) * c.ext));
      f0 = sat16(-(2 * std::int64_t(c.open) + std::int64_t(j) * c.ext));
    }
    __m512i hdiag = _mm512_set1_epi16(diag0);
    __m512i f = _mm512_set1_epi16(f0);
    __m512i colmax = neg, h = zero;
    if (p.global) {
      for (std::size_t i = 0; i < m; ++i) {
        const __m512i s = _mm512_loadu_si512(prof + q[i] * kLanes);
        const __m512i hl = _mm512_loadu_si512(HE + 2 * i);
        const __m512i e = _mm512_loadu_si512(HE + 2 * i + 1);
        h = _mm512_max_epi16(_mm512_adds_epi16(hdiag, s), _mm512_max_epi16(e, f));
        hdiag = hl;
        const __m512i hmo = _mm512_subs_epi16(h, vopen);
        _mm512_storeu_si512(HE + 2 * i, h);
        _mm512_storeu_si512(HE + 2 * i + 1, _mm512_max_epi16(_mm512_subs_epi16(e, vext), hmo));
        f = _mm512_max_epi16(_mm512_subs_epi16(f, vext), hmo);
        colmax = _mm512_max_epi16(colmax, h);
      }
    } else {
      for (std::size_t i = 0; i < m; ++i) {
        const __m512i s = _mm512_loadu_si512(prof + q[i] * kLanes);
        const __m512i hl = _mm512_loadu_si512(HE + 2 * i);
        const __m512i e = _mm512_loadu_si512(HE + 2 * i + 1);
        h = _mm512_max_epi16(_mm512_max_epi16(_mm512_adds_epi16(hdiag, s), zero), _mm512_max_epi16(e, f));
        hdiag = hl;
        const __m512i hmo = _mm512_subs_epi16(h, vopen);
        _mm512_storeu_si512(HE + 2 * i, h);
        _mm512_storeu_si512(HE + 2 * i + 1, _mm512_max_epi16(_mm512_subs_epi16(e, vext), hmo));
        f = _mm512_max_epi16(_mm512_subs_epi16(f, vext), hmo);
        colmax = _mm512_max_epi16(colmax, h);
      }
    }
    const __mmask32 active = _mm512_cmpgt_epi16_mask(lens, _mm512_set1_epi16(static_cast<std::int16_t>(j)));
    vmax = _mm512_mask_max_epi16(vmax, active, vmax, colmax);
    if (p.global) {
      const __mmask32 end = _mm512_cmpeq_epi16_mask(lens, _mm512_set1_epi16(static_cast<std::int16_t>(j + 1)));
      res = _mm512_mask_mov_epi16(res, end, h);
    }
  }
  alignas(64) std::int16_t out_max[kLanes], out_res[kLanes];
  _mm512_store_si512(out_max, vmax);
  _mm512_store_si512(out_res, res);
  finish_group(p, c, g, kLanes, out_max, out_res, scores, overflow);
}

}  // namespace

const AlignKernels kAlignAvx512{simd::Level::avx512, kLanes, &align_pair32, &group16};

}  // namespace si::dp::detail
