// SIMD row relaxation for Floyd-Warshall: d_i[j] = min(d_i[j], d_ik + d_k[j])
// for j in [0, len). One table per SIMD level (see common/dispatch.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/dispatch.hpp"

namespace si::dp {

struct FwKernels {
  simd::Level level;
  void (*relax_row)(std::int32_t* di, const std::int32_t* dk, std::int32_t dik, std::size_t len);
};

const simd::KernelSet<FwKernels>& fw_kernel_set();

namespace detail {
extern const FwKernels kFwScalar;
extern const FwKernels kFwAvx2;
extern const FwKernels kFwAvx512;
}  // namespace detail

}  // namespace si::dp
