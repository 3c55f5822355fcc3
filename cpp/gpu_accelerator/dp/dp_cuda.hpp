// GPU (CUDA, DPX) twins of the CPU dynamic programs, and host runs of the same
// per-cell code. Implemented in dp_cuda.cu, built into superinstance._cuda.
// No CUDA headers here. Every *_gpu function throws si::GpuUnavailable (with
// the reason) when no CUDA device can run our kernels, and si::GpuOutOfMemory
// when device memory runs out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gpu_accelerator/dp/dp_align.hpp"

namespace si::dp::gpu {

enum class Precision { automatic, s32, s16x2 };

struct AlignRun {
  std::vector<std::int32_t> scores;
  std::string variant;      // "s32" or "s16x2"
  double kernel_ms = 0;     // GPU kernel time (0 for host runs)
  int team = 1;             // threads per target (intra-warp wavefront over query tiles)
};

// Alignment scores on the GPU (device = true) or with the same per-cell DPX
// code on the host (device = false; for tests without a GPU). Alphabets of up
// to 64 letters. s16x2 packs two targets per thread; Precision::automatic uses
// it when bounds prove no int16 overflow, else s32.
AlignRun align_scores(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query,
                      std::size_t m, const std::uint8_t* targets, const std::int64_t* offsets,
                      std::size_t n_targets, Precision precision, bool device);

// Whether bounds allow the s16x2 variant for these sizes.
bool s16x2_safe(const AlignParams& p, std::size_t m, std::size_t max_n);

// Throws GpuUnavailable unless a device can run our kernels.
void require_device();

// Optimal path (int32 costs; totals int64). Requires |cost| * cols < 2**30 on
// the GPU (int32 DPX accumulation); the host twin has the same rule.
void optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                      std::int64_t* total, std::int32_t* path, bool device);
void optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols, double* total,
                      std::int32_t* path, bool device);
// Floyd-Warshall, blocked (32 x 32 tiles) on the GPU.
void floyd_warshall_i32(std::int32_t* d, std::size_t n, bool device, double* kernel_ms = nullptr);
void rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        std::int32_t* out, bool device);
void rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window, bool want_max,
                        float* out, bool device);
void dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb, long band,
             double* out, bool device, double* kernel_ms = nullptr);

}  // namespace si::dp::gpu
