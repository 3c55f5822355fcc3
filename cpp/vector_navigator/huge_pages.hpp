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

}  // namespace si::vn
