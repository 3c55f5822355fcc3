// The SIMD kernels every component uses, as two kernel tables (see
// dispatch.hpp), one per element type:
//  - VectorKernels (float32): pair reductions (dot, squared L2) and their
//    one-query-against-many-rows form, the queries x rows micro-kernels
//    (dot_tile, panel_tile, qk_block; kernels_tile.hpp), and the kernels on
//    rows stored as IEEE half or int8 (kernels_convert.hpp). Used by
//    vector_navigator (search) and gpu_accelerator (the CPU cosine and
//    sentiment head).
//  - F64Kernels (float64): dot, symmetric matrix-vector product, rank-1
//    update (kernels_matvec.hpp). Used by frozen_model_rl (A^-1 algebra).
// Layout, operation x dtype x ISA: each operation is written once, as a
// template in kernels_*.hpp over a level's vector operations
// (simd_ops_avx2.hpp, simd_ops_avx512.hpp); vector_kernels_{avx2,avx512}.cpp
// instantiate the tables with that level's ISA flags, and
// vector_kernels_scalar.cpp holds the plain-loop reference every level is
// tested against.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/dispatch.hpp"

namespace si::simd {

struct VectorKernels {
  Level level;
  float (*dot)(const float* a, const float* b, std::size_t n);
  float (*l2sq)(const float* a, const float* b, std::size_t n);
  // out[r] = dot(q, base + r * stride) for r in [0, rows); dim elements each.
  void (*dot_rows)(const float* q, const float* base, std::size_t rows, std::size_t dim,
                   std::size_t stride, float* out);
  void (*l2sq_rows)(const float* q, const float* base, std::size_t rows, std::size_t dim,
                    std::size_t stride, float* out);
  // out[qi * out_stride + r] = dot(q + qi * dim, rows + r * dim), qi < nq, r < nr:
  // register tiles of queries x rows, row-major operands (a few queries).
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
  // out[i * ldo + j] = sum_d q[i * dim + d] * kt[d * kKeyBlock + j] for i < m and
  // j < valid <= kKeyBlock: row-major queries against a packed key block
  // (kt = pack_columns(keys, valid, dim, kKeyBlock)).
  void (*qk_block)(const float* q, std::size_t m, std::size_t dim, const float* kt,
                   std::size_t valid, float* out, std::size_t ldo);
  // Widening of stored rows to float32: out[i] = half(in[i]), and
  // out[i] = scale * in[i] for int8.
  void (*widen_f16)(const std::uint16_t* in, std::size_t n, float* out);
  void (*widen_i8)(const std::int8_t* in, std::size_t n, float scale, float* out);
  // out[r] = dot(q, half(rows + r * dim)) for r < nr.
  void (*dot_f16_rows)(const float* q, const std::uint16_t* rows, std::size_t nr,
                       std::size_t dim, float* out);
  // out[r] = scale[r] * dot(q, rows + r * dim) with int8 rows, for r < nr.
  void (*dot_i8_rows)(const float* q, const std::int8_t* rows, const float* scale,
                      std::size_t nr, std::size_t dim, float* out);
};

// Columns of qk_block's packed key block.
constexpr std::size_t kKeyBlock = 128;

struct F64Kernels {
  Level level;
  double (*dot)(const double* a, const double* b, std::size_t n);
  // y = M x for a symmetric n x n row-major M.
  void (*symv)(const double* M, const double* x, std::size_t n, double* y);
  // M += f * u u' (n x n row-major).
  void (*rank1)(double* M, const double* u, double f, std::size_t n);
};

const KernelSet<VectorKernels>& vector_kernel_set();
inline const VectorKernels& vector_kernels() { return vector_kernel_set().active(); }
inline const VectorKernels& vector_kernels(Level level) { return vector_kernel_set().at(level); }

const KernelSet<F64Kernels>& f64_kernel_set();

// Packs nr <= width vectors (dim each, row-major) column by column, the
// operand layout of panel_tile and qk_block: out[d * width + j] =
// rows[j * dim + d], zeros for j >= nr.
void pack_columns(const float* rows, std::size_t nr, std::size_t dim, std::size_t width, float* out);

// IEEE 754 binary16 <-> float32, scalar (storage, tests and the reference
// kernels): round to nearest even, overflow -> inf, NaN kept.
std::uint16_t f32_to_f16(float f);
float f16_to_f32(std::uint16_t h);

namespace detail {
extern const VectorKernels kVectorKernelsScalar;
extern const VectorKernels kVectorKernelsAvx2;
extern const VectorKernels kVectorKernelsAvx512;
extern const F64Kernels kF64KernelsScalar;
extern const F64Kernels kF64KernelsAvx2;
extern const F64Kernels kF64KernelsAvx512;
}  // namespace detail

}  // namespace si::simd
