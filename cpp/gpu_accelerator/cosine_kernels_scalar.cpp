// Portable version of the cosine micro-kernel (no ISA flags).
#include "gpu_accelerator/cosine_kernels.hpp"

namespace si::gpu::detail {
namespace {

void qk_block(const float* q, std::size_t m, std::size_t dim, const float* kt, std::size_t valid,
              float* out, std::size_t ldo) {
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

}  // namespace

const CosineKernels kCosineKernelsScalar{simd::Level::scalar, qk_block};

}  // namespace si::gpu::detail
