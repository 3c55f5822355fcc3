// vector_navigator's own SIMD kernel family (see common/dispatch.hpp):
//  - dot_tile: a blocked many-queries x many-rows dot product (register tiles
//    of queries x rows, each row chunk loaded once for several queries). Used by
//    the flat scan for one query (1 x 4 row tiles) and for batches.
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
  // Batch kernel on a packed panel of 32 rows (see pack_rows32): out[qi *
  // out_stride + r] = dot(q + qi * dim, row r), r < 32, qi < nq. Broadcast
  // form (no horizontal sums); null where a level has none.
  void (*dot_panel32)(const float* q, std::size_t nq, const float* panel, std::size_t dim, float* out,
                      std::size_t out_stride);
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

// Packs nr <= 32 rows (dim each) into the panel layout of dot_panel32:
// panel[h * dim * 16 + d * 16 + j] = rows[(h * 16 + j) * dim + d], zeros past nr.
void pack_rows32(const float* rows, std::size_t nr, std::size_t dim, float* panel);

// Scalar conversions (baseline code, used for storage and tests).
std::uint16_t f32_to_f16(float f);
float f16_to_f32(std::uint16_t h);

namespace detail {
extern const VnKernels kVnKernelsScalar;
extern const VnKernels kVnKernelsAvx2;
extern const VnKernels kVnKernelsAvx512;
}  // namespace detail

}  // namespace si::vn
