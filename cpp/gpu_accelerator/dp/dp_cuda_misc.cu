// CUDA twins of the optimal path, Floyd-Warshall, rolling min/max and DTW (see
// dp_cuda.hpp): stream-ordered launchers, their host twins (the same
// per-thread __host__ __device__ code run on the CPU), and the host-array
// functions built on the launchers.
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/errors.hpp"
#include "gpu_accelerator/cuda_probe.hpp"
#include "gpu_accelerator/dp/dp_cells.cuh"
#include "gpu_accelerator/dp/dp_cuda.hpp"
#include "gpu_accelerator/dp/dp_cuda_common.cuh"
#include "gpu_accelerator/dp/dp_misc.hpp"

namespace si::dp::gpu {
namespace {

using namespace si::dp::cuda_cells;
using namespace si::dp::gpu::detail;

SI_HD bool finite_f32(float x) { return x == x && fabsf(x) <= FLT_MAX; }

// ------------------------------------------------------------------ optimal path
constexpr int kPathBig = std::numeric_limits<int>::max();
constexpr long long kPathLimit = 1LL << 30;  // max|cost| * cols bound of the int32 accumulation

// The end row (smallest total, ties to the smallest row) and the path back
// from it through the predecessor offsets.
template <class Acc, class Tot>
SI_HD void path_backtrack(const Acc* last, int rows, int cols, const signed char* back, Tot* total,
                          std::int32_t* path) {
  int end = 0;
  for (int r = 1; r < rows; ++r)
    if (last[r] < last[end]) end = r;
  *total = last[end];
  int r = end;
  for (int c = cols - 1; c >= 0; --c) {
    path[c] = r;
    r += back[static_cast<long long>(r) * cols + c];
  }
}

// One matrix per thread. prev/cur: rows each; back: rows * cols.
SI_HD void path_thread_i32(const std::int32_t* cost, int rows, int cols, int* prev, int* cur, signed char* back,
                           std::int64_t* total, std::int32_t* path) {
  for (int r = 0; r < rows; ++r) prev[r] = cost[static_cast<long long>(r) * cols];
  for (int c = 1; c < cols; ++c) {
    for (int r = 0; r < rows; ++r) {
      const int up = r > 0 ? prev[r - 1] : kPathBig;
      const int down = r + 1 < rows ? prev[r + 1] : kPathBig;
      signed char off;
      cur[r] = path_cell_i32(up, prev[r], down, cost[static_cast<long long>(r) * cols + c], off);
      back[static_cast<long long>(r) * cols + c] = off;
    }
    int* t = prev;
    prev = cur;
    cur = t;
  }
  path_backtrack(prev, rows, cols, back, total, path);
}

SI_HD void path_thread_f32(const float* cost, int rows, int cols, double* prev, double* cur, signed char* back,
                           double* total, std::int32_t* path) {
  for (int r = 0; r < rows; ++r) prev[r] = cost[static_cast<long long>(r) * cols];
  for (int c = 1; c < cols; ++c) {
    for (int r = 0; r < rows; ++r) {
      double best = prev[r];
      signed char off = 0;
      if (r > 0 && prev[r - 1] <= best) {
        best = prev[r - 1];
        off = -1;
      }
      if (r + 1 < rows && prev[r + 1] < best) {
        best = prev[r + 1];
        off = 1;
      }
      cur[r] = best + static_cast<double>(cost[static_cast<long long>(r) * cols + c]);
      back[static_cast<long long>(r) * cols + c] = off;
    }
    double* t = prev;
    prev = cur;
    cur = t;
  }
  path_backtrack(prev, rows, cols, back, total, path);
}

// The device-side value check of one matrix: false (and a status bit) when the
// kernel must not run it (int32 overflow, NaN / infinity).
SI_HD bool path_costs_ok(const std::int32_t* cost, long long rc, int cols, int* status) {
  if (!status) return true;
  for (long long i = 0; i < rc; ++i) {
    const long long c = cost[i] < 0 ? -static_cast<long long>(cost[i]) : cost[i];
    if (c * cols >= kPathLimit) {
      flag(status, kStatusPathRange);
      return false;
    }
  }
  return true;
}

SI_HD bool path_costs_ok(const float* cost, long long rc, int, int* status) {
  if (!status) return true;
  for (long long i = 0; i < rc; ++i)
    if (!finite_f32(cost[i])) {
      flag(status, kStatusNonFinite);
      return false;
    }
  return true;
}

template <class T>
struct PathTypes;
template <>
struct PathTypes<std::int32_t> {
  using Acc = int;
  using Tot = std::int64_t;
};
template <>
struct PathTypes<float> {
  using Acc = double;
  using Tot = double;
};

// Where matrix b's scratch rows and back-pointers live in the workspace.
template <class T>
struct PathWork {
  using Acc = typename PathTypes<T>::Acc;
  Acc* scratch;
  signed char* back;
  static std::size_t scratch_bytes(std::size_t batch, std::size_t rows) {
    return align_up(checked_mul(checked_mul(2 * batch, rows, "optimal path"), sizeof(Acc), "optimal path"));
  }
  PathWork(void* ws, std::size_t batch, std::size_t rows)
      : scratch(static_cast<Acc*>(ws)), back(static_cast<signed char*>(ws) + scratch_bytes(batch, rows)) {}
};

template <class T>
SI_HD void path_one(const T* cost, long long b, int rows, int cols, typename PathTypes<T>::Acc* scratch,
                    signed char* back, typename PathTypes<T>::Tot* total, std::int32_t* path, int* status) {
  const long long rc = static_cast<long long>(rows) * cols;
  if (!path_costs_ok(cost + b * rc, rc, cols, status)) return;
  if constexpr (std::is_same<T, float>::value)
    path_thread_f32(cost + b * rc, rows, cols, scratch + 2 * b * rows, scratch + (2 * b + 1) * rows, back + b * rc,
                    total + b, path + b * cols);
  else
    path_thread_i32(cost + b * rc, rows, cols, scratch + 2 * b * rows, scratch + (2 * b + 1) * rows, back + b * rc,
                    total + b, path + b * cols);
}

template <class T>
__global__ void path_kernel(const T* cost, int batch, int rows, int cols, typename PathTypes<T>::Acc* scratch,
                            signed char* back, typename PathTypes<T>::Tot* total, std::int32_t* path, int* status) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b < batch) path_one<T>(cost, b, rows, cols, scratch, back, total, path, status);
}

void check_path_dims(std::size_t batch, std::size_t rows, std::size_t cols) {
  if (rows == 0) throw std::invalid_argument("optimal path: the cost matrix has zero rows");
  if (cols == 0) throw std::invalid_argument("optimal path: the cost matrix has zero columns");
  if (rows > (1u << 30) || cols > (1u << 30)) throw std::invalid_argument("optimal path: matrix too large");
  if (batch > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument("optimal path: batch too large for one launch");
}

constexpr unsigned kPathThreads = 128;

template <class T>
void launch_path(const T* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                 typename PathTypes<T>::Tot* total, std::int32_t* path, void* ws, std::size_t ws_bytes, int* status,
                 StreamHandle stream) {
  need_workspace(ws, ws_bytes, optimal_path_workspace_bytes(std::is_same<T, float>::value, batch, rows, cols),
                 "optimal path");
  if (batch == 0) return;
  const PathWork<T> w(ws, batch, rows);
  path_kernel<T><<<grid_for(batch, kPathThreads, "optimal path"), kPathThreads, 0, stream>>>(
      cost, int(batch), int(rows), int(cols), w.scratch, w.back, total, path, status);
  after_launch("optimal path kernel launch");
}

template <class T>
void path_host(const T* cost, std::size_t batch, std::size_t rows, std::size_t cols,
               typename PathTypes<T>::Tot* total, std::int32_t* path, int* status) {
  std::vector<unsigned char> ws(optimal_path_workspace_bytes(std::is_same<T, float>::value, batch, rows, cols));
  const PathWork<T> w(ws.data(), batch, rows);
  for (std::size_t b = 0; b < batch; ++b)
    path_one<T>(cost, static_cast<long long>(b), int(rows), int(cols), w.scratch, w.back, total, path, status);
}

template <class T>
void path_on_device(const T* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                    typename PathTypes<T>::Tot* total, std::int32_t* path) {
  const std::size_t ws_bytes = optimal_path_workspace_bytes(std::is_same<T, float>::value, batch, rows, cols);
  require_device();
  if (batch == 0) return;
  DeviceBuffer<T> dcost(cost, batch * rows * cols);
  DeviceBuffer<typename PathTypes<T>::Tot> dtotal(batch);
  DeviceBuffer<std::int32_t> dpath(batch * cols);
  DeviceBuffer<unsigned char> dws(ws_bytes);
  launch_path<T>(dcost.ptr, batch, rows, cols, dtotal.ptr, dpath.ptr, dws.ptr, ws_bytes, nullptr, nullptr);
  check(cudaDeviceSynchronize(), "optimal path kernel");
  dtotal.download(total);
  dpath.download(path);
}

// ------------------------------------------------------------------ Floyd-Warshall (blocked)
constexpr int kTile = 32;

// Cells past the edge of the matrix read as isolated vertices (0 on the
// diagonal, no edge elsewhere) and are never written, so any n runs on whole tiles.
SI_HD int fw_get(const int* d, int n, int i, int j) {
  if (i < n && j < n) return d[static_cast<long long>(i) * n + j];
  return i == j ? 0 : kNoEdge;
}
SI_HD void fw_put(int* d, int n, int i, int j, int v) {
  if (i < n && j < n) d[static_cast<long long>(i) * n + j] = v;
}

// The CPU's floyd_warshall_prepare and _finish, one cell at a time.
SI_HD void fw_prepare_cell(int* d, long long n, long long idx, int* status) {
  const int w = d[idx];
  if (w != kNoEdge) {
    const long long a = w < 0 ? -static_cast<long long>(w) : w;
    if (a > kNoEdge || (n - 1) * a >= (1LL << 29)) flag(status, kStatusWeightRange);
  }
  if (idx / n == idx % n && w > 0) d[idx] = 0;
}
SI_HD void fw_finish_cell(int* d, long long n, long long idx, int* status) {
  if (idx / n == idx % n && d[idx] < 0) flag(status, kStatusNegativeCycle);
  if (d[idx] >= kNoEdge / 2) d[idx] = kNoEdge;
}

__global__ void fw_prepare(int* d, long long n, int* status) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < n * n) fw_prepare_cell(d, n, idx, status);
}
__global__ void fw_finish(int* d, long long n, int* status) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < n * n) fw_finish_cell(d, n, idx, status);
}

__global__ void fw_phase1(int* d, int n, int k) {
  __shared__ int t[kTile][kTile];
  const int i = threadIdx.y, j = threadIdx.x, r = k * kTile + i, c = k * kTile + j;
  t[i][j] = fw_get(d, n, r, c);
  __syncthreads();
  for (int kk = 0; kk < kTile; ++kk) {
    const int v = fw_cell(t[i][kk], t[kk][j], t[i][j]);
    __syncthreads();
    t[i][j] = v;
    __syncthreads();
  }
  fw_put(d, n, r, c, t[i][j]);
}

__global__ void fw_phase2(int* d, int n, int k) {
  const int b = blockIdx.x;
  if (b == k) return;
  __shared__ int pivot[kTile][kTile], self[kTile][kTile];
  const int i = threadIdx.y, j = threadIdx.x;
  const bool row = blockIdx.y == 0;  // tile (k, b) or (b, k)
  const int sr = (row ? k : b) * kTile + i, sc = (row ? b : k) * kTile + j;
  pivot[i][j] = fw_get(d, n, k * kTile + i, k * kTile + j);
  self[i][j] = fw_get(d, n, sr, sc);
  __syncthreads();
  for (int kk = 0; kk < kTile; ++kk) {
    const int v = row ? fw_cell(pivot[i][kk], self[kk][j], self[i][j]) : fw_cell(self[i][kk], pivot[kk][j], self[i][j]);
    __syncthreads();
    self[i][j] = v;
    __syncthreads();
  }
  fw_put(d, n, sr, sc, self[i][j]);
}

__global__ void fw_phase3(int* d, int n, int k) {
  const int bi = blockIdx.y, bj = blockIdx.x;
  if (bi == k || bj == k) return;
  __shared__ int col[kTile][kTile], row[kTile][kTile];
  const int i = threadIdx.y, j = threadIdx.x, r = bi * kTile + i, c = bj * kTile + j;
  col[i][j] = fw_get(d, n, r, k * kTile + j);
  row[i][j] = fw_get(d, n, k * kTile + i, c);
  __syncthreads();
  int v = fw_get(d, n, r, c);
#pragma unroll 8
  for (int kk = 0; kk < kTile; ++kk) v = fw_cell(col[i][kk], row[kk][j], v);
  fw_put(d, n, r, c, v);
}

// The blocked schedule on the host, tile by tile, with the kernels' cell
// functions: phase 1 and 2 update a tile one pivot step at a time from the
// previous step's values (the kernels' __syncthreads), phase 3 from the
// pivot row and column tiles as they were when the phase began.
struct HostTile {
  int v[kTile][kTile];
  void load(const int* d, int n, int ti, int tj) {
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) v[i][j] = fw_get(d, n, ti * kTile + i, tj * kTile + j);
  }
  void store(int* d, int n, int ti, int tj) const {
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) fw_put(d, n, ti * kTile + i, tj * kTile + j, v[i][j]);
  }
};

// self := relax(self) through pivot steps kk, reading via `a`, `b` tiles (Jacobi per step).
template <class Pick>
void host_tile_steps(HostTile& self, Pick&& pick) {
  HostTile next;
  for (int kk = 0; kk < kTile; ++kk) {
    for (int i = 0; i < kTile; ++i)
      for (int j = 0; j < kTile; ++j) next.v[i][j] = pick(kk, i, j);
    self = next;
  }
}

void fw_host_blocked(int* d, int n) {
  const int nb = (n + kTile - 1) / kTile;
  HostTile pivot, self, col, row;
  for (int k = 0; k < nb; ++k) {
    pivot.load(d, n, k, k);
    host_tile_steps(pivot, [&](int kk, int i, int j) { return fw_cell(pivot.v[i][kk], pivot.v[kk][j], pivot.v[i][j]); });
    pivot.store(d, n, k, k);
    for (int b = 0; b < nb; ++b) {
      if (b == k) continue;
      self.load(d, n, k, b);
      host_tile_steps(self, [&](int kk, int i, int j) { return fw_cell(pivot.v[i][kk], self.v[kk][j], self.v[i][j]); });
      self.store(d, n, k, b);
      self.load(d, n, b, k);
      host_tile_steps(self, [&](int kk, int i, int j) { return fw_cell(self.v[i][kk], pivot.v[kk][j], self.v[i][j]); });
      self.store(d, n, b, k);
    }
    for (int bi = 0; bi < nb; ++bi)
      for (int bj = 0; bj < nb; ++bj) {
        if (bi == k || bj == k) continue;
        col.load(d, n, bi, k);
        row.load(d, n, k, bj);
        self.load(d, n, bi, bj);
        for (int i = 0; i < kTile; ++i)
          for (int j = 0; j < kTile; ++j)
            for (int kk = 0; kk < kTile; ++kk) self.v[i][j] = fw_cell(col.v[i][kk], row.v[kk][j], self.v[i][j]);
        self.store(d, n, bi, bj);
      }
  }
}

void check_fw_dims(std::size_t n) {
  if (n > static_cast<std::size_t>(46340))  // n * n must fit in int32 tile indexing
    throw std::invalid_argument("floyd_warshall: n must be <= 46340 on the GPU, got " + std::to_string(n));
}

// ------------------------------------------------------------------ rolling min / max
SI_HD int roll_i32(const std::int32_t* x, long long i, long long w, bool want_max, int*) {
  int acc = x[i];
  long long k = 1;
  for (; k + 1 < w; k += 2) acc = want_max ? max3_i32(acc, x[i + k], x[i + k + 1]) : min3_i32(acc, x[i + k], x[i + k + 1]);
  if (k < w) acc = want_max ? max3_i32(acc, x[i + k], x[i + k]) : min3_i32(acc, x[i + k], x[i + k]);
  return acc;
}

SI_HD float roll_f32(const float* x, long long i, long long w, bool want_max, int* status) {
  float acc = x[i];
  bool nan = acc != acc;
  for (long long k = 1; k < w; ++k) {
    nan |= x[i + k] != x[i + k];
    acc = want_max ? fmaxf(acc, x[i + k]) : fminf(acc, x[i + k]);
  }
  if (nan) flag(status, kStatusNonFinite);
  return acc;
}

template <class T>
SI_HD void roll_one(const T* x, long long idx, long long n, long long w, bool want_max, T* out, int* status) {
  const long long nout = n - w + 1, b = idx / nout, i = idx % nout;
  if constexpr (std::is_same<T, float>::value)
    out[idx] = roll_f32(x + b * n, i, w, want_max, status);
  else
    out[idx] = roll_i32(x + b * n, i, w, want_max, status);
}

template <class T>
__global__ void roll_kernel(const T* x, long long total, long long n, long long w, bool want_max, T* out, int* status) {
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx < total) roll_one<T>(x, idx, n, w, want_max, out, status);
}

// Outputs (batch * (n - window + 1)), after checking the window.
std::size_t roll_outputs(std::size_t batch, std::size_t n, std::size_t window) {
  if (window == 0 || window > n)
    throw std::invalid_argument("rolling window must be in 1..len(series)=" + std::to_string(n) + ", got " +
                                std::to_string(window));
  checked_mul(batch, n, "rolling min/max");
  return batch * (n - window + 1);
}

template <class T>
void launch_roll(const T* x, std::size_t batch, std::size_t n, std::size_t w, bool want_max, T* out, int* status,
                 StreamHandle stream) {
  const std::size_t total = roll_outputs(batch, n, w);
  if (total == 0) return;
  roll_kernel<T><<<grid_for(total, 256, "rolling min/max"), 256, 0, stream>>>(x, (long long)total, (long long)n,
                                                                              (long long)w, want_max, out, status);
  after_launch("rolling min/max kernel launch");
}

template <class T>
void roll_host(const T* x, std::size_t batch, std::size_t n, std::size_t w, bool want_max, T* out, int* status) {
  const std::size_t total = roll_outputs(batch, n, w);
  for (std::size_t idx = 0; idx < total; ++idx) roll_one<T>(x, (long long)idx, (long long)n, (long long)w, want_max, out, status);
}

template <class T>
void roll_on_device(const T* x, std::size_t batch, std::size_t n, std::size_t w, bool want_max, T* out) {
  const std::size_t total = roll_outputs(batch, n, w);
  require_device();
  if (total == 0) return;
  DeviceBuffer<T> dx(x, batch * n), dout(total);
  launch_roll<T>(dx.ptr, batch, n, w, want_max, dout.ptr, nullptr, nullptr);
  check(cudaDeviceSynchronize(), "rolling min/max kernel");
  dout.download(out);
}

// ------------------------------------------------------------------ DTW
SI_HD double dtw_thread(const float* x, const float* y, long la, long lb, long band, double* prev, double* cur) {
  const double inf = HUGE_VAL;
  for (long j = 0; j < lb; ++j) prev[j] = inf;
  for (long i = 0; i < la; ++i) {
    long j0 = 0, j1 = lb;
    if (band >= 0) {
      j0 = i > band ? i - band : 0;
      j1 = i + band + 1 < lb ? i + band + 1 : lb;
    }
    for (long j = 0; j < lb; ++j) cur[j] = inf;
    for (long j = j0; j < j1; ++j) {
      const double c = fabs(static_cast<double>(x[i]) - static_cast<double>(y[j]));
      double best;
      if (i == 0 && j == 0) {
        best = 0;
      } else {
        best = inf;
        if (i > 0) best = fmin(best, prev[j]);
        if (j > 0) best = fmin(best, cur[j - 1]);
        if (i > 0 && j > 0) best = fmin(best, prev[j - 1]);
      }
      cur[j] = c + best;
    }
    double* t = prev;
    prev = cur;
    cur = t;
  }
  return prev[lb - 1];
}

SI_HD void dtw_one(const float* a, const float* b, long k, long la, long lb, long band, double* scratch, double* out,
                   int* status) {
  const float* x = a + k * la;
  const float* y = b + k * lb;
  if (status) {
    bool ok = true;
    for (long i = 0; i < la; ++i) ok &= finite_f32(x[i]);
    for (long j = 0; j < lb; ++j) ok &= finite_f32(y[j]);
    if (!ok) {
      flag(status, kStatusNonFinite);
      return;
    }
  }
  out[k] = dtw_thread(x, y, la, lb, band, scratch + 2 * k * lb, scratch + (2 * k + 1) * lb);
}

__global__ void dtw_kernel(const float* a, const float* b, long batch, long la, long lb, long band, double* scratch,
                           double* out, int* status) {
  const long k = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < batch) dtw_one(a, b, k, la, lb, band, scratch, out, status);
}

void check_dtw_dims(std::size_t batch, std::size_t la, std::size_t lb) {
  if (la == 0 || lb == 0) throw std::invalid_argument("dtw: series must not be empty");
  checked_mul(batch, std::max(la, lb), "dtw");
}

void validate_dtw_host(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb) {
  check_dtw_dims(batch, la, lb);
  for (std::size_t i = 0; i < batch * la; ++i)
    if (!std::isfinite(a[i])) throw std::invalid_argument("dtw: a has a NaN or infinite value");
  for (std::size_t i = 0; i < batch * lb; ++i)
    if (!std::isfinite(b[i])) throw std::invalid_argument("dtw: b has a NaN or infinite value");
}

std::once_flag g_probe_once;
std::string g_probe_error;

}  // namespace

// ------------------------------------------------------------------ public: status, device
std::string status_message(int bits) {
  static const std::pair<int, const char*> kText[] = {
      {kStatusBadResidue, "a target holds a byte that is not in the substitution matrix's alphabet"},
      {kStatusPathRange, "optimal path on the GPU accumulates in int32: max|cost| * cols must be < 2**30"},
      {kStatusNonFinite, "the input has a NaN (or, for optimal path and DTW, an infinite) value"},
      {kStatusWeightRange,
       "floyd_warshall: a weight is beyond the no-edge sentinel 2**30 - 1, or (n - 1) * max|weight| >= 2**29"},
      {kStatusNegativeCycle, "floyd_warshall: the graph has a negative cycle"}};
  std::string out;
  for (const auto& [bit, text] : kText)
    if (bits & bit) out += (out.empty() ? "" : "; ") + std::string(text);
  if (bits & ~31) out += (out.empty() ? "" : "; ") + std::string("unknown status bits ") + std::to_string(bits & ~31);
  return out;
}

void require_device() {
  std::call_once(g_probe_once, [] {
    const si::gpu::CudaProbe p = si::gpu::probe_cuda();
    if (p.devices.empty()) {
      g_probe_error = p.error.empty() ? "no CUDA device" : p.error;
      return;
    }
    for (const auto& d : p.devices)
      if (d.kernel_ok) return;
    g_probe_error = "no device can run this build's kernels: " + p.devices.front().kernel_error;
  });
  if (!g_probe_error.empty()) throw si::GpuUnavailable("no usable GPU: " + g_probe_error);
}

// ------------------------------------------------------------------ public: optimal path
std::size_t optimal_path_workspace_bytes(bool f32, std::size_t batch, std::size_t rows, std::size_t cols) {
  check_path_dims(batch, rows, cols);
  const std::size_t back = checked_mul(checked_mul(batch, rows, "optimal path"), cols, "optimal path");
  const std::size_t scratch = f32 ? PathWork<float>::scratch_bytes(batch, rows) : PathWork<std::int32_t>::scratch_bytes(batch, rows);
  return scratch + back;
}

void launch_optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                             std::int64_t* total, std::int32_t* path, void* workspace, std::size_t workspace_bytes,
                             int* status, StreamHandle stream) {
  launch_path<std::int32_t>(cost, batch, rows, cols, total, path, workspace, workspace_bytes, status, stream);
}

void launch_optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                             std::int32_t* path, void* workspace, std::size_t workspace_bytes, int* status,
                             StreamHandle stream) {
  launch_path<float>(cost, batch, rows, cols, total, path, workspace, workspace_bytes, status, stream);
}

void optimal_path_i32_host(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                           std::int64_t* total, std::int32_t* path, int* status) {
  path_host<std::int32_t>(cost, batch, rows, cols, total, path, status);
}

void optimal_path_f32_host(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                           std::int32_t* path, int* status) {
  path_host<float>(cost, batch, rows, cols, total, path, status);
}

void optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                      std::int64_t* total, std::int32_t* path) {
  check_path_dims(batch, rows, cols);
  std::int64_t amax = 0;
  for (std::size_t i = 0; i < batch * rows * cols; ++i)
    amax = std::max<std::int64_t>(amax, cost[i] < 0 ? -static_cast<std::int64_t>(cost[i]) : cost[i]);
  if (amax * static_cast<std::int64_t>(cols) >= kPathLimit)
    throw std::invalid_argument("optimal path on the GPU accumulates in int32: max|cost| * cols must be < 2**30");
  path_on_device<std::int32_t>(cost, batch, rows, cols, total, path);
}

void optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                      std::int32_t* path) {
  check_path_dims(batch, rows, cols);
  for (std::size_t i = 0; i < batch * rows * cols; ++i)
    if (!std::isfinite(cost[i])) throw std::invalid_argument("optimal path: cost has a NaN or infinite value");
  path_on_device<float>(cost, batch, rows, cols, total, path);
}

// ------------------------------------------------------------------ public: Floyd-Warshall
void launch_floyd_warshall_i32(std::int32_t* d, std::size_t n, int* status, StreamHandle stream) {
  check_fw_dims(n);
  if (n == 0) return;
  const long long cells = static_cast<long long>(n) * static_cast<long long>(n);
  const unsigned cell_blocks = grid_for(static_cast<std::size_t>(cells), 256, "floyd_warshall");
  fw_prepare<<<cell_blocks, 256, 0, stream>>>(d, static_cast<long long>(n), status);
  after_launch("Floyd-Warshall prepare kernel launch");
  const int nb = static_cast<int>((n + kTile - 1) / kTile);
  const dim3 block(kTile, kTile);
  for (int k = 0; k < nb; ++k) {
    fw_phase1<<<1, block, 0, stream>>>(d, int(n), k);
    fw_phase2<<<dim3(nb, 2), block, 0, stream>>>(d, int(n), k);
    fw_phase3<<<dim3(nb, nb), block, 0, stream>>>(d, int(n), k);
    after_launch("Floyd-Warshall kernel launch");
  }
  fw_finish<<<cell_blocks, 256, 0, stream>>>(d, static_cast<long long>(n), status);
  after_launch("Floyd-Warshall finish kernel launch");
}

void floyd_warshall_i32_host(std::int32_t* d, std::size_t n, int* status) {
  check_fw_dims(n);
  const long long cells = static_cast<long long>(n) * static_cast<long long>(n);
  int local = 0;  // the relaxation must not run on out-of-range weights (int overflow on the host)
  for (long long i = 0; i < cells; ++i) fw_prepare_cell(d, static_cast<long long>(n), i, &local);
  flag(status, local);
  if (local) return;
  fw_host_blocked(d, int(n));
  for (long long i = 0; i < cells; ++i) fw_finish_cell(d, static_cast<long long>(n), i, status);
}

void floyd_warshall_i32(std::int32_t* d, std::size_t n, double* kernel_ms) {
  check_fw_dims(n);
  floyd_warshall_prepare(d, n);
  require_device();
  if (n == 0) return;
  DeviceBuffer<std::int32_t> dd(d, n * n);
  Timer timer;
  launch_floyd_warshall_i32(dd.ptr, n, nullptr, nullptr);
  const double ms = timer.stop();
  if (kernel_ms) *kernel_ms = ms;
  dd.download(d);
  floyd_warshall_finish(d, n);  // names the vertex of a negative cycle
}

// ------------------------------------------------------------------ public: rolling min / max
void launch_rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window,
                               bool want_max, std::int32_t* out, int* status, StreamHandle stream) {
  launch_roll(x, batch, n, window, want_max, out, status, stream);
}

void launch_rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                               float* out, int* status, StreamHandle stream) {
  launch_roll(x, batch, n, window, want_max, out, status, stream);
}

void rolling_minmax_i32_host(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window,
                             bool want_max, std::int32_t* out, int* status) {
  roll_host(x, batch, n, window, want_max, out, status);
}

void rolling_minmax_f32_host(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                             float* out, int* status) {
  roll_host(x, batch, n, window, want_max, out, status);
}

void rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        std::int32_t* out) {
  roll_on_device(x, batch, n, window, want_max, out);
}

void rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        float* out) {
  roll_outputs(batch, n, window);
  for (std::size_t i = 0; i < batch * n; ++i)
    if (std::isnan(x[i])) throw std::invalid_argument("rolling min/max: series has a NaN");
  roll_on_device(x, batch, n, window, want_max, out);
}

// ------------------------------------------------------------------ public: DTW
std::size_t dtw_workspace_bytes(std::size_t batch, std::size_t lb) {
  return checked_mul(checked_mul(2 * batch, lb, "dtw"), sizeof(double), "dtw");
}

void launch_dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band,
                    double* out, void* workspace, std::size_t workspace_bytes, int* status, StreamHandle stream) {
  check_dtw_dims(batch, la, lb);
  need_workspace(workspace, workspace_bytes, dtw_workspace_bytes(batch, lb), "dtw");
  if (batch == 0) return;
  dtw_kernel<<<grid_for(batch, 128, "dtw"), 128, 0, stream>>>(a, b, long(batch), long(la), long(lb), band,
                                                              static_cast<double*>(workspace), out, status);
  after_launch("DTW kernel launch");
}

void dtw_f32_host(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band,
                  double* out, int* status) {
  check_dtw_dims(batch, la, lb);
  std::vector<double> ws(2 * batch * lb);
  for (std::size_t k = 0; k < batch; ++k) dtw_one(a, b, long(k), long(la), long(lb), band, ws.data(), out, status);
}

void dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band, double* out,
             double* kernel_ms) {
  validate_dtw_host(a, b, batch, la, lb);
  require_device();
  if (batch == 0) return;
  DeviceBuffer<float> da(a, batch * la), db(b, batch * lb);
  DeviceBuffer<unsigned char> dws(dtw_workspace_bytes(batch, lb));
  DeviceBuffer<double> dout(batch);
  Timer timer;
  launch_dtw_f32(da.ptr, db.ptr, batch, la, lb, band, dout.ptr, dws.ptr, dws.count, nullptr, nullptr);
  const double ms = timer.stop();
  if (kernel_ms) *kernel_ms = ms;
  dout.download(out);
}

}  // namespace si::dp::gpu
