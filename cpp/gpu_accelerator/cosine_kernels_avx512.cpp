// AVX-512 cosine micro-kernel: two queries x 128 keys per pass (16 zmm accumulators).
#include <immintrin.h>

#include "gpu_accelerator/cosine_kernels.hpp"

namespace si::gpu::detail {
namespace {

constexpr int kV = static_cast<int>(kKeyBlock / 16);  // 8 vectors of 16 keys

template <int NV>
void store(const __m512* acc, float* out, std::size_t valid) {
  for (int v = 0; v < NV; ++v) {
    const std::size_t j = static_cast<std::size_t>(v) * 16;
    if (j >= valid) break;
    const std::size_t n = valid - j;
    if (n >= 16)
      _mm512_storeu_ps(out + j, acc[v]);
    else
      _mm512_mask_storeu_ps(out + j, static_cast<__mmask16>((1u << n) - 1u), acc[v]);
  }
}

// NV vectors of 16 columns: the first ceil(valid / 16) of the block.
template <int NV>
void qk(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid,
        float* out, std::size_t ldo) {
  std::size_t i = 0;
  for (; i + 2 <= m; i += 2) {
    __m512 a[NV], b[NV];
    for (int v = 0; v < NV; ++v) a[v] = b[v] = _mm512_setzero_ps();
    const float* q0 = q + i * dim;
    const float* q1 = q0 + dim;
    for (std::size_t d = 0; d < dim; ++d) {
      const __m512 x0 = _mm512_set1_ps(q0[d]), x1 = _mm512_set1_ps(q1[d]);
      const float* kr = kt + d * kKeyBlock;
      for (int v = 0; v < NV; ++v) {
        const __m512 k = _mm512_loadu_ps(kr + v * 16);
        a[v] = _mm512_fmadd_ps(x0, k, a[v]);
        b[v] = _mm512_fmadd_ps(x1, k, b[v]);
      }
    }
    store<NV>(a, out + i * ldo, valid);
    store<NV>(b, out + (i + 1) * ldo, valid);
  }
  for (; i < m; ++i) {
    __m512 a[NV];
    for (int v = 0; v < NV; ++v) a[v] = _mm512_setzero_ps();
    const float* q0 = q + i * dim;
    for (std::size_t d = 0; d < dim; ++d) {
      const __m512 x0 = _mm512_set1_ps(q0[d]);
      const float* kr = kt + d * kKeyBlock;
      for (int v = 0; v < NV; ++v) a[v] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(kr + v * 16), a[v]);
    }
    store<NV>(a, out + i * ldo, valid);
  }
}

void qk_block(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid,
              float* out, std::size_t ldo) {
  switch ((valid + 15) / 16) {
    case 0: return;
    case 1: return qk<1>(q, m, dim, kt, valid, out, ldo);
    case 2: return qk<2>(q, m, dim, kt, valid, out, ldo);
    case 3: return qk<3>(q, m, dim, kt, valid, out, ldo);
    case 4: return qk<4>(q, m, dim, kt, valid, out, ldo);
    case 5: return qk<5>(q, m, dim, kt, valid, out, ldo);
    case 6: return qk<6>(q, m, dim, kt, valid, out, ldo);
    case 7: return qk<7>(q, m, dim, kt, valid, out, ldo);
    default: return qk<kV>(q, m, dim, kt, valid, out, ldo);
  }
}

}  // namespace

const CosineKernels kCosineKernelsAvx512{simd::Level::avx512, qk_block};

}  // namespace si::gpu::detail
