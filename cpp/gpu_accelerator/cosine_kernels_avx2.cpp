// AVX2+FMA cosine micro-kernel: one query x 128 keys per pass (16 ymm accumulators).
#include <immintrin.h>

#include "gpu_accelerator/cosine_kernels.hpp"

namespace si::gpu::detail {
namespace {

constexpr int kV = static_cast<int>(kKeyBlock / 8);  // 16 vectors of 8 keys

// NV vectors of 8 columns: the first ceil(valid / 8) of the block.
template <int NV>
void qk(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid,
        float* out, std::size_t ldo) {
  for (std::size_t i = 0; i < m; ++i) {
    __m256 a[NV];
    for (int v = 0; v < NV; ++v) a[v] = _mm256_setzero_ps();
    const float* q0 = q + i * dim;
    for (std::size_t d = 0; d < dim; ++d) {
      const __m256 x0 = _mm256_set1_ps(q0[d]);
      const float* kr = kt + d * kKeyBlock;
      for (int v = 0; v < NV; ++v) a[v] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(kr + v * 8), a[v]);
    }
    float* o = out + i * ldo;
    for (int v = 0; v < NV; ++v) {
      const std::size_t j = static_cast<std::size_t>(v) * 8;
      if (j >= valid) break;
      if (valid - j >= 8) {
        _mm256_storeu_ps(o + j, a[v]);
      } else {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, a[v]);
        for (std::size_t t = 0; t < valid - j; ++t) o[j + t] = tmp[t];
      }
    }
  }
}

void qk_block(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid,
              float* out, std::size_t ldo) {
  switch ((valid + 7) / 8) {
    case 0: return;
    case 1: return qk<1>(q, m, dim, kt, valid, out, ldo);
    case 2: return qk<2>(q, m, dim, kt, valid, out, ldo);
    case 3: return qk<3>(q, m, dim, kt, valid, out, ldo);
    case 4: return qk<4>(q, m, dim, kt, valid, out, ldo);
    case 5: case 6: return qk<6>(q, m, dim, kt, valid, out, ldo);
    case 7: case 8: return qk<8>(q, m, dim, kt, valid, out, ldo);
    case 9: case 10: case 11: case 12: return qk<12>(q, m, dim, kt, valid, out, ldo);
    default: return qk<kV>(q, m, dim, kt, valid, out, ldo);
  }
}

}  // namespace

const CosineKernels kCosineKernelsAvx2{simd::Level::avx2, qk_block};

}  // namespace si::gpu::detail
