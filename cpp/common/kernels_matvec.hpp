// Symmetric matrix-vector product and rank-1 update (the bandit's A^-1
// algebra: x'A^-1x, Sherman-Morrison), for any SIMD level's operations V
// (see kernels_reduce.hpp for the linkage rule). Row-major n x n matrices.
#pragma once

#include <cstddef>

namespace si::simd::kernels {

// y += sum_k xs[k] * row_k for the NR rows r, r + n, ... (n values each).
template <class V, int NR>
void axpy_rows(const typename V::value* r, const typename V::reg (&xs)[NR], std::size_t n, typename V::value* y) {
  constexpr std::size_t W = V::width;
  std::size_t i = 0;
  for (; i + W <= n; i += W) {
    typename V::reg acc = V::load(y + i);
    for (int k = 0; k < NR; ++k) acc = V::fma(V::load(r + k * n + i), xs[k], acc);
    V::store(y + i, acc);
  }
  if (i < n) {
    typename V::reg acc = V::load_n(y + i, n - i);
    for (int k = 0; k < NR; ++k) acc = V::fma(V::load_n(r + k * n + i, n - i), xs[k], acc);
    V::store_n(y + i, acc, n - i);
  }
}

// y = M x for a symmetric M, as y = sum_j x_j * row_j, four rows at a time
// (one load and store of y per four rows).
template <class V>
void symv(const typename V::value* M, const typename V::value* x, std::size_t n, typename V::value* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0;
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const typename V::reg xs[4] = {V::set1(x[j]), V::set1(x[j + 1]), V::set1(x[j + 2]), V::set1(x[j + 3])};
    axpy_rows<V, 4>(M + j * n, xs, n, y);
  }
  for (; j < n; ++j) {
    const typename V::reg xs[1] = {V::set1(x[j])};
    axpy_rows<V, 1>(M + j * n, xs, n, y);
  }
}

// M += f * u u'.
template <class V>
void rank1(typename V::value* M, const typename V::value* u, typename V::value f, std::size_t n) {
  constexpr std::size_t W = V::width;
  for (std::size_t i = 0; i < n; ++i) {
    const typename V::reg fu = V::set1(f * u[i]);
    typename V::value* row = M + i * n;
    std::size_t j = 0;
    for (; j + W <= n; j += W) V::store(row + j, V::fma(fu, V::load(u + j), V::load(row + j)));
    if (j < n) V::store_n(row + j, V::fma(fu, V::load_n(u + j, n - j), V::load_n(row + j, n - j)), n - j);
  }
}

}  // namespace si::simd::kernels
