// Transparent huge pages for the rows a flat scan streams through.
//
// A one-query scan is bound by memory reads; on 4 KiB pages the hardware
// prefetchers stop at every page boundary and every page costs a TLB miss.
// Backed by 2 MiB pages, the same scan measured 5-7% faster on the test VM
// (docs/benchmarks.md). numpy does the same for its large arrays.
#pragma once

#include <cstddef>

namespace si::vn {

// Best effort: asks the kernel to back the whole 2 MiB pages inside [p, p +
// bytes) with huge pages, now (MADV_COLLAPSE, Linux 6.1+) and on later faults
// (MADV_HUGEPAGE). Returns the bytes collapsed (0 where the platform or the
// system's THP setting does not allow it, or no huge page was free); the data
// is never changed.
std::size_t advise_huge_pages(const void* p, std::size_t bytes);

// advise_huge_pages for a buffer that grows (rows, link lists): the whole
// buffer when it moved, else only what lies past the part advised before
// (from the huge page that part ended in). Advising all of it after every
// add made one-row adds to a 100k x 384 HNSW index dearer (one run: P50 409
// against 341 us, P99 1.6 against 0.7 ms; 322-347 / 0.67-0.70 ms with this).
class GrowingAdvice {
 public:
  void update(const void* p, std::size_t bytes);

 private:
  const void* base_ = nullptr;
  std::size_t done_ = 0;  // bytes from base_ advised
};

}  // namespace si::vn
