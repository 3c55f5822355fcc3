// Thin, checked C++ wrappers over the CUDA runtime for superinstance._cuda:
// device buffers, pinned host memory, streams, events, CUDA Graphs, and the
// loop's model kernels. Implemented in runtime.cu / models.cu / bench.cu
// (compiled by nvcc into si_cuda_kernels). Every CUDA call is checked:
// cudaErrorMemoryAllocation -> si::GpuOutOfMemory (the sticky-free error is
// cleared, so the device stays usable), no driver/device -> si::GpuUnavailable,
// anything else -> si::Error naming the call and the CUDA error.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gpu_accelerator/graph_lifecycle.hpp"

namespace si::gpu::cuda {

// Throws the mapped si:: error when err != cudaSuccess; `what` names the call.
void check(cudaError_t err, const std::string& what);
// Makes `device` current, or throws GpuUnavailable with the reason.
void use_device(int device);

// One device allocation; freed when the last owner (buffer, DLPack export) goes.
struct DeviceAllocation {
  void* ptr = nullptr;
  std::size_t size = 0;
  int device = 0;
  DeviceAllocation(std::size_t size, int device);
  ~DeviceAllocation();
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;
};

// Pinned (page-locked) host memory, from cudaMallocHost.
struct PinnedAllocation {
  void* ptr = nullptr;
  std::size_t size = 0;
  explicit PinnedAllocation(std::size_t size);
  ~PinnedAllocation();
  PinnedAllocation(const PinnedAllocation&) = delete;
  PinnedAllocation& operator=(const PinnedAllocation&) = delete;
};

class Stream {
 public:
  explicit Stream(int device = 0, bool non_blocking = true, int priority = 0);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t handle() const;  // throws Closed after close()
  int device() const { return device_; }
  bool closed() const { return stream_ == nullptr; }
  void synchronize() const;
  bool query() const;  // true when all work is done
  void close();

 private:
  cudaStream_t stream_ = nullptr;
  int device_ = 0;
};

class Event {
 public:
  explicit Event(bool timing = true, int device = 0);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t handle() const;
  bool timing() const { return timing_; }
  bool closed() const { return event_ == nullptr; }
  void record(cudaStream_t stream);
  void synchronize() const;
  bool query() const;
  float elapsed_ms_since(const Event& start) const;  // this - start, both recorded
  void close();

 private:
  cudaEvent_t event_ = nullptr;
  bool timing_ = true;
  int device_ = 0;
};

// Copies `bytes` (cudaMemcpyDefault: unified addressing tells the direction).
// stream == nullptr with async == false: synchronous cudaMemcpy.
void copy(void* dst, const void* src, std::size_t bytes, cudaStream_t stream, bool async);
void memset(void* dst, int value, std::size_t bytes, cudaStream_t stream, bool async);
// 0: host/unregistered, 1: pinned host, 2: device, 3: managed (cudaPointerGetAttributes).
int pointer_kind(const void* p, int* device);

class Graph {
 public:
  Graph() = default;
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  const GraphLifecycle& lifecycle() const { return lc_; }
  void begin_capture(cudaStream_t stream);
  // ok == false ends the capture and discards what was captured (never throws then).
  void end_capture(bool ok);
  void instantiate();
  // Applies the newest capture to the executable graph: cudaGraphExecUpdate in
  // place when the topology matches, else re-instantiation. True when in place.
  bool update();
  void upload(cudaStream_t stream);
  void launch(cudaStream_t stream);
  std::size_t node_count() const;
  void close();
  bool closed() const { return lc_.state() == GraphLifecycle::State::closed; }

 private:
  GraphLifecycle lc_;
  cudaStream_t capture_stream_ = nullptr;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

// ---- kernels (models.cu); pointers are device pointers, launches are async on `stream`.
// Sentiment head: w1 (hidden, in), b1 (hidden), w2 (3, hidden), b2 (3); x (batch, in) -> out (batch, 3).
void launch_sentiment(const float* w1, const float* b1, const float* w2, const float* b2,
                      std::size_t in, std::size_t hidden, const float* x, std::size_t batch,
                      float* out, cudaStream_t stream);
// out (m, n) = cosine(q_i, k_j), 0 for a zero vector.
void launch_cosine(const float* q, std::size_t m, const float* k, std::size_t n, std::size_t dim,
                   float* out, cudaStream_t stream);
// `count` dependent tiny kernels, each adding 1 to *counter (launch-cost benchmark).
void launch_increment_chain(int* counter, int count, cudaStream_t stream);

// ---- benchmarks (bench.cu), device 0; times per kernel in microseconds.
struct LaunchBench {
  int chain = 0;
  double stream_us_per_kernel = 0;  // median over repeats of (launch chain + sync) / chain
  double graph_us_per_kernel = 0;   // median over repeats of (graph launch + sync) / chain
  double graph_launch_us = 0;       // median host time of the cudaGraphLaunch call alone
};
LaunchBench bench_launch_chain(int chain, int repeats);

struct CopyBench {
  std::size_t bytes = 0;
  double pageable_h2d_gbps = 0, pageable_d2h_gbps = 0, pinned_h2d_gbps = 0, pinned_d2h_gbps = 0;
};
CopyBench bench_copy_bandwidth(std::size_t bytes, int repeats);

}  // namespace si::gpu::cuda
