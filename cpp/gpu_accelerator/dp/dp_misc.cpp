#include "gpu_accelerator/dp/dp_misc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/parallel.hpp"
#include "gpu_accelerator/dp/dp_align.hpp"
#include "gpu_accelerator/dp/dp_fw.hpp"

namespace si::dp {
namespace {

template <class T, class Acc>
void optimal_path_one(const T* cost, std::size_t rows, std::size_t cols, Acc* total, std::int32_t* path) {
  // back[r * cols + c] in {-1, 0, 1}: predecessor row offset for (r, c).
  std::vector<Acc> prev(rows), cur(rows);
  std::vector<std::int8_t> back(rows * cols, 0);
  for (std::size_t r = 0; r < rows; ++r) prev[r] = static_cast<Acc>(cost[r * cols]);
  for (std::size_t c = 1; c < cols; ++c) {
    for (std::size_t r = 0; r < rows; ++r) {
      Acc best = prev[r];
      std::int8_t off = 0;
      if (r > 0 && prev[r - 1] <= best) {  // smallest row wins ties
        best = prev[r - 1];
        off = -1;
      }
      if (r + 1 < rows && prev[r + 1] < best) {
        best = prev[r + 1];
        off = 1;
      }
      cur[r] = best + static_cast<Acc>(cost[r * cols + c]);
      back[r * cols + c] = off;
    }
    std::swap(prev, cur);
  }
  std::size_t end = 0;
  for (std::size_t r = 1; r < rows; ++r)
    if (prev[r] < prev[end]) end = r;
  *total = prev[end];
  std::size_t r = end;
  for (std::size_t c = cols; c-- > 0;) {
    path[c] = static_cast<std::int32_t>(r);
    r = static_cast<std::size_t>(static_cast<long>(r) + back[r * cols + c]);
  }
}

void check_path_shape(std::size_t rows, std::size_t cols) {
  if (rows == 0) throw std::invalid_argument("optimal path: the cost matrix has zero rows");
  if (cols == 0) throw std::invalid_argument("optimal path: the cost matrix has zero columns");
}

template <class T>
void rolling_one(const T* x, std::size_t n, std::size_t w, bool want_max, T* out) {
  std::vector<std::size_t> dq(n);  // ring not needed: indices only grow
  std::size_t head = 0, tail = 0;
  for (std::size_t i = 0; i < n; ++i) {
    while (tail > head && (want_max ? x[dq[tail - 1]] <= x[i] : x[dq[tail - 1]] >= x[i])) --tail;
    dq[tail++] = i;
    if (dq[head] + w <= i) ++head;
    if (i + 1 >= w) out[i + 1 - w] = x[dq[head]];
  }
}

}  // namespace

void optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                      std::int64_t* total, std::int32_t* path, int threads) {
  check_path_shape(rows, cols);
  si::parallel_for(batch, threads, [&](std::size_t b, std::size_t) {
    optimal_path_one(cost + b * rows * cols, rows, cols, total + b, path + b * cols);
  });
}

void optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                      std::int32_t* path, int threads) {
  check_path_shape(rows, cols);
  const std::size_t count = batch * rows * cols;
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(cost[i]))
      throw std::invalid_argument("optimal path: cost has a NaN or infinite value at flat index " + std::to_string(i));
  si::parallel_for(batch, threads, [&](std::size_t b, std::size_t) {
    optimal_path_one(cost + b * rows * cols, rows, cols, total + b, path + b * cols);
  });
}

void floyd_warshall_prepare(std::int32_t* d, std::size_t n) {
  std::int64_t wmax = 0;
  for (std::size_t i = 0; i < n * n; ++i) {
    const std::int32_t w = d[i];
    if (w == kNoEdge) continue;
    if (w > kNoEdge || w < -kNoEdge)
      throw std::invalid_argument("floyd_warshall: weight " + std::to_string(w) + " at (" + std::to_string(i / n) + ", " +
                                  std::to_string(i % n) + ") is beyond the no-edge sentinel 2**30 - 1");
    wmax = std::max<std::int64_t>(wmax, w < 0 ? -static_cast<std::int64_t>(w) : w);
  }
  if (n > 1 && static_cast<std::int64_t>(n - 1) * wmax >= (std::int64_t{1} << 29))
    throw std::invalid_argument("floyd_warshall: (n - 1) * max|weight| must be < 2**29 so that distances never "
                                "reach the no-edge sentinel");
  for (std::size_t i = 0; i < n; ++i) d[i * n + i] = std::min(d[i * n + i], 0);
}

void floyd_warshall_finish(std::int32_t* d, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (d[i * n + i] < 0)
      throw std::invalid_argument("floyd_warshall: the graph has a negative cycle through vertex " + std::to_string(i));
  for (std::size_t i = 0; i < n * n; ++i)
    if (d[i] >= kNoEdge / 2) d[i] = kNoEdge;
}

void floyd_warshall_i32(std::int32_t* d, std::size_t n, int threads, simd::Level level) {
  const FwKernels& kern = fw_kernel_set().at(level);
  floyd_warshall_prepare(d, n);
  // Blocked (tiles of kB x kB): for each pivot block, (1) the pivot tile, (2) its row and
  // column of tiles, (3) every other tile; tiles of a phase are independent and run on
  // threads. Relaxation is exact integer min-plus, so the result equals the plain loop's.
  constexpr std::size_t kB = 64;
  const std::size_t nb = (n + kB - 1) / kB;
  auto relax = [&](std::size_t kb, std::size_t ib, std::size_t jb) {
    const std::size_t k0 = kb * kB, k1 = std::min(n, k0 + kB);
    const std::size_t i0 = ib * kB, i1 = std::min(n, i0 + kB);
    const std::size_t j0 = jb * kB, j1 = std::min(n, j0 + kB);
    for (std::size_t k = k0; k < k1; ++k)
      for (std::size_t i = i0; i < i1; ++i) kern.relax_row(d + i * n + j0, d + k * n + j0, d[i * n + k], j1 - j0);
  };
  for (std::size_t kb = 0; kb < nb; ++kb) {
    relax(kb, kb, kb);
    si::parallel_for(2 * nb, threads, [&](std::size_t t, std::size_t) {
      const std::size_t b = t / 2;
      if (b == kb) return;
      if (t % 2 == 0) relax(kb, kb, b);  // row of tiles
      else relax(kb, b, kb);             // column of tiles
    });
    si::parallel_for(nb * nb, threads, [&](std::size_t t, std::size_t) {
      const std::size_t ib = t / nb, jb = t % nb;
      if (ib != kb && jb != kb) relax(kb, ib, jb);
    });
  }
  floyd_warshall_finish(d, n);
}

void rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        std::int32_t* out, int threads) {
  if (window == 0 || window > n) throw std::invalid_argument("rolling window must be in 1..len(series)");
  si::parallel_for(batch, threads, [&](std::size_t b, std::size_t) { rolling_one(x + b * n, n, window, want_max, out + b * (n - window + 1)); });
}

void rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max, float* out,
                        int threads) {
  if (window == 0 || window > n) throw std::invalid_argument("rolling window must be in 1..len(series)");
  for (std::size_t i = 0; i < batch * n; ++i)
    if (std::isnan(x[i])) throw std::invalid_argument("rolling min/max: series has a NaN at flat index " + std::to_string(i));
  si::parallel_for(batch, threads, [&](std::size_t b, std::size_t) { rolling_one(x + b * n, n, window, want_max, out + b * (n - window + 1)); });
}

void dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band, double* out,
             int threads) {
  if (la == 0 || lb == 0) throw std::invalid_argument("dtw: series must not be empty");
  for (std::size_t i = 0; i < batch * la; ++i)
    if (!std::isfinite(a[i])) throw std::invalid_argument("dtw: a has a NaN or infinite value at flat index " + std::to_string(i));
  for (std::size_t i = 0; i < batch * lb; ++i)
    if (!std::isfinite(b[i])) throw std::invalid_argument("dtw: b has a NaN or infinite value at flat index " + std::to_string(i));
  const double inf = std::numeric_limits<double>::infinity();
  if (band >= 0 && (la > lb ? la - lb : lb - la) > static_cast<std::size_t>(band)) {
    for (std::size_t k = 0; k < batch; ++k) out[k] = inf;  // the last cell is outside the band
    return;
  }
  si::parallel_for(batch, threads, [&](std::size_t k, std::size_t) {
    const float* x = a + k * la;
    const float* y = b + k * lb;
    // Rows of D with one leading column: buf[j + 1] = D(i, j), buf[0] = D(i, -1) = inf;
    // the virtual row -1 is 0 at D(-1, -1) and inf elsewhere.
    std::vector<double> prev(lb + 1, inf), cur(lb + 1, inf);
    prev[0] = 0;
    for (std::size_t i = 0; i < la; ++i) {
      std::size_t j0 = 0, j1 = lb;  // [j0, j1)
      if (band >= 0) {
        j0 = i > static_cast<std::size_t>(band) ? i - static_cast<std::size_t>(band) : 0;
        j1 = std::min(lb, i + static_cast<std::size_t>(band) + 1);
      }
      cur[j0] = inf;
      const double xi = static_cast<double>(x[i]);
      for (std::size_t j = j0; j < j1; ++j)
        cur[j + 1] = std::fabs(xi - static_cast<double>(y[j])) + std::min(std::min(prev[j + 1], prev[j]), cur[j]);
      if (j1 + 1 <= lb) cur[j1 + 1] = inf;
      std::swap(prev, cur);
    }
    out[k] = prev[lb];
  });
}

}  // namespace si::dp
