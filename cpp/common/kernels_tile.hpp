// The queries x rows dot-product micro-kernels, for any SIMD level Isa (its
// float32 operations Isa::f32 and its tile shapes; see simd_ops_avx2.hpp).
// Two forms of one register tile, accumulators for QB queries x NV vectors:
//  - dot_tile: queries and rows both row-major (no packing, for a few queries):
//    a tile of QB queries x RB rows loads each row chunk once for QB queries
//    and ends in horizontal sums.
//  - the broadcast form (bcast_accumulate), on rows packed column by column
//    (pack_columns: dim x width): per element of dim, NV vector loads of
//    rows, QB broadcasts of a query element, QB * NV FMAs and no horizontal
//    sums. panel_tile (the flat scan's batch kernel, queries packed too, with
//    the top-k compare fused in) and qk_block (row-major queries against a
//    packed key block: the CPU cosine and the sentiment head's first layer)
//    are its two users.
// See kernels_reduce.hpp for the linkage rule.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/vector_kernels.hpp"

namespace si::simd::kernels {

// ---- row-major form ----

// Forced inline: the register tiles must stay in registers, which they do only
// when the step is inlined into its loop.
#define SI_TILE_INLINE inline __attribute__((always_inline))

// acc[a][b] += q(a)[i, i + width) * rows(b)[i, i + width), the last vector
// masked to n lanes when Tail.
template <class V, int QB, int RB, bool Tail>
SI_TILE_INLINE void dot_step(const float* q, const float* rows, std::size_t dim, std::size_t i, std::size_t n,
                             typename V::reg (&acc)[QB][RB]) {
  typename V::reg rv[RB];
#pragma GCC unroll 4
  for (int b = 0; b < RB; ++b) rv[b] = Tail ? V::load_n(rows + b * dim + i, n) : V::load(rows + b * dim + i);
#pragma GCC unroll 4
  for (int a = 0; a < QB; ++a) {
    const typename V::reg qv = Tail ? V::load_n(q + a * dim + i, n) : V::load(q + a * dim + i);
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) acc[a][b] = V::fma(qv, rv[b], acc[a][b]);
  }
}

template <class V, int QB, int RB>
SI_TILE_INLINE void dot_micro(const float* q, const float* rows, std::size_t dim, float* out, std::size_t out_stride) {
  constexpr std::size_t W = V::width;
  typename V::reg acc[QB][RB];
#pragma GCC unroll 4
  for (int a = 0; a < QB; ++a)
#pragma GCC unroll 4
    for (int b = 0; b < RB; ++b) acc[a][b] = V::zero();
  std::size_t i = 0;
  for (; i + W <= dim; i += W) dot_step<V, QB, RB, false>(q, rows, dim, i, W, acc);
  if (i < dim) dot_step<V, QB, RB, true>(q, rows, dim, i, dim - i, acc);
  if constexpr (RB == 4) {
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a) V::hsum4(acc[a][0], acc[a][1], acc[a][2], acc[a][3], out + a * out_stride);
  } else {
#pragma GCC unroll 4
    for (int a = 0; a < QB; ++a)
#pragma GCC unroll 4
      for (int b = 0; b < RB; ++b) out[a * out_stride + b] = V::hsum(acc[a][b]);
  }
}

template <class V, int QB, int RB>
inline void dot_row_loop(const float* q, const float* rows, std::size_t nr, std::size_t dim, float* out,
                         std::size_t out_stride) {
  std::size_t r = 0;
  if constexpr (RB > 1)
    for (; r + RB <= nr; r += RB) dot_micro<V, QB, RB>(q, rows + r * dim, dim, out + r, out_stride);
  for (; r < nr; ++r) dot_micro<V, QB, 1>(q, rows + r * dim, dim, out + r, out_stride);
}

// out[qi * out_stride + r] = dot(q + qi * dim, rows + r * dim), qi < nq, r < nr.
template <class Isa>
void dot_tile(const float* q, std::size_t nq, const float* rows, std::size_t nr, std::size_t dim, float* out,
              std::size_t out_stride) {
  using V = typename Isa::f32;
  constexpr int QB = Isa::dot_tile_queries;
  if (nq == 1) return dot_row_loop<V, 1, Isa::single_query_rows>(q, rows, nr, dim, out, out_stride);
  std::size_t qi = 0;
  for (; qi + QB <= nq; qi += QB) dot_row_loop<V, QB, 4>(q + qi * dim, rows, nr, dim, out + qi * out_stride, out_stride);
  for (; qi < nq; ++qi) dot_row_loop<V, 1, 4>(q + qi * dim, rows, nr, dim, out + qi * out_stride, out_stride);
}

// ---- broadcast form, on packed rows ----

// acc[a][v] += *query(d, a) * k[d * KD + v * width], one element d of dim.
template <class V, int QB, int NV, std::size_t KD, class Query>
SI_TILE_INLINE void bcast_step(Query query, const float* k, std::size_t d, typename V::reg (&acc)[QB][NV]) {
  const float* kr = k + d * KD;
  typename V::reg r[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) r[v] = V::load(kr + v * V::width);
#pragma GCC unroll 12
  for (int a = 0; a < QB; ++a) {
    const typename V::reg b = V::bcast(query(d, a));
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[a][v] = V::fma(b, r[v], acc[a][v]);
  }
}

// acc[a][v] = sum_d *query(d, a) * k[d * KD + v * width] for d < dim, the
// loop over d unrolled DU (1 or 2) times.
template <class V, int QB, int NV, std::size_t KD, int DU, class Query>
SI_TILE_INLINE void bcast_accumulate(Query query, const float* k, std::size_t dim, typename V::reg (&acc)[QB][NV]) {
#pragma GCC unroll 12
  for (int a = 0; a < QB; ++a)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[a][v] = V::zero();
  static_assert(DU == 1 || DU == 2, "the loop over dim is unrolled once or twice");
  if constexpr (DU == 2) {
#pragma GCC unroll 2
    for (std::size_t d = 0; d < dim; ++d) bcast_step<V, QB, NV, KD>(query, k, d, acc);
  } else {
    for (std::size_t d = 0; d < dim; ++d) bcast_step<V, QB, NV, KD>(query, k, d, acc);
  }
}

// The panel tile of QB queries: panel_rows = 2 * width rows.
template <class Isa, int QB>
std::uint32_t panel_micro(const float* group, std::size_t nq, const float* panel, std::size_t dim, const float* thr,
                          float* tile) {
  using V = typename Isa::f32;
  constexpr std::size_t W = V::width, PR = 2 * W, PQ = Isa::panel_queries;
  typename V::reg acc[QB][2];
  bcast_accumulate<V, QB, 2, PR, 2>([group](std::size_t d, int a) { return group + d * PQ + a; }, panel, dim, acc);
  std::uint32_t mask = 0;
#pragma GCC unroll 12
  for (int a = 0; a < QB; ++a) {
    if (static_cast<std::size_t>(a) >= nq) break;
    V::store(tile + a * PR, acc[a][0]);
    V::store(tile + a * PR + W, acc[a][1]);
    if (V::any_ge(acc[a][0], thr[a]) || V::any_ge(acc[a][1], thr[a])) mask |= 1u << a;
  }
  return mask;
}

// tile[a * panel_rows + j] = dot(query a, row j) for a < nq <= panel_queries,
// j < panel_rows (group: pack_columns(queries, nq, dim, panel_queries), panel:
// pack_columns(rows, <= panel_rows, dim, panel_rows)). Bit a of the result is
// set when some tile[a * panel_rows + j] >= thr[a]. The tile height is nq
// rounded up to a multiple of Isa::panel_query_step.
template <class Isa, std::size_t QB = Isa::panel_query_step>
std::uint32_t panel_tile(const float* group, std::size_t nq, const float* panel, std::size_t dim, const float* thr,
                         float* tile) {
  if constexpr (QB < Isa::panel_queries)
    if (nq > QB) return panel_tile<Isa, QB + Isa::panel_query_step>(group, nq, panel, dim, thr, tile);
  return panel_micro<Isa, static_cast<int>(QB)>(group, nq, panel, dim, thr, tile);
}

// NQ row-major queries x NV vectors of key columns; `rem` valid columns.
template <class V, int NQ, int NV, int DU>
void qk_micro(const float* q, std::size_t dim, const float* kt, std::size_t rem, float* out, std::size_t ldo) {
  constexpr std::size_t W = V::width;
  typename V::reg acc[NQ][NV];
  bcast_accumulate<V, NQ, NV, kKeyBlock, DU>([q, dim](std::size_t d, int a) { return q + a * dim + d; }, kt, dim, acc);
  for (int a = 0; a < NQ; ++a)
    for (int v = 0; v < NV; ++v) {
      const std::size_t j = static_cast<std::size_t>(v) * W;
      if (j >= rem) break;
      if (rem - j >= W)
        V::store(out + a * ldo + j, acc[a][v]);
      else
        V::store_n(out + a * ldo + j, acc[a][v], rem - j);
    }
}

template <class V, int NV, int DU>
void qk_columns(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t rem, float* out,
                std::size_t ldo) {
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) qk_micro<V, 4, NV, DU>(q + i * dim, dim, kt, rem, out + i * ldo, ldo);
  for (; i < m; ++i) qk_micro<V, 1, NV, DU>(q + i * dim, dim, kt, rem, out + i * ldo, ldo);
}

// out[i * ldo + j] = sum_d q[i * dim + d] * kt[d * kKeyBlock + j] for i < m,
// j < valid <= kKeyBlock: tiles of 4 queries x 4 vectors of columns (16
// accumulators), so that the packed block streams from L2 once per 4 queries.
template <class Isa>
void qk_block(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid, float* out,
              std::size_t ldo) {
  using V = typename Isa::f32;
  constexpr std::size_t W = V::width, kCols = 4 * W;
  for (std::size_t c0 = 0; c0 < valid; c0 += kCols) {
    const std::size_t rem = valid - c0 < kCols ? valid - c0 : kCols;
    switch ((rem + W - 1) / W) {
      case 1: qk_columns<V, 1, Isa::qk_unroll>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
      case 2: qk_columns<V, 2, Isa::qk_unroll>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
      case 3: qk_columns<V, 3, Isa::qk_unroll>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
      default: qk_columns<V, 4, Isa::qk_unroll>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
    }
  }
}

}  // namespace si::simd::kernels

#undef SI_TILE_INLINE
