// Baseline kernels (no ISA flags): the reference the SIMD levels are tested against.
#include "common/vector_kernels.hpp"
#include "vector_navigator/vn_kernels.hpp"

namespace si::vn::detail {
namespace {

void dot_tile(const float* q, std::size_t nq, const float* rows, std::size_t nr, std::size_t dim,
              float* out, std::size_t out_stride) {
  for (std::size_t r = 0; r < nr; ++r)
    for (std::size_t qi = 0; qi < nq; ++qi)
      out[qi * out_stride + r] = simd::detail::kVectorKernelsScalar.dot(q + qi * dim, rows + r * dim, dim);
}

constexpr std::size_t kPanelRows = 8, kPanelQueries = 4;

std::uint32_t panel_tile(const float* group, std::size_t nq, const float* panel, std::size_t dim, const float* thr,
                         float* tile) {
  std::uint32_t mask = 0;
  for (std::size_t a = 0; a < nq; ++a) {
    for (std::size_t j = 0; j < kPanelRows; ++j) {
      float s = 0;
      for (std::size_t d = 0; d < dim; ++d) s += group[d * kPanelQueries + a] * panel[d * kPanelRows + j];
      tile[a * kPanelRows + j] = s;
      if (s >= thr[a]) mask |= 1u << a;
    }
  }
  return mask;
}

void widen_f16(const std::uint16_t* in, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = f16_to_f32(in[i]);
}

void widen_i8(const std::int8_t* in, std::size_t n, float scale, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * scale;
}

void dot_f16_rows(const float* q, const std::uint16_t* rows, std::size_t nr, std::size_t dim,
                  float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::uint16_t* row = rows + r * dim;
    float s = 0;
    for (std::size_t i = 0; i < dim; ++i) s += q[i] * f16_to_f32(row[i]);
    out[r] = s;
  }
}

void dot_i8_rows(const float* q, const std::int8_t* rows, const float* scale, std::size_t nr,
                 std::size_t dim, float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::int8_t* row = rows + r * dim;
    float s = 0;
    for (std::size_t i = 0; i < dim; ++i) s += q[i] * static_cast<float>(row[i]);
    out[r] = s * scale[r];
  }
}

}  // namespace

const VnKernels kVnKernelsScalar{simd::Level::scalar, dot_tile,     kPanelRows,  kPanelQueries,
                                 panel_tile,          widen_f16,    widen_i8,
                                 dot_f16_rows,        dot_i8_rows};

}  // namespace si::vn::detail
