// The batch path of the exact flat scan, organised like a GEMM (Goto / BLIS):
// the queries are packed once into groups of VnKernels::panel_queries
// (column layout, pack_columns); the rows are packed block by block into
// panels of VnKernels::panel_rows. A block (about 256 KiB) stays in L2 while
// every query group passes over it, a query group (12 x 384 floats with
// AVX-512) stays in L1 while it passes over the block's panels, so each row
// is read from memory once per call and the register tile does the rest.
// The top-k selection is fused in: panel_tile compares each tile against the
// queries' current k-th scores, and the scalar code below looks only at the
// (few) queries whose top-k the tile can change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "vector_navigator/topk.hpp"
#include "vector_navigator/vn_kernels.hpp"

namespace si::vn {

// A 64-byte aligned float array (packed operands are read with full-line vector loads).
class AlignedFloats {
 public:
  explicit AlignedFloats(std::size_t n) : p_(static_cast<float*>(std::aligned_alloc(64, bytes(n)))) {
    if (!p_) throw std::bad_alloc();
  }
  float* data() { return p_.get(); }
  const float* data() const { return p_.get(); }

 private:
  static std::size_t bytes(std::size_t n) { return (n * sizeof(float) + 63) / 64 * 64 + 64; }
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> p_;
};

// The queries in groups of `width` (the last one zero padded): group g at
// out + g * width * dim, laid out as pack_columns makes it.
inline AlignedFloats pack_query_groups(const float* q, std::size_t nq, std::size_t dim, std::size_t width) {
  const std::size_t ngroups = (nq + width - 1) / width;
  AlignedFloats out(ngroups * width * dim);
  for (std::size_t g = 0; g < ngroups; ++g) {
    const std::size_t q0 = g * width;
    pack_columns(q + q0 * dim, std::min(width, nq - q0), dim, width, out.data() + g * width * dim);
  }
  return out;
}

// Rows per packed block: about 256 KiB, whole panels.
inline std::size_t panel_block_rows(std::size_t dim, std::size_t panel_rows) {
  const std::size_t fit = (256 * 1024) / (dim * sizeof(float)) / panel_rows * panel_rows;
  return std::max(panel_rows, fit);
}

// Top-k of queries [q0, q0 + qn) over rows [r0, r1) into tops[0, qn). q0 is a
// multiple of vk.panel_queries; groups = pack_query_groups(all queries).
// pack(s0, nr, panel): packs rows [s0, s0 + nr) (nr <= vk.panel_rows) as
// pack_columns does, widened to float32 where they are stored quantized.
// keep(slot): whether the row may be returned (deleted rows, filters).
// score(raw, slot): the final score of a row from its dot product.
// score_is_raw: score(raw, s) == raw, so that the kernel's compare against
// the k-th raw score may skip rows; otherwise every row is scored.
template <class Pack, class Keep, class Score>
void panel_scan_range(const VnKernels& vk, const float* groups, std::size_t q0, std::size_t qn, Pack&& pack,
                      std::size_t r0, std::size_t r1, std::size_t dim, bool score_is_raw, Keep&& keep, Score&& score,
                      TopK* tops) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const std::size_t PR = vk.panel_rows, PQ = vk.panel_queries;
  const std::size_t block_rows = panel_block_rows(dim, PR);
  AlignedFloats block(block_rows * dim);
  std::vector<float> tile(PQ * PR);
  std::vector<float> thr(qn, kNegInf);  // per query: the kernel's cut (stays -inf unless score_is_raw)
  for (std::size_t b0 = r0; b0 < r1; b0 += block_rows) {
    const std::size_t bn = std::min(block_rows, r1 - b0);
    const std::size_t npanels = (bn + PR - 1) / PR;
    for (std::size_t p = 0; p < npanels; ++p)
      pack(b0 + p * PR, std::min(PR, bn - p * PR), block.data() + p * PR * dim);
    for (std::size_t g0 = 0; g0 < qn; g0 += PQ) {
      const std::size_t gq = std::min(PQ, qn - g0);
      const float* group = groups + (q0 + g0) * dim;
      float* cut = thr.data() + g0;
      for (std::size_t p = 0; p < npanels; ++p) {
        std::uint32_t mask = vk.panel_tile(group, gq, block.data() + p * PR * dim, dim, cut, tile.data());
        const std::size_t s0 = b0 + p * PR, live = std::min(PR, bn - p * PR);
        while (mask) {
          const unsigned a = static_cast<unsigned>(__builtin_ctz(mask));
          mask &= mask - 1;
          TopK& t = tops[g0 + a];
          const float* ta = tile.data() + a * PR;
          float kth = t.threshold();
          for (std::size_t j = 0; j < live; ++j) {
            if (score_is_raw && ta[j] < kth) continue;
            const std::size_t s = s0 + j;
            if (!keep(s)) continue;
            const float v = score(ta[j], s);
            if (v < kth) continue;
            t.push(v, static_cast<std::uint32_t>(s));
            kth = t.threshold();
          }
          if (score_is_raw) cut[a] = kth;
        }
      }
    }
  }
}

}  // namespace si::vn
