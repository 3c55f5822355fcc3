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

__device__ __forceinline__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(kFull, v, off);
  return v;
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
  for (int j = lane; j < hidden; j += 32) {
    const float* w = w1 + static_cast<long long>(j) * in;
    float s = 0.0f;
    for (int i = 0; i < in; ++i) s = fmaf(w[i], xr[i], s);
    h[j] = fmaxf(s + b1[j], 0.0f);
  }
  __syncwarp();
  float z0 = 0.0f, z1 = 0.0f, z2 = 0.0f;
  for (int j = lane; j < hidden; j += 32) {
    const float hj = h[j];
    z0 = fmaf(w2[j], hj, z0);
    z1 = fmaf(w2[hidden + j], hj, z1);
    z2 = fmaf(w2[2 * hidden + j], hj, z2);
  }
  z0 = warp_sum(z0);
  z1 = warp_sum(z1);
  z2 = warp_sum(z2);
  if (lane == 0) {
    out[row * 3 + 0] = tanhf(z0 + b2[0]);
    out[row * 3 + 1] = 1.0f / (1.0f + expf(-(z1 + b2[1])));
    out[row * 3 + 2] = 1.0f / (1.0f + expf(-(z2 + b2[2])));
  }
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
    float dot = 0.0f, qq = 0.0f, kk = 0.0f;
    for (int d = lane; d < dim; d += 32) {
      const float a = qr[d], b = kr[d];
      dot = fmaf(a, b, dot);
      qq = fmaf(a, a, qq);
      kk = fmaf(b, b, kk);
    }
    dot = warp_sum(dot);
    qq = warp_sum(qq);
    kk = warp_sum(kk);
    if (lane == 0) {
      float c = (qq > 0.0f && kk > 0.0f) ? dot / (sqrtf(qq) * sqrtf(kk)) : 0.0f;
      out[i * n + j] = fminf(1.0f, fmaxf(-1.0f, c));
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
