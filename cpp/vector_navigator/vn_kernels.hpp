// vector_navigator's own SIMD kernel family (see common/dispatch.hpp):
//  - dot_tile: a blocked many-queries x many-rows dot product (register tiles
//    of queries x rows, each row chunk loaded once for several queries). Used by
//    the flat scan for one query (1 x 4 row tiles) and small batches.
//  - panel_tile: the GEMM-style micro-kernel of the batch scan, on packed
//    operands (see pack_columns), with the first step of the top-k selection
//    (a compare against each query's current k-th score) fused in.
//  - f16 / i8 storage: dot of an f32 query against rows stored as IEEE half or
//    as int8 with a per-row scale.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/dispatch.hpp"

namespace si::vn {

struct VnKernels {
  simd::Level level;
  // out[qi * out_stride + r] = dot(q + qi * dim, rows + r * dim), qi < nq, r < nr.
  void (*dot_tile)(const float* q, std::size_t nq, const float* rows, std::size_t nr,
                   std::size_t dim, float* out, std::size_t out_stride);
  // Register tile of the batch kernel: panel_rows rows (a packed row panel)
  // by up to panel_queries queries (a packed query group).
  std::size_t panel_rows;
  std::size_t panel_queries;
  // tile[a * panel_rows + j] = dot(query a, row j) for a < nq <= panel_queries
  // and j < panel_rows, where group = pack_columns(queries, nq, dim,
  // panel_queries) and panel = pack_columns(rows, <= panel_rows, dim,
  // panel_rows). Returns a bit mask with bit a set when tile[a * panel_rows +
  // j] >= thr[a] for some j (padding rows included), so that the caller looks
  // only at the queries whose top-k the tile can change.
  std::uint32_t (*panel_tile)(const float* group, std::size_t nq, const float* panel, std::size_t dim,
                              const float* thr, float* tile);
  // Widening of stored rows to float32 (the batch scan packs quantized rows
  // this way): out[i] = half(in[i]), and out[i] = scale * in[i] for int8.
  void (*widen_f16)(const std::uint16_t* in, std::size_t n, float* out);
  void (*widen_i8)(const std::int8_t* in, std::size_t n, float scale, float* out);
  // out[r] = dot(q, half(rows + r * dim)) for r < nr.
  void (*dot_f16_rows)(const float* q, const std::uint16_t* rows, std::size_t nr,
                       std::size_t dim, float* out);
  // out[r] = scale[r] * dot(q, rows + r * dim) with int8 rows, for r < nr.
  void (*dot_i8_rows)(const float* q, const std::int8_t* rows, const float* scale,
                      std::size_t nr, std::size_t dim, float* out);
};

const simd::KernelSet<VnKernels>& vn_kernel_set();
inline const VnKernels& vn_kernels() { return vn_kernel_set().active(); }
inline const VnKernels& vn_kernels(simd::Level l) { return vn_kernel_set().at(l); }

// Packs nr <= width vectors (dim each, row-major) column by column, the
// operand layout of panel_tile: out[d * width + j] = rows[j * dim + d], zeros
// for j >= nr.
void pack_columns(const float* rows, std::size_t nr, std::size_t dim, std::size_t width, float* out);

// Scalar conversions (baseline code, used for storage and tests).
std::uint16_t f32_to_f16(float f);
float f16_to_f32(std::uint16_t h);

namespace detail {
extern const VnKernels kVnKernelsScalar;
extern const VnKernels kVnKernelsAvx2;
extern const VnKernels kVnKernelsAvx512;
}  // namespace detail

}  // namespace si::vn
