#include "common/vector_kernels.hpp"

#include <cmath>
#include <cstring>

namespace si::simd {

const KernelSet<VectorKernels>& vector_kernel_set() {
  static const KernelSet<VectorKernels> set SI_KERNEL_SET(detail::kVectorKernelsScalar, detail::kVectorKernelsAvx2,
                                                          detail::kVectorKernelsAvx512);
  return set;
}

const KernelSet<F64Kernels>& f64_kernel_set() {
  static const KernelSet<F64Kernels> set SI_KERNEL_SET(detail::kF64KernelsScalar, detail::kF64KernelsAvx2,
                                                       detail::kF64KernelsAvx512);
  return set;
}

void pack_columns(const float* rows, std::size_t nr, std::size_t dim, std::size_t width, float* out) {
  // Groups of 8 vectors: 8 sequential read streams, and each d writes 8
  // adjacent floats (the output stays in cache; the rows may come from memory).
  std::size_t j0 = 0;
  for (; j0 + 8 <= nr; j0 += 8) {
    const float* src = rows + j0 * dim;
    for (std::size_t d = 0; d < dim; ++d) {
      float* o = out + d * width + j0;
      for (std::size_t u = 0; u < 8; ++u) o[u] = src[u * dim + d];
    }
  }
  for (std::size_t d = 0; d < dim; ++d) {
    float* o = out + d * width;
    for (std::size_t j = j0; j < nr; ++j) o[j] = rows[j * dim + d];
    for (std::size_t j = nr; j < width; ++j) o[j] = 0.0f;
  }
}

std::uint16_t f32_to_f16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t exp = (x >> 23) & 0xffu;
  std::uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<std::uint16_t>(sign);
    mant |= 0x800000u;
    const int shift = 14 - e;
    std::uint32_t h = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = (static_cast<std::uint32_t>(e) << 10) | (mant >> 13);
  const std::uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into exponent: fine
  return static_cast<std::uint16_t>(sign | h);
}

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = (static_cast<std::uint32_t>(h) & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t mant = h & 0x3ffu;
  std::uint32_t x;
  if (exp == 0) {
    if (mant == 0) {
      x = sign;
    } else {
      float f = std::ldexp(static_cast<float>(mant), -24);
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (mant << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace si::simd
