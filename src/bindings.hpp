// Declarations shared by the binding translation units of superinstance._core.
#pragma once

#include <pybind11/pybind11.h>

namespace si::py_bind {

// Maps the core's exceptions to superinstance.errors; called once at import.
void register_error_translator(pybind11::module_& m);

// One function per bind_<component>.cpp.
void bind_common(pybind11::module_& m);

}  // namespace si::py_bind
