#include <cuda_runtime.h>

#include <string>

#include "cuda_config.hpp"
#include "gpu_accelerator/cuda_probe.hpp"

namespace si::gpu {
namespace {

__global__ void probe_kernel(int* out, int value) { *out = value * 2 + 1; }

std::string describe(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

// Proves that this build's fatbinary has code the device can run.
void check_kernel(CudaDevice& d) {
  int* dev = nullptr;
  cudaError_t err = cudaMalloc(&dev, sizeof(int));
  if (err == cudaSuccess) {
    probe_kernel<<<1, 1>>>(dev, 20);
    err = cudaGetLastError();
    int host = 0;
    if (err == cudaSuccess) err = cudaMemcpy(&host, dev, sizeof(int), cudaMemcpyDeviceToHost);
    if (err == cudaSuccess && host != 41) d.kernel_error = "probe kernel returned a wrong value";
    d.kernel_ok = err == cudaSuccess && host == 41;
    cudaFree(dev);
  }
  if (err != cudaSuccess) {
    d.kernel_error = describe(err);
    cudaGetLastError();  // clear the sticky-free error so later calls work
  }
}

}  // namespace

CudaProbe probe_cuda() {
  CudaProbe p;
#ifdef SUPERINSTANCE_CUDA_ARCHITECTURES
  for (int a : {SUPERINSTANCE_CUDA_ARCHITECTURES}) p.compiled_architectures.push_back(a);
#endif
  cudaRuntimeGetVersion(&p.runtime_version);
  if (cudaDriverGetVersion(&p.driver_version) != cudaSuccess) p.driver_version = 0;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    p.error = p.driver_version == 0 ? "no NVIDIA driver is installed (" + describe(err) + ")"
                                    : describe(err);
    cudaGetLastError();
    return p;
  }
  if (count == 0) {
    p.error = "no CUDA device";
    return p;
  }
  int previous = 0;  // the probe is a query: leave the caller's current device as it was
  const bool restore = cudaGetDevice(&previous) == cudaSuccess;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if ((err = cudaGetDeviceProperties(&prop, i)) != cudaSuccess) {
      p.error = describe(err);
      continue;
    }
    CudaDevice d;
    d.index = i;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.total_memory = prop.totalGlobalMem;
    d.multiprocessors = prop.multiProcessorCount;
    d.dpx_native = prop.major >= 9;
    if (cudaSetDevice(i) == cudaSuccess) {
      size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d.free_memory = free_b;
      check_kernel(d);
    }
    p.devices.push_back(d);
  }
  if (restore) cudaSetDevice(previous);
  cudaGetLastError();
  return p;
}

}  // namespace si::gpu
