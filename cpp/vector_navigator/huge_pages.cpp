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

void GrowingAdvice::update(const void* p, std::size_t bytes) {
  if (p != base_ || bytes < done_) {
    base_ = p;
    done_ = 0;
  }
  if (bytes <= done_) return;
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t from = done_ > kHuge ? done_ - kHuge : 0;  // the page the old part ended in
  advise_huge_pages(static_cast<const char*>(p) + from, bytes - from);
  done_ = bytes;
}

}  // namespace si::vn
