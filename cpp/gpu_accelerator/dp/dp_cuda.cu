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
// A team of `team` threads (a power of two <= 32, within one warp) aligns the
// same target(s): thread k of the team holds query rows [k*R, (k+1)*R) of the
// current pass in registers and runs one column behind thread k-1, receiving
// the tile boundary (H and F of the row above) through a warp shuffle
// (the intra-warp wavefront of CUDASW++). Queries longer than team*R rows take
// several passes, the last thread handing its row to the next pass through
// global memory. With S16x2 each team aligns two targets at once.
constexpr int kRows = 32;      // query rows per thread (register tile)
constexpr int kPad = -16000;   // score of the padding residue (query tail, target tail)

struct AlignArgs {
  const int* S;  // KK x KK, KK = K + 1 (row/column K: padding)
  int KK;
  const std::uint8_t* q;  // m_pad codes, padded with K
  int m, m_pad;           // m_pad: multiple of team * R
  int team;               // threads per team
  int open, ext;
  const std::uint8_t* res;  // per group: [maxlen][slots], slots = (32 / team) * lanes
  const long long* res_off;
  const int* lengths;  // per slot
  const int* gmax;     // per group: longest target
  void* rowH;
  void* rowF;  // per group: [maxlen][32 / team] of V::T (pass-to-pass rows)
  const long long* row_off;
  int* out;  // per slot
  int ngroups;
};

template <class V, int R, bool G>
struct Tile {
  using T = typename V::T;
  T H[R], E[R];
  int qc[R];
  T hup_prev;
  int rsel;  // row of this tile that is the query's last row, or -1
  T best;
  int captured[2];

  SI_HD void init() {
    best = V::splat(0);
    captured[0] = captured[1] = 0;
  }
  SI_HD void start(const AlignArgs& a, int i0) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      qc[r] = a.q[i0 + r];
      H[r] = G ? V::splat(-(a.open + (i0 + r) * a.ext)) : V::splat(0);
      E[r] = V::splat(V::kNeg);
    }
    hup_prev = G ? V::splat(i0 == 0 ? 0 : -(a.open + (i0 - 1) * a.ext)) : V::splat(0);
    rsel = (G && a.m - 1 >= i0 && a.m - 1 < i0 + R) ? a.m - 1 - i0 : -1;
  }
  // Column j of this tile, given H and F of the row above it; returns the
  // tile's last row (H, F) for the tile below.
  SI_HD void column(const AlignArgs& a, const int* S, const std::uint8_t* tc, int j, const int* len, T hup, T fup,
                    T& out_h, T& out_f) {
    const T nopen = V::splat(-a.open), next = V::splat(-a.ext);
    T f = V::addmax(hup, nopen, V::add(fup, next));  // F of the tile's first row
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
      if (G && r == rsel) hcap = h;
    }
    out_h = H[R - 1];
    out_f = flast;
    if (G && rsel >= 0)
      for (int k = 0; k < V::kLanes; ++k)
        if (j == len[k] - 1) captured[k] = V::lane(hcap, k);
  }
};

// Where team member k of group g finds its data.
template <class V>
struct TeamView {
  using T = typename V::T;
  const int* len;
  const std::uint8_t* res;
  T* rowH;
  T* rowF;
  int* out;
  int slots, teams, mylen, glen;
  SI_HD TeamView(const AlignArgs& a, int g, int tm) {
    constexpr int L = V::kLanes;
    teams = 32 / a.team;
    slots = teams * L;
    len = a.lengths + static_cast<long long>(g) * slots + tm * L;
    mylen = len[0] > len[L - 1] ? len[0] : len[L - 1];
    glen = a.gmax[g];
    res = a.res + a.res_off[g] + tm * L;
    rowH = static_cast<T*>(a.rowH) + a.row_off[g] + tm;
    rowF = static_cast<T*>(a.rowF) + a.row_off[g] + tm;
    out = a.out + static_cast<long long>(g) * slots + tm * L;
  }
  SI_HD const std::uint8_t* column(int j) const { return res + static_cast<long long>(j) * slots; }
  // H and F above the first row of a pass: the boundary row, or the previous pass's last row.
  SI_HD void above(const AlignArgs& a, int pass, int j, bool global, T& h, T& f) const {
    if (pass == 0) {
      h = global ? V::splat(-(a.open + j * a.ext)) : V::splat(0);
      f = V::splat(V::kNeg);
    } else {
      h = rowH[static_cast<long long>(j) * teams];
      f = rowF[static_cast<long long>(j) * teams];
    }
  }
  SI_HD void hand_over(int j, T h, T f) const {
    rowH[static_cast<long long>(j) * teams] = h;
    rowF[static_cast<long long>(j) * teams] = f;
  }
};

template <class V, int R, bool G>
__global__ void align_kernel(AlignArgs a) {
  using T = typename V::T;
  extern __shared__ int S[];
  for (int i = threadIdx.x; i < a.KK * a.KK; i += blockDim.x) S[i] = a.S[i];
  __syncthreads();
  const int g = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (g >= a.ngroups) return;  // whole warps leave together
  const int lane = threadIdx.x % 32, tm = lane / a.team, k = lane % a.team;
  const TeamView<V> v(a, g, tm);
  Tile<V, R, G> tile;
  tile.init();
  const int passes = a.m_pad / (a.team * R);
  for (int pass = 0; pass < passes; ++pass) {
    tile.start(a, (pass * a.team + k) * R);
    T send_h = V::splat(0), send_f = V::splat(V::kNeg);
    __syncwarp();
    for (int step = 0; step < v.glen + a.team - 1; ++step) {
      const T recv_h = __shfl_up_sync(0xffffffffu, send_h, 1, a.team);
      const T recv_f = __shfl_up_sync(0xffffffffu, send_f, 1, a.team);
      const int j = step - k;
      if (j >= 0 && j < v.mylen) {
        T hup = recv_h, fup = recv_f;
        if (k == 0) v.above(a, pass, j, G, hup, fup);
        tile.column(a, S, v.column(j), j, v.len, hup, fup, send_h, send_f);
        if (k == a.team - 1 && pass + 1 < passes) v.hand_over(j, send_h, send_f);
      }
    }
    __syncwarp();
  }
  if (!G) {
    for (int o = a.team / 2; o > 0; o >>= 1) tile.best = V::max2(tile.best, __shfl_down_sync(0xffffffffu, tile.best, o, a.team));
    if (k == 0)
      for (int l = 0; l < V::kLanes; ++l) v.out[l] = V::lane(tile.best, l);
  } else if (tile.rsel >= 0) {
    for (int l = 0; l < V::kLanes; ++l) v.out[l] = tile.captured[l];
  }
}

// The same teams on the host: threads of a team run in order within each
// step, and a shuffle is a read of the previous step's values.
template <class V, int R, bool G>
void align_host(const AlignArgs& a) {
  using T = typename V::T;
  const int team = a.team, passes = a.m_pad / (team * R);
  std::vector<Tile<V, R, G>> tiles(team);
  std::vector<T> send_h(team), send_f(team), prev_h(team), prev_f(team);
  for (int g = 0; g < a.ngroups; ++g) {
    for (int tm = 0; tm < 32 / team; ++tm) {
      const TeamView<V> v(a, g, tm);
      for (auto& t : tiles) t.init();
      for (int pass = 0; pass < passes; ++pass) {
        for (int k = 0; k < team; ++k) {
          tiles[k].start(a, (pass * team + k) * R);
          send_h[k] = V::splat(0);
          send_f[k] = V::splat(V::kNeg);
        }
        for (int step = 0; step < v.glen + team - 1; ++step) {
          prev_h = send_h;
          prev_f = send_f;
          for (int k = 0; k < team; ++k) {
            const int j = step - k;
            if (j < 0 || j >= v.mylen) continue;
            T hup = k ? prev_h[k - 1] : T{}, fup = k ? prev_f[k - 1] : T{};
            if (k == 0) v.above(a, pass, j, G, hup, fup);
            tiles[k].column(a, a.S, v.column(j), j, v.len, hup, fup, send_h[k], send_f[k]);
            if (k == team - 1 && pass + 1 < passes) v.hand_over(j, send_h[k], send_f[k]);
          }
        }
      }
      if (!G) {
        T best = tiles[0].best;
        for (int k = 1; k < team; ++k) best = V::max2(best, tiles[k].best);
        for (int l = 0; l < V::kLanes; ++l) v.out[l] = V::lane(best, l);
      } else {
        for (int k = 0; k < team; ++k)
          if (tiles[k].rsel >= 0)
            for (int l = 0; l < V::kLanes; ++l) v.out[l] = tiles[k].captured[l];
      }
    }
  }
}

struct HostLayout {
  std::vector<int> S;
  std::vector<std::uint8_t> q, res;
  std::vector<long long> res_off, row_off;
  std::vector<int> lengths, gmax;
  std::size_t row_elems = 0;
};

template <class V, bool G>
double run_align(AlignArgs a, bool device, const HostLayout& h, std::vector<int>& out) {
  using T = typename V::T;
  if (!device) {
    std::vector<T> rowH(std::max<std::size_t>(h.row_elems, 1)), rowF(std::max<std::size_t>(h.row_elems, 1));
    a.rowH = rowH.data();
    a.rowF = rowF.data();
    align_host<V, kRows, G>(a);
    return 0;
  }
  DeviceBuffer<int> dS(h.S.data(), h.S.size());
  DeviceBuffer<std::uint8_t> dq(h.q.data(), h.q.size());
  DeviceBuffer<std::uint8_t> dres(h.res.data(), h.res.size());
  DeviceBuffer<long long> dres_off(h.res_off.data(), h.res_off.size());
  DeviceBuffer<long long> drow_off(h.row_off.data(), h.row_off.size());
  DeviceBuffer<int> dlen(h.lengths.data(), h.lengths.size());
  DeviceBuffer<int> dgmax(h.gmax.data(), h.gmax.size());
  DeviceBuffer<T> drowH(h.row_elems), drowF(h.row_elems);
  DeviceBuffer<int> dout(out.size());
  a.S = dS.ptr;
  a.q = dq.ptr;
  a.res = dres.ptr;
  a.res_off = dres_off.ptr;
  a.row_off = drow_off.ptr;
  a.lengths = dlen.ptr;
  a.gmax = dgmax.ptr;
  a.rowH = drowH.ptr;
  a.rowF = drowF.ptr;
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
    const std::int64_t m_pad = static_cast<std::int64_t>(m) + 32 * kRows;
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
  int team = 1;
  while (team < 32 && static_cast<std::size_t>(team) * kRows < m) team *= 2;
  const int teams = 32 / team;
  const int slots = teams * (use16 ? 2 : 1);
  const int ngroups = static_cast<int>((order.size() + slots - 1) / slots);
  HostLayout h;
  h.S.assign(static_cast<std::size_t>(KK) * KK, kPad);
  for (int x = 0; x < K; ++x)
    for (int y = 0; y < K; ++y) h.S[x * KK + y] = p.matrix[x * K + y];
  const std::size_t pass_rows = static_cast<std::size_t>(team) * kRows;
  const int m_pad = static_cast<int>((m + pass_rows - 1) / pass_rows * pass_rows);
  h.q.assign(m_pad, static_cast<std::uint8_t>(K));
  std::copy(b.query.begin(), b.query.end(), h.q.begin());
  h.res_off.assign(ngroups + 1, 0);
  h.row_off.assign(ngroups + 1, 0);
  h.gmax.assign(ngroups, 0);
  h.lengths.assign(static_cast<std::size_t>(ngroups) * slots, 0);
  for (int g = 0; g < ngroups; ++g) {
    const std::size_t maxlen = tlen(order[static_cast<std::size_t>(g) * slots]);
    h.gmax[g] = static_cast<int>(maxlen);
    h.res_off[g + 1] = h.res_off[g] + static_cast<long long>(maxlen) * slots;
    h.row_off[g + 1] = h.row_off[g] + static_cast<long long>(maxlen) * teams;
  }
  h.res.assign(static_cast<std::size_t>(h.res_off[ngroups]), static_cast<std::uint8_t>(K));
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t g = k / slots, s = k % slots, i = order[k];
    h.lengths[k] = static_cast<int>(tlen(i));
    const std::uint8_t* src = b.targets.data() + b.offsets[i];
    for (std::size_t j = 0; j < tlen(i); ++j) h.res[h.res_off[g] + j * slots + s] = src[j];
  }
  h.row_elems = static_cast<std::size_t>(h.row_off[ngroups]);
  std::vector<int> out(h.lengths.size(), 0);
  AlignArgs a{};
  a.S = h.S.data();
  a.KK = KK;
  a.q = h.q.data();
  a.m = static_cast<int>(m);
  a.m_pad = m_pad;
  a.team = team;
  a.open = p.gap_open;
  a.ext = p.gap_extend;
  a.res = h.res.data();
  a.res_off = h.res_off.data();
  a.lengths = h.lengths.data();
  a.gmax = h.gmax.data();
  a.row_off = h.row_off.data();
  a.out = out.data();
  a.ngroups = ngroups;
  if (use16)
    run.kernel_ms = p.global ? run_align<S16x2, true>(a, device, h, out) : run_align<S16x2, false>(a, device, h, out);
  else
    run.kernel_ms = p.global ? run_align<S32, true>(a, device, h, out) : run_align<S32, false>(a, device, h, out);
  run.team = team;
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
