// AVX-512 micro-kernel for q x kt: tiles of 4 queries x 64 columns (16 zmm
// accumulators, 4 key loads and 4 broadcasts per 16 FMAs), so that the
// transposed key block is streamed from L2 once per 4 queries.
#include <immintrin.h>

#include "gpu_accelerator/cosine_kernels.hpp"

namespace si::gpu::detail {
namespace {

constexpr std::size_t kCols = 64;  // columns per tile: 4 vectors of 16

// NQ queries x NV vectors of 16 columns; `rem` valid columns from `kt`/`out`.
template <int NV, int NQ>
void tile(const float* q, std::size_t dim, const float* kt, std::size_t rem, float* out,
          std::size_t ldo) {
  __m512 acc[NQ][NV];
  for (int a = 0; a < NQ; ++a)
    for (int v = 0; v < NV; ++v) acc[a][v] = _mm512_setzero_ps();
  for (std::size_t d = 0; d < dim; ++d) {
    const float* kr = kt + d * kKeyBlock;
    __m512 k[NV];
    for (int v = 0; v < NV; ++v) k[v] = _mm512_loadu_ps(kr + v * 16);
    for (int a = 0; a < NQ; ++a) {
      const __m512 x = _mm512_set1_ps(q[a * dim + d]);
      for (int v = 0; v < NV; ++v) acc[a][v] = _mm512_fmadd_ps(x, k[v], acc[a][v]);
    }
  }
  for (int a = 0; a < NQ; ++a) {
    float* o = out + a * ldo;
    for (int v = 0; v < NV; ++v) {
      const std::size_t j = static_cast<std::size_t>(v) * 16;
      if (j >= rem) break;
      const std::size_t n = rem - j;
      if (n >= 16)
        _mm512_storeu_ps(o + j, acc[a][v]);
      else
        _mm512_mask_storeu_ps(o + j, static_cast<__mmask16>((1u << n) - 1u), acc[a][v]);
    }
  }
}

template <int NV>
void column_chunk(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t rem,
                  float* out, std::size_t ldo) {
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) tile<NV, 4>(q + i * dim, dim, kt, rem, out + i * ldo, ldo);
  for (; i < m; ++i) tile<NV, 1>(q + i * dim, dim, kt, rem, out + i * ldo, ldo);
}

void qk_block(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid,
              float* out, std::size_t ldo) {
  for (std::size_t c0 = 0; c0 < valid; c0 += kCols) {
    const std::size_t rem = valid - c0 < kCols ? valid - c0 : kCols;
    switch ((rem + 15) / 16) {
      case 1: column_chunk<1>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
      case 2: column_chunk<2>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
      case 3: column_chunk<3>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
      default: column_chunk<4>(q, m, dim, kt + c0, rem, out + c0, ldo); break;
    }
  }
}

}  // namespace

const CosineKernels kCosineKernelsAvx512{simd::Level::avx512, qk_block};

}  // namespace si::gpu::detail
