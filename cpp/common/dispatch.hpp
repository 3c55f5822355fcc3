// The dispatch mechanism every SIMD kernel family uses.
//
// A family is a struct of function pointers (its "table"). Each level's table
// lives in its own source file, named *_scalar.cpp, *_avx2.cpp or *_avx512.cpp;
// the build gives ISA flags to those files only (see cpp/CMakeLists.txt), so
// nothing outside them may contain AVX instructions. Tables for levels that are
// not compiled (non-x86 builds) are null, and selection falls back to the next
// lower level.
#pragma once

#include <string>

#include "common/cpu_features.hpp"
#include "common/errors.hpp"

namespace si::simd {

template <class Table>
struct KernelSet {
  const Table* scalar = nullptr;
  const Table* avx2 = nullptr;
  const Table* avx512 = nullptr;

  // The table for `level`; BackendUnavailable when this CPU cannot run it.
  const Table& at(Level level) const {
    if (!level_available(level))
      throw BackendUnavailable(std::string("SIMD level ") + level_name(level) +
                               " is not supported by this CPU");
    if (level == Level::avx512 && avx512) return *avx512;
    if (level >= Level::avx2 && avx2) return *avx2;
    return *scalar;
  }

  // The table for the active level, chosen once per family.
  const Table& active() const { return at(active_level()); }
};

}  // namespace si::simd

// The KernelSet of a family's three tables, nulls for the levels this build has
// no files for (the *_avx2 / *_avx512 tables exist only on x86 builds).
#if defined(SUPERINSTANCE_X86_KERNELS)
#define SI_KERNEL_SET(scalar, avx2, avx512) {&(scalar), &(avx2), &(avx512)}
#else
#define SI_KERNEL_SET(scalar, avx2, avx512) {&(scalar), nullptr, nullptr}
#endif
