// Reductions of one vector pair, for any SIMD level's operations V (float32 or
// float64; see simd_ops_avx2.hpp): the dot product and the squared L2
// distance, with four accumulators and a masked tail, and the one-query-
// against-many-rows form. Instantiated only in the per-level files, with V of
// internal linkage, so every copy is local to the file and its ISA flags.
#pragma once

#include <cstddef>

namespace si::simd::kernels {

template <class V>
typename V::value dot(const typename V::value* a, const typename V::value* b, std::size_t n) {
  constexpr std::size_t W = V::width;
  typename V::reg s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    s0 = V::fma(V::load(a + i), V::load(b + i), s0);
    s1 = V::fma(V::load(a + i + W), V::load(b + i + W), s1);
    s2 = V::fma(V::load(a + i + 2 * W), V::load(b + i + 2 * W), s2);
    s3 = V::fma(V::load(a + i + 3 * W), V::load(b + i + 3 * W), s3);
  }
  for (; i + W <= n; i += W) s0 = V::fma(V::load(a + i), V::load(b + i), s0);
  if (i < n) s1 = V::fma(V::load_n(a + i, n - i), V::load_n(b + i, n - i), s1);
  return V::hsum(V::add(V::add(s0, s1), V::add(s2, s3)));
}

template <class V>
typename V::value l2sq(const typename V::value* a, const typename V::value* b, std::size_t n) {
  constexpr std::size_t W = V::width;
  typename V::reg s0 = V::zero(), s1 = V::zero(), s2 = V::zero(), s3 = V::zero();
  auto step = [](typename V::reg x, typename V::reg y, typename V::reg s) {
    const typename V::reg d = V::sub(x, y);
    return V::fma(d, d, s);
  };
  std::size_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    s0 = step(V::load(a + i), V::load(b + i), s0);
    s1 = step(V::load(a + i + W), V::load(b + i + W), s1);
    s2 = step(V::load(a + i + 2 * W), V::load(b + i + 2 * W), s2);
    s3 = step(V::load(a + i + 3 * W), V::load(b + i + 3 * W), s3);
  }
  for (; i + W <= n; i += W) s0 = step(V::load(a + i), V::load(b + i), s0);
  if (i < n) s1 = step(V::load_n(a + i, n - i), V::load_n(b + i, n - i), s1);
  return V::hsum(V::add(V::add(s0, s1), V::add(s2, s3)));
}

// out[r] = Pair(q, base + r * stride, dim) for r in [0, rows).
template <float (*Pair)(const float*, const float*, std::size_t)>
void rows(const float* q, const float* base, std::size_t nrows, std::size_t dim, std::size_t stride, float* out) {
  for (std::size_t r = 0; r < nrows; ++r) out[r] = Pair(q, base + r * stride, dim);
}

}  // namespace si::simd::kernels
