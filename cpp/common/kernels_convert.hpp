// Kernels on rows stored narrower than float32 (IEEE half, int8 with a per-row
// scale), for any SIMD level's float32 operations V: widening to float32 and
// the dot product of a float32 query with such rows. See kernels_reduce.hpp
// for the linkage rule.
#pragma once

#include <cstddef>
#include <cstdint>

namespace si::simd::kernels {

// out[i] = half(in[i]) for i < n.
template <class V>
void widen_f16(const std::uint16_t* in, std::size_t n, float* out) {
  constexpr std::size_t W = V::width;
  std::size_t i = 0;
  for (; i + W <= n; i += W) V::store(out + i, V::load_f16(in + i));
  if (i < n) V::store_n(out + i, V::load_f16_n(in + i, n - i), n - i);
}

// out[i] = scale * in[i] for i < n.
template <class V>
void widen_i8(const std::int8_t* in, std::size_t n, float scale, float* out) {
  constexpr std::size_t W = V::width;
  const typename V::reg s = V::set1(scale);
  std::size_t i = 0;
  for (; i + W <= n; i += W) V::store(out + i, V::mul(V::load_i8(in + i), s));
  if (i < n) V::store_n(out + i, V::mul(V::load_i8_n(in + i, n - i), s), n - i);
}

// dot(q, widen(row)) for one stored row of dim values, loaded widened to float32
// by Load (whole vectors) and LoadN (the last, partial one).
template <class V, class T, typename V::reg (*Load)(const T*), typename V::reg (*LoadN)(const T*, std::size_t)>
float dot_narrow(const float* q, const T* row, std::size_t dim) {
  constexpr std::size_t W = V::width;
  typename V::reg s0 = V::zero(), s1 = V::zero();
  std::size_t i = 0;
  for (; i + 2 * W <= dim; i += 2 * W) {
    s0 = V::fma(V::load(q + i), Load(row + i), s0);
    s1 = V::fma(V::load(q + i + W), Load(row + i + W), s1);
  }
  for (; i + W <= dim; i += W) s0 = V::fma(V::load(q + i), Load(row + i), s0);
  if (i < dim) s1 = V::fma(V::load_n(q + i, dim - i), LoadN(row + i, dim - i), s1);
  return V::hsum(V::add(s0, s1));
}

// out[r] = dot(q, half(rows + r * dim)) for r < nr.
template <class V>
void dot_f16_rows(const float* q, const std::uint16_t* rows, std::size_t nr, std::size_t dim, float* out) {
  for (std::size_t r = 0; r < nr; ++r) out[r] = dot_narrow<V, std::uint16_t, V::load_f16, V::load_f16_n>(q, rows + r * dim, dim);
}

// out[r] = scale[r] * dot(q, rows + r * dim) for int8 rows, r < nr.
template <class V>
void dot_i8_rows(const float* q, const std::int8_t* rows, const float* scale, std::size_t nr, std::size_t dim,
                 float* out) {
  for (std::size_t r = 0; r < nr; ++r)
    out[r] = dot_narrow<V, std::int8_t, V::load_i8, V::load_i8_n>(q, rows + r * dim, dim) * scale[r];
}

}  // namespace si::simd::kernels
