// Shared by the binding translation units of superinstance._core.
//
// Each src/bind_<component>.cpp registers its bindings with
//   SI_REGISTER_BINDINGS(component) { ... use `m` ... }
// and module.cpp runs every registered function, in name order, at import.
// No central list to edit: adding a component adds one file.
#pragma once

#include <pybind11/pybind11.h>

namespace si::py_bind {

using BindFunction = void (*)(pybind11::module_& m);

// Called by SI_REGISTER_BINDINGS during static initialisation.
bool register_bindings(const char* name, BindFunction fn);
// Runs the registered functions (sorted by name); called once by module.cpp.
void run_registered_bindings(pybind11::module_& m);

// Maps the core's exceptions to superinstance.errors; called once at import.
void register_error_translator(pybind11::module_& m);

}  // namespace si::py_bind

#define SI_REGISTER_BINDINGS(name)                                                        \
  static void si_bind_##name(pybind11::module_& m);                                       \
  [[maybe_unused]] static const bool si_bind_registered_##name =                          \
      ::si::py_bind::register_bindings(#name, &si_bind_##name);                           \
  static void si_bind_##name(pybind11::module_& m)
