// Checked CUDA runtime wrappers: see cuda_runtime.hpp.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "common/errors.hpp"
#include "gpu_accelerator/cuda_runtime.hpp"

namespace si::gpu::cuda {

void check(cudaError_t err, const std::string& what) {
  if (err == cudaSuccess) return;
  // Clear the last (non-sticky) error so that later calls are not reported for it.
  cudaGetLastError();
  std::string msg = what + " failed: " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  switch (err) {
    case cudaErrorMemoryAllocation:
      throw GpuOutOfMemory(msg);
    case cudaErrorInsufficientDriver:
    case cudaErrorNoDevice:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorCallRequiresNewerDriver:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorInitializationError:
      throw GpuUnavailable(msg);
    default:
      throw Error("CUDA: " + msg);
  }
}

namespace {

// Frees a handle in a destructor: errors are dropped (nothing can report them
// there) and cleared so that later calls are not reported for them.
template <class H>
void release_quietly(H handle, cudaError_t (*release)(H)) {
  if (!handle) return;
  release(handle);
  cudaGetLastError();
}

// The handle of an open Stream or Event; Closed after close().
template <class H>
H open_handle(H handle, const char* what) {
  if (!handle) throw Closed(std::string(what) + " is closed");
  return handle;
}

// The answer of cudaStreamQuery/cudaEventQuery: true when the work is done.
bool work_done(cudaError_t err, const char* what) {
  if (err == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  check(err, what);
  return true;
}

}  // namespace

void use_device(int device) {
  if (device < 0) throw std::invalid_argument("device index must be >= 0, got " + std::to_string(device));
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) check(err, "cudaGetDeviceCount");
  if (count == 0) throw GpuUnavailable("no CUDA device");
  if (device >= count)
    throw GpuUnavailable("CUDA device " + std::to_string(device) + " does not exist (" +
                         std::to_string(count) + " device(s))");
  check(cudaSetDevice(device), "cudaSetDevice");
}

// ------------------------------------------------------------------ memory
DeviceAllocation::DeviceAllocation(std::size_t n, int dev) : size(n), device(dev) {
  if (n == 0) throw std::invalid_argument("device buffer size must be > 0 bytes");
  use_device(dev);
  cudaError_t err = cudaMalloc(&ptr, n);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    std::size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    cudaGetLastError();
    throw GpuOutOfMemory("cudaMalloc of " + std::to_string(n) + " bytes on device " +
                         std::to_string(dev) + " failed: out of memory (" +
                         std::to_string(free_b) + " of " + std::to_string(total_b) +
                         " bytes free); the device remains usable");
  }
  check(err, "cudaMalloc(" + std::to_string(n) + " bytes)");
}

DeviceAllocation::~DeviceAllocation() {
  if (ptr) {
    int prev = 0;
    cudaGetDevice(&prev);
    if (prev != device) cudaSetDevice(device);
    cudaFree(ptr);
    if (prev != device) cudaSetDevice(prev);
    cudaGetLastError();
  }
}

PinnedAllocation::PinnedAllocation(std::size_t n) : size(n) {
  if (n == 0) throw std::invalid_argument("pinned buffer size must be > 0 bytes");
  cudaError_t err = cudaMallocHost(&ptr, n);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw GpuOutOfMemory("cudaMallocHost of " + std::to_string(n) +
                         " bytes failed: the system cannot pin that much memory");
  }
  check(err, "cudaMallocHost(" + std::to_string(n) + " bytes)");
}

PinnedAllocation::~PinnedAllocation() { release_quietly(ptr, &cudaFreeHost); }

void copy(void* dst, const void* src, std::size_t bytes, cudaStream_t stream, bool async) {
  if (bytes == 0) return;
  if (async)
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream), "cudaMemcpyAsync");
  else
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault), "cudaMemcpy");
}

void memset(void* dst, int value, std::size_t bytes, cudaStream_t stream, bool async) {
  if (async)
    check(cudaMemsetAsync(dst, value, bytes, stream), "cudaMemsetAsync");
  else
    check(cudaMemset(dst, value, bytes), "cudaMemset");
}

int pointer_kind(const void* p, int* device) {
  cudaPointerAttributes a{};
  check(cudaPointerGetAttributes(&a, p), "cudaPointerGetAttributes");
  if (device) *device = a.device;
  switch (a.type) {
    case cudaMemoryTypeHost: return 1;
    case cudaMemoryTypeDevice: return 2;
    case cudaMemoryTypeManaged: return 3;
    default: return 0;
  }
}

// ------------------------------------------------------------------ streams, events
Stream::Stream(int device, bool non_blocking, int priority) : device_(device) {
  use_device(device);
  check(cudaStreamCreateWithPriority(&stream_, non_blocking ? cudaStreamNonBlocking : cudaStreamDefault,
                                     priority),
        "cudaStreamCreateWithPriority");
}

Stream::~Stream() { release_quietly(stream_, &cudaStreamDestroy); }

cudaStream_t Stream::handle() const { return open_handle(stream_, "Stream"); }

void Stream::synchronize() const { check(cudaStreamSynchronize(handle()), "cudaStreamSynchronize"); }

bool Stream::query() const { return work_done(cudaStreamQuery(handle()), "cudaStreamQuery"); }

void Stream::close() {
  if (!stream_) return;
  cudaStream_t s = stream_;
  stream_ = nullptr;
  cudaStreamSynchronize(s);  // pending work finishes before the stream goes
  check(cudaStreamDestroy(s), "cudaStreamDestroy");
}

Event::Event(bool timing, int device) : timing_(timing), device_(device) {
  use_device(device);
  check(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming),
        "cudaEventCreateWithFlags");
}

Event::~Event() { release_quietly(event_, &cudaEventDestroy); }

cudaEvent_t Event::handle() const { return open_handle(event_, "Event"); }

void Event::record(cudaStream_t stream) { check(cudaEventRecord(handle(), stream), "cudaEventRecord"); }
void Event::synchronize() const { check(cudaEventSynchronize(handle()), "cudaEventSynchronize"); }

bool Event::query() const { return work_done(cudaEventQuery(handle()), "cudaEventQuery"); }

float Event::elapsed_ms_since(const Event& start) const {
  if (!timing_ || !start.timing_)
    throw std::invalid_argument("Event.elapsed: both events must be created with timing=True");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start.handle(), handle()), "cudaEventElapsedTime");
  return ms;
}

void Event::close() {
  if (!event_) return;
  cudaEvent_t e = event_;
  event_ = nullptr;
  check(cudaEventDestroy(e), "cudaEventDestroy");
}

// ------------------------------------------------------------------ graphs
Graph::~Graph() {
  try {
    close();
  } catch (...) {
  }
}

void Graph::begin_capture(cudaStream_t stream) {
  lc_.check_begin_capture();
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread)
    throw std::invalid_argument(
        "Graph.capture: the default stream cannot be captured; pass a Stream");
  // ThreadLocal: unsafe calls (cudaMalloc, synchronous copies) from this thread
  // invalidate the capture and fail; other threads are not affected.
  check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  capture_stream_ = stream;
  lc_.on_begin_capture();
}

void Graph::end_capture(bool ok) {
  lc_.check_end_capture();
  cudaGraph_t g = nullptr;
  cudaError_t err = cudaStreamEndCapture(capture_stream_, &g);
  capture_stream_ = nullptr;
  if (err != cudaSuccess || !ok) {
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
    lc_.on_end_capture(false);
    if (ok) check(err, "cudaStreamEndCapture (the capture was invalidated by an unsupported call)");
    return;
  }
  if (graph_) cudaGraphDestroy(graph_);  // an executable graph does not need its source
  graph_ = g;
  lc_.on_end_capture(true);
}

void Graph::instantiate() {
  lc_.check_instantiate();
  cudaGraphExec_t e = nullptr;
  // CUDA 12+/13 form: flags, no error-node/log-buffer arguments.
  check(cudaGraphInstantiate(&e, graph_, 0), "cudaGraphInstantiate");
  if (exec_) cudaGraphExecDestroy(exec_);
  exec_ = e;
  lc_.on_instantiate();
}

bool Graph::update() {
  lc_.check_update();
  cudaGraphExecUpdateResultInfo info{};
  cudaError_t err = cudaGraphExecUpdate(exec_, graph_, &info);
  if (err == cudaSuccess && info.result == cudaGraphExecUpdateSuccess) {
    lc_.on_update(true);
    return true;
  }
  cudaGetLastError();  // cudaErrorGraphExecUpdateFailure: topology or node kinds changed
  cudaGraphExec_t e = nullptr;
  check(cudaGraphInstantiate(&e, graph_, 0), "cudaGraphInstantiate (re-instantiation after update)");
  cudaGraphExecDestroy(exec_);
  exec_ = e;
  lc_.on_update(false);
  return false;
}

void Graph::upload(cudaStream_t stream) {
  lc_.check_launch("upload");
  check(cudaGraphUpload(exec_, stream), "cudaGraphUpload");
}

void Graph::launch(cudaStream_t stream) {
  lc_.check_launch("launch");
  check(cudaGraphLaunch(exec_, stream), "cudaGraphLaunch");
  lc_.on_launch();
}

std::size_t Graph::node_count() const {
  if (!graph_) return 0;
  std::size_t n = 0;
  check(cudaGraphGetNodes(graph_, nullptr, &n), "cudaGraphGetNodes");
  return n;
}

void Graph::close() {
  if (lc_.state() == GraphLifecycle::State::closed) return;
  if (lc_.state() == GraphLifecycle::State::capturing) end_capture(false);
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  exec_ = nullptr;
  graph_ = nullptr;
  cudaGetLastError();
  lc_.on_close();
}

}  // namespace si::gpu::cuda
