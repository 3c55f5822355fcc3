// AVX-512 kernels (compiled with AVX-512 F/BW/VL/DQ flags; reached only
// through the dispatch table on CPUs and OSes that support them). Tails use
// masked loads and stores.
#include <immintrin.h>

#include "frozen_model_rl/bandit_kernels.hpp"

namespace si::bandit::detail {
namespace {

inline __mmask8 tail(std::size_t k) { return static_cast<__mmask8>((1u << k) - 1u); }

double dot(const double* a, const double* b, std::size_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  __m512d s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_pd(_mm512_loadu_pd(a + i), _mm512_loadu_pd(b + i), s0);
    s1 = _mm512_fmadd_pd(_mm512_loadu_pd(a + i + 8), _mm512_loadu_pd(b + i + 8), s1);
    s2 = _mm512_fmadd_pd(_mm512_loadu_pd(a + i + 16), _mm512_loadu_pd(b + i + 16), s2);
    s3 = _mm512_fmadd_pd(_mm512_loadu_pd(a + i + 24), _mm512_loadu_pd(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm512_fmadd_pd(_mm512_loadu_pd(a + i), _mm512_loadu_pd(b + i), s0);
  if (i < n) {
    const __mmask8 m = tail(n - i);
    s1 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, a + i), _mm512_maskz_loadu_pd(m, b + i), s1);
  }
  // Horizontal sum through memory (GCC 12's _mm512_reduce_add_pd warns spuriously).
  alignas(64) double t[8];
  _mm512_store_pd(t, _mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
  return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

void symv(const double* M, const double* x, std::size_t n, double* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.0;
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const double* r0 = M + j * n;
    const double* r1 = r0 + n;
    const double* r2 = r1 + n;
    const double* r3 = r2 + n;
    const __m512d x0 = _mm512_set1_pd(x[j]), x1 = _mm512_set1_pd(x[j + 1]);
    const __m512d x2 = _mm512_set1_pd(x[j + 2]), x3 = _mm512_set1_pd(x[j + 3]);
    for (std::size_t i = 0; i < n; i += 8) {
      const __mmask8 m = n - i >= 8 ? static_cast<__mmask8>(0xFF) : tail(n - i);
      __m512d acc = _mm512_maskz_loadu_pd(m, y + i);
      acc = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, r0 + i), x0, acc);
      acc = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, r1 + i), x1, acc);
      acc = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, r2 + i), x2, acc);
      acc = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, r3 + i), x3, acc);
      _mm512_mask_storeu_pd(y + i, m, acc);
    }
  }
  for (; j < n; ++j) {
    const double* r = M + j * n;
    const __m512d xj = _mm512_set1_pd(x[j]);
    for (std::size_t i = 0; i < n; i += 8) {
      const __mmask8 m = n - i >= 8 ? static_cast<__mmask8>(0xFF) : tail(n - i);
      _mm512_mask_storeu_pd(
          y + i, m, _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, r + i), xj, _mm512_maskz_loadu_pd(m, y + i)));
    }
  }
}

void rank1(double* M, const double* u, double f, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const __m512d fu = _mm512_set1_pd(f * u[i]);
    double* row = M + i * n;
    for (std::size_t j = 0; j < n; j += 8) {
      const __mmask8 m = n - j >= 8 ? static_cast<__mmask8>(0xFF) : tail(n - j);
      _mm512_mask_storeu_pd(row + j, m,
                            _mm512_fmadd_pd(fu, _mm512_maskz_loadu_pd(m, u + j), _mm512_maskz_loadu_pd(m, row + j)));
    }
  }
}

}  // namespace

const BanditKernels kBanditKernelsAvx512{simd::Level::avx512, dot, symv, rank1};

}  // namespace si::bandit::detail
