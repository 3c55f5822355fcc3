// Helpers shared by the alignment kernels of every SIMD level. Everything here
// has internal linkage or is defined out of line in the baseline dp_align.cpp,
// so that no ISA-specific copy of a shared inline function can be picked by
// the linker for another level (ODR safety).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "gpu_accelerator/dp/dp_align.hpp"

namespace si::dp::detail {

struct GroupConstants {
  std::int32_t open, ext;
  std::int16_t open16, ext16;  // clamped to int16 (exact for local; global is bounded first)
  std::int32_t smax_pos;       // max(0, largest substitution score)
};

GroupConstants group_constants(const AlignParams& p);
// prof[a * lanes + l] = score(a, tcol[l]) for every letter a.
void build_profile_scalar(const AlignParams& p, const std::uint8_t* tcol, int lanes, std::int16_t* prof);
// Turns a group's lane maxima / final cells into scores and overflow flags.
void finish_group(const AlignParams& p, const GroupConstants& c, const AlignGroup& g, int lanes,
                  const std::int16_t* lane_max, const std::int16_t* lane_last, std::int32_t* scores,
                  std::uint8_t* overflow);
// The exact 32-bit kernel (dp_align_scalar.cpp).
std::int32_t align_pair32(const AlignParams& p, const std::uint8_t* q, std::size_t m,
                          const std::uint8_t* t, std::size_t n);

namespace {
inline std::int16_t sat16(std::int64_t v) {
  return static_cast<std::int16_t>(std::clamp<std::int64_t>(v, std::numeric_limits<std::int16_t>::min(),
                                                            std::numeric_limits<std::int16_t>::max()));
}
}  // namespace

}  // namespace si::dp::detail
