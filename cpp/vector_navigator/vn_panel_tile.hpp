// The batch micro-kernel (VnKernels::panel_tile) of every SIMD level, built
// from a level's vector operations V. Included by each level's file, where V
// has internal linkage, so every instantiation is compiled with that file's
// ISA flags and stays local to it.
//
// V provides: reg (a vector of V::width floats), zero(), load(p) (unaligned),
// bcast(p) (one float to every lane), fma(a, b, acc), store(p, v) and
// any_ge(v, t) (some lane >= t).
//
// Register tile: two vectors of rows (2 * V::width = panel_rows) by QB
// queries, 2 * QB accumulators. Per element of dim: two loads from the row
// panel (streamed from L2), QB broadcasts from the query group (in L1), 2 * QB
// FMAs and no horizontal sums.
#pragma once

#include <cstddef>
#include <cstdint>

namespace si::vn::detail {

template <class V, std::size_t PanelQueries, int QB>
std::uint32_t panel_micro(const float* group, std::size_t nq, const float* panel, std::size_t dim,
                          const float* thr, float* tile) {
  constexpr std::size_t W = V::width, PR = 2 * V::width;
  typename V::reg a0[QB], a1[QB];
#pragma GCC unroll 12
  for (int a = 0; a < QB; ++a) a0[a] = a1[a] = V::zero();
#pragma GCC unroll 2
  for (std::size_t d = 0; d < dim; ++d) {
    const float* p = panel + d * PR;
    const float* g = group + d * PanelQueries;
    const typename V::reg r0 = V::load(p), r1 = V::load(p + W);
#pragma GCC unroll 12
    for (int a = 0; a < QB; ++a) {
      const typename V::reg b = V::bcast(g + a);
      a0[a] = V::fma(b, r0, a0[a]);
      a1[a] = V::fma(b, r1, a1[a]);
    }
  }
  std::uint32_t mask = 0;
#pragma GCC unroll 12
  for (int a = 0; a < QB; ++a) {
    if (static_cast<std::size_t>(a) >= nq) break;
    V::store(tile + a * PR, a0[a]);
    V::store(tile + a * PR + W, a1[a]);
    if (V::any_ge(a0[a], thr[a]) || V::any_ge(a1[a], thr[a])) mask |= 1u << a;
  }
  return mask;
}

}  // namespace si::vn::detail
