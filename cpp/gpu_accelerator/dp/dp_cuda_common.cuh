// Runtime helpers shared by dp_cuda_align.cu and dp_cuda_misc.cu: typed device
// buffers for the host-array functions, event timing, the status flag of the
// launchers, and host-side size checks.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "gpu_accelerator/cuda_runtime.hpp"
#include "gpu_accelerator/dp/dp_cuda.hpp"

namespace si::dp::gpu::detail {

using si::gpu::cuda::check;

// A typed device allocation with synchronous copies: only for the host-array
// functions (never inside a launcher).
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

// Times the work queued on the legacy default stream between construction and stop().
struct Timer {
  cudaEvent_t a{}, b{};
  Timer() {
    check(cudaEventCreate(&a), "cudaEventCreate");
    check(cudaEventCreate(&b), "cudaEventCreate");
    check(cudaEventRecord(a), "cudaEventRecord");
  }
  double stop() {
    check(cudaEventRecord(b), "cudaEventRecord");
    check(cudaEventSynchronize(b), "kernel");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    return ms;
  }
  ~Timer() {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
};

// Records a StatusBit (atomically on the device); null status: checks are off.
__host__ __device__ __forceinline__ void flag(int* status, int bit) {
  if (!status) return;
#ifdef __CUDA_ARCH__
  atomicOr(status, bit);
#else
  *status |= bit;
#endif
}

// a * b, or invalid_argument naming `what` when it overflows (or exceeds `limit`).
inline std::size_t checked_mul(std::size_t a, std::size_t b, const char* what,
                               std::size_t limit = std::numeric_limits<std::size_t>::max()) {
  std::size_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > limit) throw std::invalid_argument(std::string(what) + ": too large");
  return r;
}

// Blocks of `threads` for `work` items; invalid_argument when the grid would exceed CUDA's limit.
inline unsigned grid_for(std::size_t work, unsigned threads, const char* what) {
  const std::size_t blocks = (work + threads - 1) / threads;
  if (blocks > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument(std::string(what) + ": batch too large for one launch");
  return static_cast<unsigned>(blocks);
}

// A workspace of >= need bytes, 8-byte aligned (it holds int32 / int64 / float64 rows).
inline void need_workspace(const void* ws, std::size_t have, std::size_t need, const char* what) {
  if (need > 0 && reinterpret_cast<std::uintptr_t>(ws) % 8 != 0)
    throw std::invalid_argument(std::string(what) + ": the workspace must be 8-byte aligned");
  if (have < need)
    throw std::invalid_argument(std::string(what) + ": workspace has " + std::to_string(have) + " bytes, needs " +
                                std::to_string(need));
}

inline std::size_t align_up(std::size_t x, std::size_t a = 256) { return (x + a - 1) / a * a; }

inline void after_launch(const char* what) { check(cudaGetLastError(), what); }

}  // namespace si::dp::gpu::detail
