// CUDA kernels of the loop's small models (see cpu_models.hpp for the CPU
// twin, which computes the same functions) and a tiny kernel for launch-cost
// benchmarks. All launches are asynchronous on the given stream, so they can
// be captured into a CUDA Graph.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "gpu_accelerator/cuda_runtime.hpp"

namespace si::gpu::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr unsigned kFull = 0xffffffffu;

// The warp's total, in every lane (butterfly).
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
  return v;
}

// Logistic function without overflow for any z (exp of a non-positive argument only).
__device__ __forceinline__ double sigmoid(double z) {
  if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
  const double e = exp(z);
  return e / (1.0 + e);
}

__device__ __forceinline__ void write_outputs(double z0, double z1, double z2, float* o) {
  o[0] = static_cast<float>(tanh(z0));
  o[1] = static_cast<float>(sigmoid(z1));
  o[2] = static_cast<float>(sigmoid(z2));
}

// One batch row in double, by the whole warp (used when a float partial sum overflowed,
// as the CPU twin does): nothing a float network can produce overflows in double.
__device__ void sentiment_row_f64(const float* __restrict__ w1, const float* __restrict__ b1,
                                  const float* __restrict__ w2, const float* __restrict__ b2, int in,
                                  int hidden, const float* __restrict__ xr, float* __restrict__ o) {
  const int lane = threadIdx.x % 32;
  double z0 = 0.0, z1 = 0.0, z2 = 0.0;
  for (int j = lane; j < hidden; j += 32) {
    const float* w = w1 + static_cast<long long>(j) * in;
    double s = b1[j];
    for (int i = 0; i < in; ++i) s = fma(static_cast<double>(w[i]), static_cast<double>(xr[i]), s);
    const double h = s > 0.0 ? s : 0.0;
    z0 = fma(static_cast<double>(w2[j]), h, z0);
    z1 = fma(static_cast<double>(w2[hidden + j]), h, z1);
    z2 = fma(static_cast<double>(w2[2 * hidden + j]), h, z2);
  }
  z0 = warp_sum(z0);
  z1 = warp_sum(z1);
  z2 = warp_sum(z2);
  if (lane == 0) write_outputs(z0 + b2[0], z1 + b2[1], z2 + b2[2], o);
}

// One warp per batch row: lanes compute hidden units, then three warp-reduced outputs.
__global__ void sentiment_kernel(const float* __restrict__ w1, const float* __restrict__ b1,
                                 const float* __restrict__ w2, const float* __restrict__ b2,
                                 int in, int hidden, const float* __restrict__ x, long long batch,
                                 float* __restrict__ out) {
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long row = static_cast<long long>(blockIdx.x) * kWarpsPerBlock + warp;
  if (row >= batch) return;  // whole warps leave together; only warp-level sync below
  float* h = shared + warp * hidden;
  const float* xr = x + row * in;
  bool finite = true;
  for (int j = lane; j < hidden; j += 32) {
    const float* w = w1 + static_cast<long long>(j) * in;
    float s = 0.0f;
    for (int i = 0; i < in; ++i) s = fmaf(w[i], xr[i], s);
    const float pre = s + b1[j];
    finite &= isfinite(pre);
    h[j] = fmaxf(pre, 0.0f);
  }
  __syncwarp();
  float z0 = 0.0f, z1 = 0.0f, z2 = 0.0f;
  for (int j = lane; j < hidden; j += 32) {
    const float hj = h[j];
    z0 = fmaf(w2[j], hj, z0);
    z1 = fmaf(w2[hidden + j], hj, z1);
    z2 = fmaf(w2[2 * hidden + j], hj, z2);
  }
  z0 = warp_sum(z0) + b2[0];
  z1 = warp_sum(z1) + b2[1];
  z2 = warp_sum(z2) + b2[2];
  // A non-finite pre-activation anywhere means a float partial sum overflowed.
  finite &= isfinite(z0) && isfinite(z1) && isfinite(z2);
  if (!__all_sync(kFull, finite)) return sentiment_row_f64(w1, b1, w2, b2, in, hidden, xr, out + row * 3);
  if (lane == 0) write_outputs(z0, z1, z2, out + row * 3);
}

// One warp per (query, key) pair: dot product and both norms in one pass.
constexpr int kCosWarps = 8;
__global__ void cosine_kernel(const float* __restrict__ q, long long m, const float* __restrict__ k,
                              long long n, int dim, float* __restrict__ out) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long j = static_cast<long long>(blockIdx.x) * kCosWarps + warp;
  if (j >= n) return;
  const float* kr = k + j * dim;
  for (long long i = blockIdx.y; i < m; i += gridDim.y) {
    const float* qr = q + i * dim;
    // In double, every product of two floats and every sum of them is finite and
    // normal, so the result is right for any finite input scale (the CPU twin
    // rescales rows by powers of two to the same effect).
    double dot = 0.0, qq = 0.0, kk = 0.0;
    for (int d = lane; d < dim; d += 32) {
      const double a = qr[d], b = kr[d];
      dot = fma(a, b, dot);
      qq = fma(a, a, qq);
      kk = fma(b, b, kk);
    }
    dot = warp_sum(dot);
    qq = warp_sum(qq);
    kk = warp_sum(kk);
    if (lane == 0) {
      const double c = (qq > 0.0 && kk > 0.0) ? dot / (sqrt(qq) * sqrt(kk)) : 0.0;
      out[i * n + j] = static_cast<float>(fmin(1.0, fmax(-1.0, c)));
    }
  }
}

__global__ void increment_kernel(int* counter) { *counter += 1; }

}  // namespace

void launch_sentiment(const float* w1, const float* b1, const float* w2, const float* b2,
                      std::size_t in, std::size_t hidden, const float* x, std::size_t batch,
                      float* out, cudaStream_t stream) {
  if (batch == 0) return;
  const std::size_t shared = kWarpsPerBlock * hidden * sizeof(float);
  if (shared > 48 * 1024)
    throw std::invalid_argument("sentiment head (CUDA): hidden must be <= 3072, got " +
                                std::to_string(hidden));
  const unsigned blocks = static_cast<unsigned>((batch + kWarpsPerBlock - 1) / kWarpsPerBlock);
  sentiment_kernel<<<blocks, kWarpsPerBlock * 32, shared, stream>>>(
      w1, b1, w2, b2, static_cast<int>(in), static_cast<int>(hidden), x,
      static_cast<long long>(batch), out);
  check(cudaGetLastError(), "sentiment kernel launch");
}

void launch_cosine(const float* q, std::size_t m, const float* k, std::size_t n, std::size_t dim,
                   float* out, cudaStream_t stream) {
  if (m == 0 || n == 0) return;
  dim3 grid(static_cast<unsigned>((n + kCosWarps - 1) / kCosWarps),
            static_cast<unsigned>(m < 65535 ? m : 65535));
  cosine_kernel<<<grid, kCosWarps * 32, 0, stream>>>(q, static_cast<long long>(m), k,
                                                     static_cast<long long>(n),
                                                     static_cast<int>(dim), out);
  check(cudaGetLastError(), "cosine kernel launch");
}

void launch_increment_chain(int* counter, int count, cudaStream_t stream) {
  for (int i = 0; i < count; ++i) {
    increment_kernel<<<1, 1, 0, stream>>>(counter);
    check(cudaGetLastError(), "increment kernel launch");
  }
}

}  // namespace si::gpu::cuda
