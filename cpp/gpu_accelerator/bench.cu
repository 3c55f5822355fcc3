// GPU micro-benchmarks: kernel launch cost (a chain of tiny kernels, individual
// stream launches vs one graph replay) and host<->device copy bandwidth
// (pageable vs pinned). Compiled into _cuda because the kernels and the
// event-timed loops need nvcc and must run without Python in the timed path;
// driven only by python/superinstance/bench/gpu_accelerator.py (launch_chain,
// copy_bandwidth), which the CLI, asv and scripts/gpu_check.sh call.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "common/errors.hpp"
#include "gpu_accelerator/cuda_runtime.hpp"

namespace si::gpu::cuda {
namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

}  // namespace

LaunchBench bench_launch_chain(int chain, int repeats) {
  if (chain <= 0 || repeats <= 0) throw std::invalid_argument("chain and repeats must be > 0");
  use_device(0);
  DeviceAllocation counter(sizeof(int), 0);
  Stream stream(0);
  cudaStream_t s = stream.handle();
  int* c = static_cast<int*>(counter.ptr);
  memset(c, 0, sizeof(int), s, true);

  Graph graph;
  graph.begin_capture(s);
  try {
    launch_increment_chain(c, chain, s);
  } catch (...) {
    graph.end_capture(false);
    throw;
  }
  graph.end_capture(true);
  graph.instantiate();
  graph.upload(s);

  // Warm up both paths.
  for (int r = 0; r < 3; ++r) {
    launch_increment_chain(c, chain, s);
    graph.launch(s);
  }
  stream.synchronize();

  std::vector<double> eager, replay, launch_only;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    launch_increment_chain(c, chain, s);
    stream.synchronize();
    eager.push_back(us_since(t0) / chain);

    t0 = Clock::now();
    graph.launch(s);
    launch_only.push_back(us_since(t0));
    stream.synchronize();
    replay.push_back(us_since(t0) / chain);
  }
  int host = 0;
  copy(&host, c, sizeof(int), nullptr, false);
  const long long expected = static_cast<long long>(chain) * (2 * 3 + 2 * repeats);
  if (host != expected)
    throw Error("launch benchmark: the kernels ran " + std::to_string(host) + " times, expected " +
                std::to_string(expected));
  LaunchBench b;
  b.chain = chain;
  b.stream_us_per_kernel = median(eager);
  b.graph_us_per_kernel = median(replay);
  b.graph_launch_us = median(launch_only);
  return b;
}

CopyBench bench_copy_bandwidth(std::size_t bytes, int repeats) {
  if (bytes == 0 || repeats <= 0) throw std::invalid_argument("bytes and repeats must be > 0");
  use_device(0);
  DeviceAllocation dev(bytes, 0);
  PinnedAllocation pinned(bytes);
  std::unique_ptr<unsigned char[]> pageable(new unsigned char[bytes]);
  std::memset(pageable.get(), 1, bytes);  // fault the pages in before timing
  std::memset(pinned.ptr, 1, bytes);
  Stream stream(0);
  cudaStream_t s = stream.handle();
  Event start(true, 0), stop(true, 0);
  auto gbps = [&](void* dst, const void* src) {
    std::vector<double> v;
    copy(dst, src, bytes, s, true);  // warm-up
    stream.synchronize();
    for (int r = 0; r < repeats; ++r) {
      start.record(s);
      copy(dst, src, bytes, s, true);
      stop.record(s);
      stop.synchronize();
      v.push_back(static_cast<double>(bytes) / (stop.elapsed_ms_since(start) * 1e-3) / 1e9);
    }
    return median(v);
  };
  CopyBench b;
  b.bytes = bytes;
  b.pageable_h2d_gbps = gbps(dev.ptr, pageable.get());
  b.pageable_d2h_gbps = gbps(pageable.get(), dev.ptr);
  b.pinned_h2d_gbps = gbps(dev.ptr, pinned.ptr);
  b.pinned_d2h_gbps = gbps(pinned.ptr, dev.ptr);
  return b;
}

}  // namespace si::gpu::cuda
