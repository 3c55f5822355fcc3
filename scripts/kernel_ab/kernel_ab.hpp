// The kernels of one SIMD level as plain function pointers, so that the old
// build's tables (compiled from an older revision, see kernel_ab.sh) and the
// new ones can be timed in one process. Types only, no namespace si.
#pragma once

#include <cstddef>
#include <cstdint>

struct KernelFns {
  float (*dot)(const float*, const float*, std::size_t);
  void (*dot_rows)(const float*, const float*, std::size_t, std::size_t, std::size_t, float*);
  void (*l2sq_rows)(const float*, const float*, std::size_t, std::size_t, std::size_t, float*);
  void (*dot_tile)(const float*, std::size_t, const float*, std::size_t, std::size_t, float*, std::size_t);
  std::size_t panel_rows, panel_queries;
  std::uint32_t (*panel_tile)(const float*, std::size_t, const float*, std::size_t, const float*, float*);
  void (*qk_block)(const float*, std::size_t, std::size_t, const float*, std::size_t, float*, std::size_t);
  void (*dot_f16_rows)(const float*, const std::uint16_t*, std::size_t, std::size_t, float*);
  void (*dot_i8_rows)(const float*, const std::int8_t*, const float*, std::size_t, std::size_t, float*);
  double (*ddot)(const double*, const double*, std::size_t);
  void (*symv)(const double*, const double*, std::size_t, double*);
  void (*rank1)(double*, const double*, double, std::size_t);
  int lanes;  // alignment group width
  const void* align_table;  // the level's si::dp::AlignKernels (same layout in both builds)
};

// level: 1 = avx2, 2 = avx512.
extern "C" KernelFns old_kernels(int level);
