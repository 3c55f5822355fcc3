// vector_navigator uses the common parallel-for (cpp/common/parallel.hpp).
#pragma once

#include "common/parallel.hpp"

namespace si::vn {
using si::parallel_for;
using si::resolve_threads;
}  // namespace si::vn
