// Facts fixed when the library was compiled.
#pragma once

#include <string>

namespace si::build {

std::string version();        // the package version (from pyproject.toml)
std::string compiler();       // e.g. "GCC 12.2.0"
std::string build_type();     // CMAKE_BUILD_TYPE
bool x86_kernels_compiled();  // whether AVX2/AVX-512 kernel files are in this build

}  // namespace si::build
