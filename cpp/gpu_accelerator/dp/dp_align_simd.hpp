// The 16-bit inter-sequence (SWIPE-style) alignment kernel of every SIMD
// level, written once over a level's int16 operations I (I16x16 for AVX2,
// I16x32 for AVX-512; common/simd_ops_*.hpp): one target per int16 lane, the
// query down the inner loop, saturating arithmetic (a lane that may have
// saturated is flagged for the exact 32-bit kernel). The per-column
// substitution profile is a table lookup per alphabet letter (alphabets of up
// to 32 letters; larger alphabets build it with scalar code).
//
// Included only by dp_align_{avx2,avx512}.cpp, with I of internal linkage, so
// every instantiation stays in the file compiled with its ISA flags.
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include "gpu_accelerator/dp/dp_align_common.hpp"

namespace si::dp::detail {

// Gotoh recurrences down one column j of the group (one target residue per
// lane), the query's cells in HE: HE[2i] = H(i, j-1) -> H(i, j) and HE[2i+1] =
// E(i, j), computed one column ahead so that H - open serves both E and F.
// Returns the column's last H; colmax gets the column's largest H.
template <class I, bool Global>
typename I::reg align_column(const std::uint8_t* q, std::size_t m, const std::int16_t* prof, typename I::reg* HE,
                             typename I::reg hdiag, typename I::reg f, typename I::reg vopen, typename I::reg vext,
                             typename I::reg& colmax) {
  using reg = typename I::reg;
  const reg zero = I::zero();
  reg h = zero;
  for (std::size_t i = 0; i < m; ++i) {
    const reg s = I::load(prof + q[i] * I::lanes);
    const reg hl = I::load(HE + 2 * i);
    const reg e = I::load(HE + 2 * i + 1);
    reg diag = I::adds(hdiag, s);
    if constexpr (!Global) diag = I::max(diag, zero);
    h = I::max(diag, I::max(e, f));
    hdiag = hl;
    const reg hmo = I::subs(h, vopen);
    I::store(HE + 2 * i, h);
    I::store(HE + 2 * i + 1, I::max(I::subs(e, vext), hmo));
    f = I::max(I::subs(f, vext), hmo);
    colmax = I::max(colmax, h);
  }
  return h;
}

template <class I>
void group16(const AlignParams& p, const std::uint8_t* q, std::size_t m, const AlignGroup& g, std::int16_t* scratch,
             std::int32_t* scores, std::uint8_t* overflow) {
  using reg = typename I::reg;
  constexpr int kLanes = I::lanes;
  const int K = p.alphabet_size;
  const GroupConstants c = group_constants(p);
  thread_local std::vector<std::int16_t> prof_buf;
  prof_buf.assign(static_cast<std::size_t>(K) * kLanes, 0);
  std::int16_t* prof = prof_buf.data();
  alignas(64) typename I::lut_entry lut_rows[32][32] = {};
  const bool fast_profile = K <= 32;
  if (fast_profile)
    for (int a = 0; a < K; ++a)
      for (int b = 0; b < K; ++b) lut_rows[a][b] = p.matrix[a * K + b];

  reg* HE = reinterpret_cast<reg*>(scratch);
  const reg neg = I::set1(std::numeric_limits<std::int16_t>::min());
  for (std::size_t i = 0; i < m; ++i) {
    const std::int64_t h0 = p.global ? -(std::int64_t(c.open) + std::int64_t(i) * c.ext) : 0;
    I::store(HE + 2 * i, I::set1(sat16(h0)));
    I::store(HE + 2 * i + 1, I::set1(sat16(h0 - c.open)));
  }
  alignas(64) std::int16_t len16[kLanes];
  for (int l = 0; l < kLanes; ++l) len16[l] = static_cast<std::int16_t>(std::min<std::int32_t>(g.lengths[l], 32767));
  const reg lens = I::load(len16);
  const reg vopen = I::set1(c.open16), vext = I::set1(c.ext16);
  reg vmax = p.global ? neg : I::zero();
  reg res = I::zero();

  for (std::int32_t j = 0; j < g.max_length; ++j) {
    const std::uint8_t* tcol = g.residues + static_cast<std::size_t>(j) * kLanes;
    if (fast_profile) {
      const typename I::lut_index idx = I::lut_indices(tcol);
      for (int a = 0; a < K; ++a) I::store(prof + a * kLanes, I::lut(lut_rows[a], idx));
    } else {
      build_profile_scalar(p, tcol, kLanes, prof);
    }
    std::int16_t diag0 = 0, f0 = sat16(-std::int64_t(c.open));
    if (p.global) {
      diag0 = j == 0 ? 0 : sat16(-(std::int64_t(c.open) + std::int64_t(j - 1) * c.ext));
      f0 = sat16(-(2 * std::int64_t(c.open) + std::int64_t(j) * c.ext));
    }
    reg colmax = neg;
    const reg h = p.global
                      ? align_column<I, true>(q, m, prof, HE, I::set1(diag0), I::set1(f0), vopen, vext, colmax)
                      : align_column<I, false>(q, m, prof, HE, I::set1(diag0), I::set1(f0), vopen, vext, colmax);
    const typename I::cmp active = I::gt(lens, I::set1(static_cast<std::int16_t>(j)));
    vmax = I::select(active, I::max(vmax, colmax), vmax);
    if (p.global) res = I::select(I::eq(lens, I::set1(static_cast<std::int16_t>(j + 1))), h, res);
  }
  alignas(64) std::int16_t out_max[kLanes], out_res[kLanes];
  I::store(out_max, vmax);
  I::store(out_res, res);
  finish_group(p, c, g, kLanes, out_max, out_res, scores, overflow);
}

}  // namespace si::dp::detail
