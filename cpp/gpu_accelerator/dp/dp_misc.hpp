// CPU dynamic programs besides alignment: the seed's optimal path, Floyd-Warshall,
// rolling-window min/max and dynamic time warping. Each has a CUDA twin that
// runs the same recurrence (dp_kernels.cu); integer results are identical.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/cpu_features.hpp"

namespace si::dp {

// ---- optimal path ---------------------------------------------------------
// cost: batch x rows x cols (row-major). Choose one row per column, moving at
// most one row between neighbouring columns, minimising the total. Ties go to
// the smallest row (for the end row and for each predecessor).
// total[b] = minimum total; path[b * cols + c] = row chosen in column c.
// Integer costs accumulate in int64, float costs in double.
void optimal_path_i32(const std::int32_t* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                      std::int64_t* total, std::int32_t* path, int threads);
void optimal_path_f32(const float* cost, std::size_t batch, std::size_t rows, std::size_t cols,
                      double* total, std::int32_t* path, int threads);

// ---- Floyd-Warshall -------------------------------------------------------
// "No edge" sentinel: 2**30 - 1, so that the sum of two entries never
// overflows int32. Requires (n - 1) * max|w| < 2**29 (checked), so that any
// distance >= kNoEdge / 2 is "unreachable". d is n x n, updated in place; the
// diagonal starts at min(w_ii, 0). Throws std::invalid_argument on a negative
// cycle.
constexpr std::int32_t kNoEdge = (1 << 30) - 1;
// Blocked (64 x 64 tiles), tiles of a phase on `threads` threads, rows relaxed with SIMD.
void floyd_warshall_i32(std::int32_t* d, std::size_t n, int threads, simd::Level level);
// Validates weights and prepares d (diagonal, sentinel); shared with the GPU path.
void floyd_warshall_prepare(std::int32_t* d, std::size_t n);
// Maps values >= kNoEdge / 2 to kNoEdge and checks for negative cycles.
void floyd_warshall_finish(std::int32_t* d, std::size_t n);

// ---- rolling window min / max ----------------------------------------------
// x: batch x n; out: batch x (n - window + 1); out[i] = min/max of x[i .. i+window).
void rolling_minmax_i32(const std::int32_t* x, std::size_t batch, std::size_t n, std::size_t window,
                        bool want_max, std::int32_t* out, int threads);
void rolling_minmax_f32(const float* x, std::size_t batch, std::size_t n, std::size_t window,
                        bool want_max, float* out, int threads);

// ---- dynamic time warping --------------------------------------------------
// a: batch x la, b: batch x lb. Distance of pair k: D(la-1, lb-1) with
// D(i,j) = |a_i - b_j| + min(D(i-1,j), D(i,j-1), D(i-1,j-1)), accumulated in
// double; band >= 0 restricts to |i - j| <= band (infinite when la and lb
// differ by more than the band), band < 0 means no band.
void dtw_f32(const float* a, const float* b, std::size_t batch, std::size_t la, std::size_t lb,
             long band, double* out, int threads);

}  // namespace si::dp
