// GPU (CUDA, DPX) twins of the CPU dynamic programs, and host runs of the same
// per-thread code. Implemented in dp_cuda_align.cu and dp_cuda_misc.cu, built
// into superinstance._cuda. No CUDA headers here (a stream is CUstream_st*,
// which is what cudaStream_t names).
//
// Two layers:
// * launch_* functions and AlignPlan::launch: stream-ordered launches on
//   caller-provided device memory. They neither allocate, nor copy to or from
//   the host, nor synchronise, so they can be captured into a CUDA Graph.
//   Sizes and scalar arguments are checked on the host before anything is
//   launched (std::invalid_argument); values that live on the device (NaN,
//   residues outside the alphabet, weight ranges, negative cycles) are checked
//   by the kernels, which OR a StatusBit into `status` (a device int32; may be
//   null to skip the checks). Every CUDA call is checked.
// * host-array functions (align_scores, optimal_path_i32, ...): validate on the
//   host, then with device = true allocate, copy, run the launcher, synchronise
//   and copy back; with device = false run the launcher's host twin (the same
//   per-thread code on the CPU, for tests without a GPU).
// *_gpu paths throw si::GpuUnavailable (with the reason) when no CUDA device can
// run our kernels and si::GpuOutOfMemory when device memory runs out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gpu_accelerator/dp/dp_align.hpp"

struct CUstream_st;

namespace si::dp::gpu {

using StreamHandle = CUstream_st*;

enum class Precision { automatic, s32, s16x2 };

// Bits the kernels OR into a status word when device-resident input is invalid.
enum StatusBit : int {
  kStatusBadResidue = 1,      // a target byte outside the substitution matrix's alphabet
  kStatusPathRange = 2,       // optimal path (int32): max|cost| * cols >= 2**30
  kStatusNonFinite = 4,       // NaN (rolling min/max), NaN or infinity (optimal path f32, DTW)
  kStatusWeightRange = 8,     // Floyd-Warshall: a weight beyond the sentinel, or (n - 1) * |w| >= 2**29
  kStatusNegativeCycle = 16,  // Floyd-Warshall: the graph has a negative cycle
};
// "" for 0, else one sentence per bit set.
std::string status_message(int bits);

// Throws GpuUnavailable unless a device can run our kernels (probes once per process).
void require_device();

// ------------------------------------------------------------------ alignment
struct AlignRun {
  std::vector<std::int32_t> scores;
  std::string variant;   // "s32" or "s16x2"
  double kernel_ms = 0;  // GPU time of the launch (0 for host runs)
  int team = 1;          // threads per target (intra-warp wavefront over query tiles)
};

// Whether bounds allow the s16x2 variant for these sizes.
bool s16x2_safe(const AlignParams& p, std::size_t m, std::size_t max_n);

// One query, matrix, gap setting and list of target lengths, prepared once:
// the layout (targets sorted by length into teams), the substitution matrix and
// the encoded query are computed on the host in the constructor and, with
// device >= 0, uploaded to that device's memory, owned by the plan (the only
// allocation; do it outside a capture; device < 0: a plan for run_host only). launch() then aligns any targets of
// those lengths. Alphabets of up to 64 letters. Not copyable.
class AlignPlan {
 public:
  // offsets: n_targets + 1 non-decreasing byte offsets of the targets in the
  // packed buffer that launch() receives (offsets[0] >= 0).
  AlignPlan(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query, std::size_t m,
            const std::int64_t* offsets, std::size_t n_targets, Precision precision, int device);
  ~AlignPlan();
  AlignPlan(const AlignPlan&) = delete;
  AlignPlan& operator=(const AlignPlan&) = delete;

  std::size_t n_targets() const;
  std::size_t target_bytes() const;     // bytes launch() reads from `targets`: offsets[n_targets]
  std::size_t workspace_bytes() const;  // scratch launch() needs (0 when nothing runs on the GPU)
  const std::string& variant() const;
  int team() const;
  bool on_device() const;

  // Stream-ordered: targets (device, >= target_bytes()), scores (device int32,
  // n_targets), workspace (device, >= workspace_bytes()), status (device int32
  // or null: kStatusBadResidue for a byte outside the alphabet).
  void launch(const std::uint8_t* targets, std::int32_t* scores, void* workspace, std::size_t workspace_bytes,
              int* status, StreamHandle stream) const;
  // The same gather / DPX / scatter code on the host (host memory, any plan).
  void run_host(const std::uint8_t* targets, std::int32_t* scores, int* status) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Alignment scores of host arrays: validated on the host (bad residues raise
// before any CUDA call), then on the GPU (device = true) or with the host twin.
AlignRun align_scores(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query,
                      std::size_t m, const std::uint8_t* targets, const std::int64_t* offsets,
                      std::size_t n_targets, Precision precision, bool device);

// ------------------------------------------------------------------ other kernels, launchers
// Optimal path, one thread per matrix. cost (batch, rows, cols); total (batch,)
// int64 (i32) or float64 (f32); path (batch, cols) int32. The int32 kernel
// accumulates in int32 (needs max|cost| * cols < 2**30).
std::size_t optimal_path_workspace_bytes(bool f32, std::size_t batch, std::size_t rows, std::size_t cols);
void launch_optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                             std::int64_t* total, std::int32_t* path, void* workspace, std::size_t workspace_bytes,
                             int* status, StreamHandle stream);
void launch_optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                             std::int32_t* path, void* workspace, std::size_t workspace_bytes, int* status,
                             StreamHandle stream);
// Floyd-Warshall in place on d (n, n) int32, blocked (32 x 32 tiles; the ragged
// edge tile reads missing cells as isolated vertices), with the CPU's
// preparation (diagonal min(w_ii, 0)) and finish (unreachable -> kNoEdge).
void launch_floyd_warshall_i32(std::int32_t* d, std::size_t n, int* status, StreamHandle stream);
// x (batch, n) -> out (batch, n - window + 1), one thread per window.
void launch_rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window,
                               bool want_max, std::int32_t* out, int* status, StreamHandle stream);
void launch_rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                               float* out, int* status, StreamHandle stream);
// a (batch, la), b (batch, lb) -> out (batch,) float64; band < 0: no band.
std::size_t dtw_workspace_bytes(std::size_t batch, std::size_t lb);
void launch_dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band,
                    double* out, void* workspace, std::size_t workspace_bytes, int* status, StreamHandle stream);

// Host twins of the launchers above: the same checks and per-thread code on
// host memory (workspace allocated inside), with the device-side value checks
// reported into *status.
void optimal_path_i32_host(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                           std::int64_t* total, std::int32_t* path, int* status);
void optimal_path_f32_host(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                           std::int32_t* path, int* status);
void floyd_warshall_i32_host(std::int32_t* d, std::size_t n, int* status);
void rolling_minmax_i32_host(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window,
                             bool want_max, std::int32_t* out, int* status);
void rolling_minmax_f32_host(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                             float* out, int* status);
void dtw_f32_host(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band,
                  double* out, int* status);

// ------------------------------------------------------------------ host-array functions
// Validated on the host (clear errors before any CUDA call), then the launcher
// on the GPU (allocate, copy, launch, synchronise, copy back).
void optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                      std::int64_t* total, std::int32_t* path);
void optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                      std::int32_t* path);
void floyd_warshall_i32(std::int32_t* d, std::size_t n, double* kernel_ms = nullptr);
void rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        std::int32_t* out);
void rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        float* out);
void dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band,
             double* out, double* kernel_ms = nullptr);

}  // namespace si::dp::gpu
