// superinstance._core: the compiled core. Each component adds its bindings
// from its own bind_<component>.cpp through SI_REGISTER_BINDINGS.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "superinstance compiled core (use the superinstance package, not this module)";
  si::py_bind::register_error_translator(m);
  si::py_bind::run_registered_bindings(m);
}
