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

}  // namespace si::dp::gpu
