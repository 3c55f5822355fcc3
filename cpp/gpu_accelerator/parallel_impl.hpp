// Implementation of si::gpu::parallel_chunks (template, so header-only): the
// contiguous-chunk form of the common si::parallel_for, which it runs on (so a
// refused thread creation degrades to fewer workers instead of std::terminate).
#pragma once

#include <algorithm>
#include <cstddef>

#include "common/parallel.hpp"

namespace si::gpu {

template <class Fn>
void parallel_chunks(std::size_t count, unsigned threads, Fn&& fn) {
  if (count == 0) return;
  const std::size_t t = std::max<std::size_t>(1, std::min<std::size_t>(threads, count));
  const std::size_t per = (count + t - 1) / t;
  si::parallel_for((count + per - 1) / per, static_cast<int>(std::min<std::size_t>(t, 1u << 30)), [&](std::size_t chunk, std::size_t) {
    fn(chunk * per, std::min(count, (chunk + 1) * per));
  });
}

}  // namespace si::gpu
