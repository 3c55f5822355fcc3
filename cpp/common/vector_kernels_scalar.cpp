// Portable reference kernels (no ISA flags): plain loops, the reference every
// SIMD level is tested against. Reductions keep four partial sums so that the
// compiler may use baseline SSE2 without reassociation flags.
#include "common/kernels_reduce.hpp"
#include "common/vector_kernels.hpp"

namespace si::simd::detail {
namespace {

template <class T>
T dot(const T* a, const T* b, std::size_t n) {
  T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
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

float l2sq(const float* a, const float* b, std::size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
    float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < n; ++i) {
    float d = a[i] - b[i];
    s0 += d * d;
  }
  return (s0 + s1) + (s2 + s3);
}

void dot_tile(const float* q, std::size_t nq, const float* rows, std::size_t nr, std::size_t dim, float* out,
              std::size_t out_stride) {
  for (std::size_t r = 0; r < nr; ++r)
    for (std::size_t qi = 0; qi < nq; ++qi) out[qi * out_stride + r] = dot(q + qi * dim, rows + r * dim, dim);
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

void qk_block(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid, float* out,
              std::size_t ldo) {
  float acc[kKeyBlock];
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < kKeyBlock; ++j) acc[j] = 0.0f;
    const float* qi = q + i * dim;
    for (std::size_t d = 0; d < dim; ++d) {
      const float a = qi[d];
      const float* kr = kt + d * kKeyBlock;
      for (std::size_t j = 0; j < kKeyBlock; ++j) acc[j] += a * kr[j];
    }
    for (std::size_t j = 0; j < valid; ++j) out[i * ldo + j] = acc[j];
  }
}

void widen_f16(const std::uint16_t* in, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = f16_to_f32(in[i]);
}

void widen_i8(const std::int8_t* in, std::size_t n, float scale, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * scale;
}

void dot_f16_rows(const float* q, const std::uint16_t* rows, std::size_t nr, std::size_t dim, float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::uint16_t* row = rows + r * dim;
    float s = 0;
    for (std::size_t i = 0; i < dim; ++i) s += q[i] * f16_to_f32(row[i]);
    out[r] = s;
  }
}

void dot_i8_rows(const float* q, const std::int8_t* rows, const float* scale, std::size_t nr, std::size_t dim,
                 float* out) {
  for (std::size_t r = 0; r < nr; ++r) {
    const std::int8_t* row = rows + r * dim;
    float s = 0;
    for (std::size_t i = 0; i < dim; ++i) s += q[i] * static_cast<float>(row[i]);
    out[r] = s * scale[r];
  }
}

// symv accumulates rows as axpys, which vectorise with SSE2.
void symv(const double* M, const double* x, std::size_t n, double* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    const double xj = x[j];
    const double* row = M + j * n;
    for (std::size_t i = 0; i < n; ++i) y[i] += row[i] * xj;
  }
}

void rank1(double* M, const double* u, double f, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double fu = f * u[i];
    double* row = M + i * n;
    for (std::size_t j = 0; j < n; ++j) row[j] += fu * u[j];
  }
}

}  // namespace

const VectorKernels kVectorKernelsScalar{
    Level::scalar, dot<float>, l2sq,      kernels::rows<dot<float>>, kernels::rows<l2sq>, dot_tile,
    kPanelRows,    kPanelQueries, panel_tile, qk_block,           widen_f16,          widen_i8,
    dot_f16_rows,  dot_i8_rows};

const F64Kernels kF64KernelsScalar{Level::scalar, dot<double>, symv, rank1};

}  // namespace si::simd::detail
