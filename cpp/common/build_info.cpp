#include "common/build_info.hpp"

#ifndef SUPERINSTANCE_VERSION
#define SUPERINSTANCE_VERSION "0.0.0+unknown"
#endif
#ifndef SUPERINSTANCE_BUILD_TYPE
#define SUPERINSTANCE_BUILD_TYPE "unknown"
#endif

namespace si::build {

std::string version() { return SUPERINSTANCE_VERSION; }

std::string compiler() {
#if defined(__clang__)
  return std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return "unknown";
#endif
}

std::string build_type() { return SUPERINSTANCE_BUILD_TYPE; }

bool x86_kernels_compiled() {
#if defined(SUPERINSTANCE_X86_KERNELS)
  return true;
#else
  return false;
#endif
}

}  // namespace si::build
