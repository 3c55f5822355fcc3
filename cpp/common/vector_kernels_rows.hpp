// One query against many rows, built from a pair kernel. Included by each
// level's file, where the pair kernel has internal linkage, so every
// instantiation is compiled with that file's ISA flags and stays local to it.
#pragma once

#include <cstddef>

namespace si::simd::detail {

template <float (*Pair)(const float*, const float*, std::size_t)>
void apply_rows(const float* q, const float* base, std::size_t rows, std::size_t dim,
                std::size_t stride, float* out) {
  for (std::size_t r = 0; r < rows; ++r) out[r] = Pair(q, base + r * stride, dim);
}

}  // namespace si::simd::detail
