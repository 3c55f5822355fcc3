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

// out[r] = dot(q, half(rows + r * dim)) for r < nr.
template <class V>
void dot_f16_rows(const float* q, const std::uint16_t* rows, std::size_t nr, std::size_t dim, float* out) {
  constexpr std::size_t W = V::width;
  for (std::size_t r = 0; r < nr; ++r) {
    const std::uint16_t* row = rows + r * dim;
    typename V::reg s0 = V::zero(), s1 = V::zero();
    std::size_t i = 0;
    for (; i + 2 * W <= dim; i += 2 * W) {
      s0 = V::fma(V::load(q + i), V::load_f16(row + i), s0);
      s1 = V::fma(V::load(q + i + W), V::load_f16(row + i + W), s1);
    }
    for (; i + W <= dim; i += W) s0 = V::fma(V::load(q + i), V::load_f16(row + i), s0);
    if (i < dim) s1 = V::fma(V::load_n(q + i, dim - i), V::load_f16_n(row + i, dim - i), s1);
    out[r] = V::hsum(V::add(s0, s1));
  }
}

// out[r] = scale[r] * dot(q, rows + r * dim) for int8 rows, r < nr.
template <class V>
void dot_i8_rows(const float* q, const std::int8_t* rows, const float* scale, std::size_t nr, std::size_t dim,
                 float* out) {
  constexpr std::size_t W = V::width;
  for (std::size_t r = 0; r < nr; ++r) {
    const std::int8_t* row = rows + r * dim;
    typename V::reg s0 = V::zero(), s1 = V::zero();
    std::size_t i = 0;
    for (; i + 2 * W <= dim; i += 2 * W) {
      s0 = V::fma(V::load(q + i), V::load_i8(row + i), s0);
      s1 = V::fma(V::load(q + i + W), V::load_i8(row + i + W), s1);
    }
    for (; i + W <= dim; i += W) s0 = V::fma(V::load(q + i), V::load_i8(row + i), s0);
    if (i < dim) s1 = V::fma(V::load_n(q + i, dim - i), V::load_i8_n(row + i, dim - i), s1);
    out[r] = V::hsum(V::add(s0, s1)) * scale[r];
  }
}

}  // namespace si::simd::kernels
