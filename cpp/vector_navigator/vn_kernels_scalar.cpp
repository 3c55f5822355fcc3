// Baseline kernels (no ISA flags): the reference the SIMD levels are tested against.
#include "vector_navigator/vn_kernels.hpp"

namespace si::vn::detail {
namespace {

float dot1(const float* a, const float* b, std::size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void dot_tile(const float* q, std::size_t nq, const float* rows, std::size_t nr, std::size_t dim,
              float* out, std::size_t out_stride) {
  for (std::size_t r = 0; r < nr; ++r)
    for (std::size_t qi = 0; qi < nq; ++qi)
      out[qi * out_stride + r] = dot1(q + qi * dim, rows + r * dim, dim);
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

const VnKernels kVnKernelsScalar{simd::Level::scalar, dot_tile, nullptr, dot_f16_rows, dot_i8_rows};

}  // namespace si::vn::detail
