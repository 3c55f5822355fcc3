// AVX2 + FMA kernels (compiled with -mavx2 -mfma; reached only through the
// dispatch table on CPUs that have both).
#include <immintrin.h>

#include "frozen_model_rl/bandit_kernels.hpp"

namespace si::bandit::detail {
namespace {

inline double hsum(__m256d v) {
  __m128d lo = _mm256_castpd256_pd128(v);
  __m128d hi = _mm256_extractf128_pd(v, 1);
  lo = _mm_add_pd(lo, hi);
  return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

double dot(const double* a, const double* b, std::size_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  __m256d s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a + i), _mm256_loadu_pd(b + i), s0);
    s1 = _mm256_fmadd_pd(_mm256_loadu_pd(a + i + 4), _mm256_loadu_pd(b + i + 4), s1);
    s2 = _mm256_fmadd_pd(_mm256_loadu_pd(a + i + 8), _mm256_loadu_pd(b + i + 8), s2);
    s3 = _mm256_fmadd_pd(_mm256_loadu_pd(a + i + 12), _mm256_loadu_pd(b + i + 12), s3);
  }
  for (; i + 4 <= n; i += 4) s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a + i), _mm256_loadu_pd(b + i), s0);
  double s = hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y = sum_j x_j * row_j, four rows at a time (one load of y per four rows).
void symv(const double* M, const double* x, std::size_t n, double* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.0;
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const double* r0 = M + j * n;
    const double* r1 = r0 + n;
    const double* r2 = r1 + n;
    const double* r3 = r2 + n;
    const __m256d x0 = _mm256_set1_pd(x[j]), x1 = _mm256_set1_pd(x[j + 1]);
    const __m256d x2 = _mm256_set1_pd(x[j + 2]), x3 = _mm256_set1_pd(x[j + 3]);
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      __m256d acc = _mm256_loadu_pd(y + i);
      acc = _mm256_fmadd_pd(_mm256_loadu_pd(r0 + i), x0, acc);
      acc = _mm256_fmadd_pd(_mm256_loadu_pd(r1 + i), x1, acc);
      acc = _mm256_fmadd_pd(_mm256_loadu_pd(r2 + i), x2, acc);
      acc = _mm256_fmadd_pd(_mm256_loadu_pd(r3 + i), x3, acc);
      _mm256_storeu_pd(y + i, acc);
    }
    for (; i < n; ++i) y[i] += r0[i] * x[j] + r1[i] * x[j + 1] + r2[i] * x[j + 2] + r3[i] * x[j + 3];
  }
  for (; j < n; ++j) {
    const double* r = M + j * n;
    const __m256d xj = _mm256_set1_pd(x[j]);
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
      _mm256_storeu_pd(y + i, _mm256_fmadd_pd(_mm256_loadu_pd(r + i), xj, _mm256_loadu_pd(y + i)));
    for (; i < n; ++i) y[i] += r[i] * x[j];
  }
}

void rank1(double* M, const double* u, double f, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double fu_s = f * u[i];
    const __m256d fu = _mm256_set1_pd(fu_s);
    double* row = M + i * n;
    std::size_t j = 0;
    for (; j + 4 <= n; j += 4)
      _mm256_storeu_pd(row + j, _mm256_fmadd_pd(fu, _mm256_loadu_pd(u + j), _mm256_loadu_pd(row + j)));
    for (; j < n; ++j) row[j] += fu_s * u[j];
  }
}

}  // namespace

const BanditKernels kBanditKernelsAvx2{simd::Level::avx2, dot, symv, rank1};

}  // namespace si::bandit::detail
