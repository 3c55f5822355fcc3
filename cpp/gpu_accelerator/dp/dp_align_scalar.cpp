// Scalar reference alignment kernel: exact 32-bit Gotoh recurrences.
//   E(i,j) = max(E(i,j-1) - ext, H(i,j-1) - open)   gap in the query
//   F(i,j) = max(F(i-1,j) - ext, H(i-1,j) - open)   gap in the target
//   H(i,j) = max(H(i-1,j-1) + s(q_i, t_j), E, F [, 0 for local])
// Global boundaries: H(-1,-1) = 0, H(i,-1) = -(open + i*ext), H(-1,j) = -(open + j*ext).
#include <algorithm>
#include <limits>
#include <vector>

#include "gpu_accelerator/dp/dp_align_common.hpp"

namespace si::dp::detail {
namespace {

constexpr std::int32_t kNegInf = std::numeric_limits<std::int32_t>::min() / 2;

}  // namespace

std::int32_t align_pair32(const AlignParams& p, const std::uint8_t* q, std::size_t m,
                          const std::uint8_t* t, std::size_t n) {
  const std::int32_t open = p.gap_open, ext = p.gap_extend;
  const int K = p.alphabet_size;
  if (m == 0 || n == 0) {
    if (!p.global) return 0;
    const std::size_t k = m + n;
    return k == 0 ? 0 : -(open + static_cast<std::int32_t>(k - 1) * ext);
  }
  thread_local std::vector<std::int32_t> hbuf, ebuf;
  hbuf.resize(m);
  ebuf.resize(m);
  std::int32_t* H = hbuf.data();  // H(i, j-1)
  std::int32_t* E = ebuf.data();  // E(i, j-1)
  for (std::size_t i = 0; i < m; ++i) {
    H[i] = p.global ? -(open + static_cast<std::int32_t>(i) * ext) : 0;
    E[i] = kNegInf;
  }
  std::int32_t best = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const std::int8_t* col = p.matrix + t[j];  // score(a, t_j) = col[a * K]
    std::int32_t diag, up;
    if (p.global) {
      diag = j == 0 ? 0 : -(open + static_cast<std::int32_t>(j - 1) * ext);
      up = -(open + static_cast<std::int32_t>(j) * ext);
    } else {
      diag = 0;
      up = 0;
    }
    std::int32_t f = kNegInf;
    for (std::size_t i = 0; i < m; ++i) {
      f = std::max(f - ext, up - open);
      const std::int32_t e = std::max(E[i] - ext, H[i] - open);
      std::int32_t h = std::max(diag + col[q[i] * K], std::max(e, f));
      if (!p.global) h = std::max(h, 0);
      diag = H[i];
      H[i] = h;
      E[i] = e;
      up = h;
      best = std::max(best, h);
    }
  }
  return p.global ? H[m - 1] : best;
}

const AlignKernels kAlignScalar{simd::Level::scalar, 1, &align_pair32, nullptr};

}  // namespace si::dp::detail
