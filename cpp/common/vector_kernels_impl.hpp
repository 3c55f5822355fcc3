// The kernel tables of one SIMD level, from the operation templates
// (kernels_*.hpp) and the level's operations Isa (simd_ops_*.hpp). Included
// only by vector_kernels_{avx2,avx512}.cpp.
#pragma once

#include "common/kernels_convert.hpp"
#include "common/kernels_matvec.hpp"
#include "common/kernels_reduce.hpp"
#include "common/kernels_tile.hpp"
#include "common/vector_kernels.hpp"

namespace si::simd::detail {

template <class Isa>
constexpr VectorKernels make_vector_kernels() {
  using V = typename Isa::f32;
  namespace k = kernels;
  return {Isa::level,          k::dot<V>,           k::l2sq<V>,         k::rows<k::dot<V>>,
          k::rows<k::l2sq<V>>, k::dot_tile<Isa>,    2 * V::width,       Isa::panel_queries,
          k::panel_tile<Isa>,  k::qk_block<Isa>,    k::widen_f16<V>,    k::widen_i8<V>,
          k::dot_f16_rows<V>,  k::dot_i8_rows<V>};
}

template <class Isa>
constexpr F64Kernels make_f64_kernels() {
  using V = typename Isa::f64;
  return {Isa::level, kernels::dot<V>, kernels::symv<V>, kernels::rank1<V>};
}

}  // namespace si::simd::detail
