#include "vector_navigator/huge_pages.hpp"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace si::vn {

std::size_t advise_huge_pages(const void* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t b = (start + kHuge - 1) & ~(kHuge - 1), e = (start + bytes) & ~(kHuge - 1);
  if (p == nullptr || e <= b) return 0;
  void* region = reinterpret_cast<void*>(b);
  if (madvise(region, e - b, MADV_HUGEPAGE) != 0) return 0;
#ifndef MADV_COLLAPSE
  constexpr int MADV_COLLAPSE = 25;  // Linux 6.1 uapi value; older kernels answer EINVAL
#endif
  return madvise(region, e - b, MADV_COLLAPSE) == 0 ? e - b : 0;
#else
  (void)p;
  (void)bytes;
  return 0;
#endif
}

}  // namespace si::vn
