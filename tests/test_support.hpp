// Helpers shared by the C++ unit tests (tests/<component>/*_test.cpp).
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace si::testing {

// n unit-normal floats, reproducible from seed.
inline std::vector<float> randn(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// The float64 reference dot product of two float32 vectors.
inline double ref_dot(const float* a, const float* b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace si::testing
