// CUDA twins of the CPU dynamic programs (see dp_cuda.hpp). The per-thread
// routines are __host__ __device__ and are also run on the host ("host twin"),
// so that the DPX recurrence code is tested on machines without a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "common/errors.hpp"
#include "gpu_accelerator/cuda_probe.hpp"
#include "gpu_accelerator/dp/dp_align_common.hpp"
#include "gpu_accelerator/dp/dp_cells.cuh"
#include "gpu_accelerator/dp/dp_cuda.hpp"
#include "gpu_accelerator/dp/dp_misc.hpp"

namespace si::dp::gpu {
namespace {

using namespace si::dp::cuda_cells;

// ------------------------------------------------------------------ runtime
void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  const std::string msg = std::string(what) + ": " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err);
  cudaGetLastError();
  if (err == cudaErrorMemoryAllocation) throw si::GpuOutOfMemory(msg);
  throw si::GpuUnavailable(msg);
}

template <class T>
struct DeviceBuffer {
  T* ptr = nullptr;
  std::size_t count = 0;
  explicit DeviceBuffer(std::size_t n) : count(n) {
    if (n) check(cudaMalloc(&ptr, n * sizeof(T)), "cudaMalloc");
  }
  DeviceBuffer(const T* host, std::size_t n) : DeviceBuffer(n) { upload(host); }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void upload(const T* host) {
    if (count) check(cudaMemcpy(ptr, host, count * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  void download(T* host) const {
    if (count) check(cudaMemcpy(host, ptr, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }
};

struct Timer {
  cudaEvent_t a{}, b{};
  Timer() {
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    cudaEventRecord(a);
  }
  double stop() {
    cudaEventRecord(b);
    check(cudaEventSynchronize(b), "kernel");
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    return ms;
  }
  ~Timer() {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
};

void after_launch(const char* what) {
  check(cudaGetLastError(), what);
  check(cudaDeviceSynchronize(), what);
}

// ------------------------------------------------------------------ alignment
constexpr int kRows = 32;      // query rows per register tile
constexpr int kPad = -16000;   // score of the padding residue (query tail, target tail)

struct AlignArgs {
  const int* S;  // KK x KK, KK = K + 1 (row/column K: padding)
  int KK;
  const std::uint8_t* q;  // m_pad codes, padded with K
  int m, m_pad;
  int open, ext;
  const std::uint8_t* res;  // per group: [maxlen][slots]
  const long long* res_off;
  const int* lengths;  // per slot
  void* rowH;
  void* rowF;  // per group: [maxlen][32] of V::T
  const long long* row_off;
  int* out;  // per slot
  int ngroups;
};

template <class V, int R, bool G>
SI_HD void align_thread(const AlignArgs& a, const int* S, int g, int t) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  constexpr int slots = 32 * L;
  const int* len = a.lengths + static_cast<long long>(g) * slots + t * L;
  int mylen = len[0];
  if (L == 2 && len[L - 1] > mylen) mylen = len[L - 1];
  int* out = a.out + static_cast<long long>(g) * slots + t * L;
  if (mylen == 0) {
    for (int k = 0; k < L; ++k) out[k] = 0;
    return;
  }
  const std::uint8_t* res = a.res + a.res_off[g] + t * L;
  T* rowH = static_cast<T*>(a.rowH) + a.row_off[g] + t;
  T* rowF = static_cast<T*>(a.rowF) + a.row_off[g] + t;
  const T nopen = V::splat(-a.open), next = V::splat(-a.ext), neg = V::splat(V::kNeg);
  T best = V::splat(0);
  int captured[2] = {0, 0};
  const int rlast = (a.m - 1) % R;
  const int last_i0 = a.m_pad - R;
  for (int i0 = 0; i0 < a.m_pad; i0 += R) {
    T H[R], E[R];
    int qc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      qc[r] = a.q[i0 + r];
      H[r] = G ? V::splat(-(a.open + (i0 + r) * a.ext)) : V::splat(0);
      E[r] = neg;
    }
    T hup_prev = G ? V::splat(i0 == 0 ? 0 : -(a.open + (i0 - 1) * a.ext)) : V::splat(0);
    const bool last = i0 == last_i0;
    for (int j = 0; j < mylen; ++j) {
      const std::uint8_t* tc = res + static_cast<long long>(j) * slots;
      T hup, fup;
      if (i0 == 0) {
        hup = G ? V::splat(-(a.open + j * a.ext)) : V::splat(0);
        fup = neg;
      } else {
        hup = rowH[static_cast<long long>(j) * 32];
        fup = rowF[static_cast<long long>(j) * 32];
      }
      T f = V::addmax(hup, nopen, V::add(fup, next));  // F(i0, j)
      T diag = hup_prev;
      hup_prev = hup;
      T flast = f, hcap = V::splat(0);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const T s = V::score(S, a.KK, qc[r], tc);
        flast = f;
        const T hold = H[r];
        const T h = align_cell<V, G>(diag, s, H[r], E[r], f, nopen, next);
        diag = hold;
        if (!G) best = V::max2(best, h);
        if (G && r == rlast) hcap = h;
      }
      if (!last) {
        rowH[static_cast<long long>(j) * 32] = H[R - 1];
        rowF[static_cast<long long>(j) * 32] = flast;
      } else if (G) {
        for (int k = 0; k < L; ++k)
          if (j == len[k] - 1) captured[k] = V::lane(hcap, k);
      }
    }
  }
  for (int k = 0; k < L; ++k) out[k] = G ? captured[k] : V::lane(best, k);
}

template <class V, int R, bool G>
__global__ void align_kernel(AlignArgs a) {
  extern __shared__ int S[];
  for (int i = threadIdx.x; i < a.KK * a.KK; i += blockDim.x) S[i] = a.S[i];
  __syncthreads();
  const int g = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (g < a.ngroups) align_thread<V, R, G>(a, S, g, threadIdx.x % 32);
}

template <class V, bool G>
double run_align(AlignArgs a, bool device, const std::vector<std::uint8_t>& res, std::size_t row_elems,
                 const std::vector<long long>& res_off, const std::vector<int>& lengths,
                 const std::vector<std::uint8_t>& q, const std::vector<int>& S, std::vector<int>& out) {
  using T = typename V::T;
  if (!device) {
    std::vector<T> rowH(std::max<std::size_t>(row_elems, 1)), rowF(std::max<std::size_t>(row_elems, 1));
    a.rowH = rowH.data();
    a.rowF = rowF.data();
    for (int g = 0; g < a.ngroups; ++g)
      for (int t = 0; t < 32; ++t) align_thread<V, kRows, G>(a, S.data(), g, t);
    return 0;
  }
  DeviceBuffer<int> dS(S.data(), S.size());
  DeviceBuffer<std::uint8_t> dq(q.data(), q.size());
  DeviceBuffer<std::uint8_t> dres(res.data(), res.size());
  DeviceBuffer<long long> dres_off(res_off.data(), res_off.size());
  DeviceBuffer<int> dlen(lengths.data(), lengths.size());
  DeviceBuffer<T> drowH(row_elems), drowF(row_elems);
  DeviceBuffer<int> dout(out.size());
  DeviceBuffer<long long> drow_off(a.row_off, a.ngroups + 1);
  a.S = dS.ptr;
  a.q = dq.ptr;
  a.res = dres.ptr;
  a.res_off = dres_off.ptr;
  a.lengths = dlen.ptr;
  a.rowH = drowH.ptr;
  a.rowF = drowF.ptr;
  a.row_off = drow_off.ptr;
  a.out = dout.ptr;
  const int warps = 4;
  const int blocks = (a.ngroups + warps - 1) / warps;
  Timer timer;
  align_kernel<V, kRows, G><<<blocks, warps * 32, a.KK * a.KK * sizeof(int)>>>(a);
  check(cudaGetLastError(), "alignment kernel launch");
  const double ms = timer.stop();
  dout.download(out.data());
  return ms;
}

std::once_flag g_probe_once;
std::string g_probe_error;

}  // namespace

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

bool s16x2_safe(const AlignParams& p, std::size_t m, std::size_t max_n) {
  std::int64_t smax = 0, smin = 0;
  for (int i = 0; i < p.alphabet_size * p.alphabet_size; ++i) {
    smax = std::max<std::int64_t>(smax, p.matrix[i]);
    smin = std::min<std::int64_t>(smin, p.matrix[i]);
  }
  if (p.gap_open > 16000 || p.gap_extend > 16000) return false;
  const std::int64_t mn = static_cast<std::int64_t>(std::min(m, max_n));
  if ((mn + 1) * smax >= 16000) return false;  // diag + s and diag + padding stay in int16
  if (p.global) {
    const std::int64_t m_pad = static_cast<std::int64_t>(m) + kRows;
    const std::int64_t b = 3 * std::int64_t(p.gap_open) + (m_pad + std::int64_t(max_n) + 1) * p.gap_extend - smin + 1;
    if (b >= 16000) return false;
  }
  return true;
}

AlignRun align_scores(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query, std::size_t m,
                      const std::uint8_t* targets, const std::int64_t* offsets, std::size_t n_targets,
                      Precision precision, bool device) {
  if (p.alphabet_size > 64)
    throw std::invalid_argument("the GPU alignment kernel supports alphabets of up to 64 letters, got " +
                                std::to_string(p.alphabet_size));
  const EncodedBatch b = encode_batch(p, code_of, query, m, targets, offsets, n_targets);
  if (device) require_device();
  bool use16 = precision == Precision::s16x2;
  if (precision == Precision::automatic) use16 = s16x2_safe(p, m, b.max_length);
  if (use16 && !s16x2_safe(p, m, b.max_length))
    throw std::invalid_argument("precision 's16x2' could overflow int16 for these lengths and scores; use 's32'");
  AlignRun run;
  run.variant = use16 ? "s16x2" : "s32";
  run.scores.assign(n_targets, 0);
  auto tlen = [&](std::size_t i) { return static_cast<std::size_t>(b.offsets[i + 1] - b.offsets[i]); };
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < n_targets; ++i) {
    if (m == 0 || tlen(i) == 0)
      run.scores[i] = detail::align_pair32(p, b.query.data(), m, b.targets.data() + b.offsets[i], tlen(i));
    else
      order.push_back(i);
  }
  if (order.empty()) return run;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return tlen(x) > tlen(y); });
  const int K = p.alphabet_size, KK = K + 1;
  const int slots = 32 * (use16 ? 2 : 1);
  const int ngroups = static_cast<int>((order.size() + slots - 1) / slots);
  std::vector<int> S(static_cast<std::size_t>(KK) * KK, kPad);
  for (int x = 0; x < K; ++x)
    for (int y = 0; y < K; ++y) S[x * KK + y] = p.matrix[x * K + y];
  const int m_pad = static_cast<int>((m + kRows - 1) / kRows * kRows);
  std::vector<std::uint8_t> q(m_pad, static_cast<std::uint8_t>(K));
  std::copy(b.query.begin(), b.query.end(), q.begin());
  std::vector<long long> res_off(ngroups + 1, 0), row_off(ngroups + 1, 0);
  std::vector<int> lengths(static_cast<std::size_t>(ngroups) * slots, 0);
  for (int g = 0; g < ngroups; ++g) {
    const std::size_t maxlen = tlen(order[static_cast<std::size_t>(g) * slots]);
    res_off[g + 1] = res_off[g] + static_cast<long long>(maxlen) * slots;
    row_off[g + 1] = row_off[g] + static_cast<long long>(maxlen) * 32;
  }
  std::vector<std::uint8_t> res(static_cast<std::size_t>(res_off[ngroups]), static_cast<std::uint8_t>(K));
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t g = k / slots, s = k % slots, i = order[k];
    lengths[k] = static_cast<int>(tlen(i));
    const std::uint8_t* src = b.targets.data() + b.offsets[i];
    for (std::size_t j = 0; j < tlen(i); ++j) res[res_off[g] + j * slots + s] = src[j];
  }
  std::vector<int> out(lengths.size(), 0);
  AlignArgs a{};
  a.S = S.data();
  a.KK = KK;
  a.q = q.data();
  a.m = static_cast<int>(m);
  a.m_pad = m_pad;
  a.open = p.gap_open;
  a.ext = p.gap_extend;
  a.res = res.data();
  a.res_off = res_off.data();
  a.lengths = lengths.data();
  a.row_off = row_off.data();
  a.out = out.data();
  a.ngroups = ngroups;
  const std::size_t row_elems = static_cast<std::size_t>(row_off[ngroups]);
  if (use16)
    run.kernel_ms = p.global ? run_align<S16x2, true>(a, device, res, row_elems, res_off, lengths, q, S, out)
                             : run_align<S16x2, false>(a, device, res, row_elems, res_off, lengths, q, S, out);
  else
    run.kernel_ms = p.global ? run_align<S32, true>(a, device, res, row_elems, res_off, lengths, q, S, out)
                             : run_align<S32, false>(a, device, res, row_elems, res_off, lengths, q, S, out);
  for (std::size_t k = 0; k < order.size(); ++k) run.scores[order[k]] = out[k];
  return run;
}


// ------------------------------------------------------------------ optimal path
namespace {

constexpr int kPathBig = std::numeric_limits<int>::max();

// One matrix per thread. prev/cur: rows each; back: rows * cols.
SI_HD void path_thread_i32(const std::int32_t* cost, int rows, int cols, int* prev, int* cur, signed char* back,
                           long long* total, std::int32_t* path) {
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
  int end = 0;
  for (int r = 1; r < rows; ++r)
    if (prev[r] < prev[end]) end = r;
  *total = prev[end];
  int r = end;
  for (int c = cols - 1; c >= 0; --c) {
    path[c] = r;
    r += back[static_cast<long long>(r) * cols + c];
  }
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
  int end = 0;
  for (int r = 1; r < rows; ++r)
    if (prev[r] < prev[end]) end = r;
  *total = prev[end];
  int r = end;
  for (int c = cols - 1; c >= 0; --c) {
    path[c] = r;
    r += back[static_cast<long long>(r) * cols + c];
  }
}

template <class T, class Acc, class Tot>
__global__ void path_kernel(const T* cost, int batch, int rows, int cols, Acc* scratch, signed char* back, Tot* total,
                            std::int32_t* path) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  const long long rc = static_cast<long long>(rows) * cols;
  if constexpr (std::is_same<T, float>::value)
    path_thread_f32(cost + b * rc, rows, cols, scratch + 2LL * b * rows, scratch + (2LL * b + 1) * rows, back + b * rc,
                    total + b, path + static_cast<long long>(b) * cols);
  else
    path_thread_i32(cost + b * rc, rows, cols, scratch + 2LL * b * rows, scratch + (2LL * b + 1) * rows, back + b * rc,
                    total + b, path + static_cast<long long>(b) * cols);
}

template <class T, class Acc, class Tot>
void run_path(const T* cost, std::size_t batch, std::size_t rows, std::size_t cols, Tot* total, std::int32_t* path,
              bool device) {
  if (rows == 0) throw std::invalid_argument("optimal path: the cost matrix has zero rows");
  if (cols == 0) throw std::invalid_argument("optimal path: the cost matrix has zero columns");
  if (rows > (1u << 30) || cols > (1u << 30)) throw std::invalid_argument("optimal path: matrix too large");
  const std::size_t rc = rows * cols;
  if (!device) {
    std::vector<Acc> scratch(2 * rows);
    std::vector<signed char> back(rc);
    for (std::size_t b = 0; b < batch; ++b) {
      if constexpr (std::is_same<T, float>::value)
        path_thread_f32(cost + b * rc, int(rows), int(cols), scratch.data(), scratch.data() + rows, back.data(), total + b,
                        path + b * cols);
      else
        path_thread_i32(cost + b * rc, int(rows), int(cols), scratch.data(), scratch.data() + rows, back.data(), total + b,
                        path + b * cols);
    }
    return;
  }
  require_device();
  if (batch == 0) return;
  DeviceBuffer<T> dcost(cost, batch * rc);
  DeviceBuffer<Acc> dscratch(2 * batch * rows);
  DeviceBuffer<signed char> dback(batch * rc);
  DeviceBuffer<Tot> dtotal(batch);
  DeviceBuffer<std::int32_t> dpath(batch * cols);
  const int threads = 128;
  path_kernel<T, Acc, Tot><<<int((batch + threads - 1) / threads), threads>>>(dcost.ptr, int(batch), int(rows), int(cols),
                                                                                dscratch.ptr, dback.ptr, dtotal.ptr, dpath.ptr);
  after_launch("optimal path kernel");
  dtotal.download(total);
  dpath.download(path);
}

// ------------------------------------------------------------------ Floyd-Warshall (blocked)
constexpr int kTile = 32;

__global__ void fw_phase1(int* d, int n, int k) {
  __shared__ int t[kTile][kTile];
  const int i = threadIdx.y, j = threadIdx.x;
  const long long base = static_cast<long long>(k * kTile) * n + k * kTile;
  t[i][j] = d[base + static_cast<long long>(i) * n + j];
  __syncthreads();
  for (int kk = 0; kk < kTile; ++kk) {
    const int v = fw_cell(t[i][kk], t[kk][j], t[i][j]);
    __syncthreads();
    t[i][j] = v;
    __syncthreads();
  }
  d[base + static_cast<long long>(i) * n + j] = t[i][j];
}

__global__ void fw_phase2(int* d, int n, int k) {
  const int b = blockIdx.x;
  if (b == k) return;
  __shared__ int pivot[kTile][kTile], self[kTile][kTile];
  const int i = threadIdx.y, j = threadIdx.x;
  const bool row = blockIdx.y == 0;  // tile (k, b) or (b, k)
  const long long pbase = static_cast<long long>(k * kTile) * n + k * kTile;
  const long long sbase = row ? static_cast<long long>(k * kTile) * n + b * kTile : static_cast<long long>(b * kTile) * n + k * kTile;
  pivot[i][j] = d[pbase + static_cast<long long>(i) * n + j];
  self[i][j] = d[sbase + static_cast<long long>(i) * n + j];
  __syncthreads();
  for (int kk = 0; kk < kTile; ++kk) {
    const int v = row ? fw_cell(pivot[i][kk], self[kk][j], self[i][j]) : fw_cell(self[i][kk], pivot[kk][j], self[i][j]);
    __syncthreads();
    self[i][j] = v;
    __syncthreads();
  }
  d[sbase + static_cast<long long>(i) * n + j] = self[i][j];
}

__global__ void fw_phase3(int* d, int n, int k) {
  const int bi = blockIdx.y, bj = blockIdx.x;
  if (bi == k || bj == k) return;
  __shared__ int col[kTile][kTile], row[kTile][kTile];
  const int i = threadIdx.y, j = threadIdx.x;
  col[i][j] = d[static_cast<long long>(bi * kTile + i) * n + k * kTile + j];
  row[i][j] = d[static_cast<long long>(k * kTile + i) * n + bj * kTile + j];
  __syncthreads();
  int* cell = d + static_cast<long long>(bi * kTile + i) * n + bj * kTile + j;
  int v = *cell;
#pragma unroll 8
  for (int kk = 0; kk < kTile; ++kk) v = fw_cell(col[i][kk], row[kk][j], v);
  *cell = v;
}

// ------------------------------------------------------------------ rolling min / max
SI_HD int roll_i32(const std::int32_t* x, std::size_t i, std::size_t w, bool want_max) {
  int acc = x[i];
  std::size_t k = 1;
  for (; k + 1 < w; k += 2) acc = want_max ? max3_i32(acc, x[i + k], x[i + k + 1]) : min3_i32(acc, x[i + k], x[i + k + 1]);
  if (k < w) acc = want_max ? max3_i32(acc, x[i + k], x[i + k]) : min3_i32(acc, x[i + k], x[i + k]);
  return acc;
}

SI_HD float roll_f32(const float* x, std::size_t i, std::size_t w, bool want_max) {
  float acc = x[i];
  for (std::size_t k = 1; k < w; ++k) acc = want_max ? fmaxf(acc, x[i + k]) : fminf(acc, x[i + k]);
  return acc;
}

template <class T>
__global__ void roll_kernel(const T* x, long long batch, long long n, long long w, bool want_max, T* out) {
  const long long nout = n - w + 1;
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= batch * nout) return;
  const long long b = idx / nout, i = idx % nout;
  if constexpr (std::is_same<T, float>::value)
    out[idx] = roll_f32(x + b * n, std::size_t(i), std::size_t(w), want_max);
  else
    out[idx] = roll_i32(x + b * n, std::size_t(i), std::size_t(w), want_max);
}

template <class T>
void run_roll(const T* x, std::size_t batch, std::size_t n, std::size_t w, bool want_max, T* out, bool device) {
  if (w == 0 || w > n) throw std::invalid_argument("rolling window must be in 1..len(series)");
  const std::size_t nout = n - w + 1;
  if (!device) {
    for (std::size_t b = 0; b < batch; ++b)
      for (std::size_t i = 0; i < nout; ++i) {
        if constexpr (std::is_same<T, float>::value)
          out[b * nout + i] = roll_f32(x + b * n, i, w, want_max);
        else
          out[b * nout + i] = roll_i32(x + b * n, i, w, want_max);
      }
    return;
  }
  require_device();
  if (batch == 0) return;
  DeviceBuffer<T> dx(x, batch * n);
  DeviceBuffer<T> dout(batch * nout);
  const long long total = static_cast<long long>(batch * nout);
  roll_kernel<T><<<int((total + 255) / 256), 256>>>(dx.ptr, (long long)batch, (long long)n, (long long)w, want_max, dout.ptr);
  after_launch("rolling min/max kernel");
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

__global__ void dtw_kernel(const float* a, const float* b, long batch, long la, long lb, long band, double* scratch,
                           double* out) {
  const long k = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= batch) return;
  out[k] = dtw_thread(a + k * la, b + k * lb, la, lb, band, scratch + 2 * k * lb, scratch + (2 * k + 1) * lb);
}

}  // namespace

void optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                      std::int64_t* total, std::int32_t* path, bool device) {
  std::int64_t amax = 0;
  for (std::size_t i = 0; i < batch * rows * cols; ++i)
    amax = std::max<std::int64_t>(amax, cost[i] < 0 ? -static_cast<std::int64_t>(cost[i]) : cost[i]);
  if (amax * static_cast<std::int64_t>(cols) >= (std::int64_t{1} << 30))
    throw std::invalid_argument("optimal path on the GPU accumulates in int32: max|cost| * cols must be < 2**30");
  std::vector<long long> tot(batch);
  run_path<std::int32_t, int, long long>(cost, batch, rows, cols, tot.data(), path, device);
  for (std::size_t b = 0; b < batch; ++b) total[b] = tot[b];
}

void optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                      std::int32_t* path, bool device) {
  for (std::size_t i = 0; i < batch * rows * cols; ++i)
    if (!std::isfinite(cost[i])) throw std::invalid_argument("optimal path: cost has a NaN or infinite value");
  run_path<float, double, double>(cost, batch, rows, cols, total, path, device);
}

void floyd_warshall_i32(std::int32_t* d, std::size_t n, bool device, double* kernel_ms) {
  floyd_warshall_prepare(d, n);
  if (!device) {
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) d[i * n + j] = fw_cell(d[i * n + k], d[k * n + j], d[i * n + j]);
    floyd_warshall_finish(d, n);
    return;
  }
  require_device();
  if (n == 0) return;
  const std::size_t np = (n + kTile - 1) / kTile * kTile;
  std::vector<std::int32_t> padded(np * np, kNoEdge);
  for (std::size_t i = 0; i < np; ++i) padded[i * np + i] = 0;
  for (std::size_t i = 0; i < n; ++i) std::copy(d + i * n, d + i * n + n, padded.begin() + i * np);
  DeviceBuffer<std::int32_t> dd(padded.data(), padded.size());
  const int nb = static_cast<int>(np / kTile);
  const dim3 block(kTile, kTile);
  Timer timer;
  for (int k = 0; k < nb; ++k) {
    fw_phase1<<<1, block>>>(dd.ptr, int(np), k);
    fw_phase2<<<dim3(nb, 2), block>>>(dd.ptr, int(np), k);
    fw_phase3<<<dim3(nb, nb), block>>>(dd.ptr, int(np), k);
  }
  check(cudaGetLastError(), "Floyd-Warshall kernels");
  const double ms = timer.stop();
  if (kernel_ms) *kernel_ms = ms;
  dd.download(padded.data());
  for (std::size_t i = 0; i < n; ++i) std::copy(padded.begin() + i * np, padded.begin() + i * np + n, d + i * n);
  floyd_warshall_finish(d, n);
}

void rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        std::int32_t* out, bool device) {
  run_roll(x, batch, n, window, want_max, out, device);
}

void rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max, float* out,
                        bool device) {
  for (std::size_t i = 0; i < batch * n; ++i)
    if (std::isnan(x[i])) throw std::invalid_argument("rolling min/max: series has a NaN");
  run_roll(x, batch, n, window, want_max, out, device);
}

void dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band, double* out,
             bool device, double* kernel_ms) {
  if (la == 0 || lb == 0) throw std::invalid_argument("dtw: series must not be empty");
  for (std::size_t i = 0; i < batch * la; ++i)
    if (!std::isfinite(a[i])) throw std::invalid_argument("dtw: a has a NaN or infinite value");
  for (std::size_t i = 0; i < batch * lb; ++i)
    if (!std::isfinite(b[i])) throw std::invalid_argument("dtw: b has a NaN or infinite value");
  if (!device) {
    std::vector<double> scratch(2 * lb);
    for (std::size_t k = 0; k < batch; ++k)
      out[k] = dtw_thread(a + k * la, b + k * lb, long(la), long(lb), band, scratch.data(), scratch.data() + lb);
    return;
  }
  require_device();
  if (batch == 0) return;
  DeviceBuffer<float> da(a, batch * la), db(b, batch * lb);
  DeviceBuffer<double> dscratch(2 * batch * lb), dout(batch);
  Timer timer;
  dtw_kernel<<<int((batch + 127) / 128), 128>>>(da.ptr, db.ptr, long(batch), long(la), long(lb), band, dscratch.ptr,
                                                dout.ptr);
  check(cudaGetLastError(), "DTW kernel");
  const double ms = timer.stop();
  if (kernel_ms) *kernel_ms = ms;
  dout.download(out);
}

}  // namespace si::dp::gpu
