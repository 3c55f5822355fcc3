// Per-cell recurrences of the GPU dynamic programs, written with CUDA's DPX
// intrinsics (__viaddmax_s32, __vimax3_s32_relu, __viaddmax_s16x2,
// __vimax3_s16x2_relu, __vimin3_s32, __viaddmin_s32, ...). CUDA 13 declares
// them __host__ __device__: they are single instructions on sm_90 and emulated
// on older GPUs and on the host. Every function here is __host__ __device__, so
// the host twins in dp_cuda_align.cu / dp_cuda_misc.cu run exactly the code the GPU runs.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#define SI_HD __host__ __device__ __forceinline__

namespace si::dp::cuda_cells {

// One int32 lane: one target per thread.
struct S32 {
  using T = int;
  static constexpr int kLanes = 1;
  static constexpr int kNeg = -(1 << 30);  // -inf: below every real value (bounded by the host)
  static SI_HD T splat(int v) { return v; }
  static SI_HD T add(T a, T b) { return a + b; }
  static SI_HD T addmax(T a, T b, T c) { return __viaddmax_s32(a, b, c); }  // max(a + b, c)
  static SI_HD T max2(T a, T b) { return __viaddmax_s32(a, 0, b); }
  static SI_HD T max3(T a, T b, T c) { return __vimax3_s32(a, b, c); }
  static SI_HD T max3_relu(T a, T b, T c) { return __vimax3_s32_relu(a, b, c); }
  static SI_HD T score(const int* S, int stride, int qc, const std::uint8_t* t) { return S[qc * stride + t[0]]; }
  static SI_HD int lane(T v, int) { return v; }
};

// Two int16 lanes per 32-bit register: two targets per thread. The DPX s16x2
// operations wrap (they do not saturate), so the host uses this variant only
// when bounds prove that no value leaves int16.
struct S16x2 {
  using T = unsigned int;
  static constexpr int kLanes = 2;
  static constexpr int kNeg = -16384;
  static SI_HD T splat(int v) { const unsigned h = static_cast<unsigned short>(static_cast<short>(v)); return h | (h << 16); }
  // a + b per half: max(a + b, -32768) is the wrapped sum itself.
  static SI_HD T add(T a, T b) { return __viaddmax_s16x2(a, b, 0x80008000u); }
  static SI_HD T addmax(T a, T b, T c) { return __viaddmax_s16x2(a, b, c); }
  static SI_HD T max2(T a, T b) { return __viaddmax_s16x2(a, 0u, b); }
  static SI_HD T max3(T a, T b, T c) { return __vimax3_s16x2(a, b, c); }
  static SI_HD T max3_relu(T a, T b, T c) { return __vimax3_s16x2_relu(a, b, c); }
  static SI_HD T score(const int* S, int stride, int qc, const std::uint8_t* t) {
    const unsigned lo = static_cast<unsigned short>(static_cast<short>(S[qc * stride + t[0]]));
    const unsigned hi = static_cast<unsigned short>(static_cast<short>(S[qc * stride + t[1]]));
    return lo | (hi << 16);
  }
  static SI_HD int lane(T v, int k) { return static_cast<short>(static_cast<unsigned short>(k ? v >> 16 : v & 0xffffu)); }
};

// Affine-gap alignment cell (Gotoh), E carried along the target, F down the query:
//   e = max(H_left - open, E_left - ext)
//   h = max(diag + s, e, f [, 0 when local])
//   f' = max(h - open, f - ext)            (F of the next row)
template <class V, bool kGlobal>
SI_HD typename V::T align_cell(typename V::T diag, typename V::T s, typename V::T& H, typename V::T& E,
                               typename V::T& f, typename V::T nopen, typename V::T next) {
  using T = typename V::T;
  const T e = V::addmax(H, nopen, V::add(E, next));
  const T d = V::add(diag, s);
  const T h = kGlobal ? V::max3(d, e, f) : V::max3_relu(d, e, f);
  f = V::addmax(h, nopen, V::add(f, next));
  H = h;
  E = e;
  return h;
}

// Optimal-path cell: min of the three predecessors (ties to the smallest row)
// plus the cost; `off` gets the predecessor offset (-1, 0, 1).
SI_HD int path_cell_i32(int up, int mid, int down, int cost, signed char& off) {
  const int best = __vimin3_s32(up, mid, down);
  off = up == best ? -1 : (mid == best ? 0 : 1);
  return best + cost;
}

// Floyd-Warshall relaxation: min(d_ik + d_kj, d_ij).
SI_HD int fw_cell(int dik, int dkj, int dij) { return __viaddmin_s32(dik, dkj, dij); }

SI_HD int min3_i32(int a, int b, int c) { return __vimin3_s32(a, b, c); }
SI_HD int max3_i32(int a, int b, int c) { return __vimax3_s32(a, b, c); }

}  // namespace si::dp::cuda_cells
