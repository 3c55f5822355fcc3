// Array and bytes helpers shared by the binding translation units: copying a
// core result into a new numpy array, taking a bytes argument, releasing the
// GIL around a native call that returns a value.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "args.hpp"

namespace si::py_bind {

// A new 1-D numpy array holding a copy of v.
template <class T>
pybind11::array_t<T> to_array(const std::vector<T>& v) {
  pybind11::array_t<T> a(static_cast<pybind11::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// A bytes argument (exactly bytes: bytearray and other buffers are refused).
inline std::string bytes_arg(const pybind11::handle& v, const char* name) {
  if (!pybind11::isinstance<pybind11::bytes>(v))
    throw pybind11::type_error(std::string(name) + " must be bytes, got " + py_type_name(v));
  return v.cast<std::string>();
}

// f() with the GIL released (inputs checked and converted before the call);
// its result is returned with the GIL held again.
template <class F>
auto without_gil(F&& f) {
  pybind11::gil_scoped_release release;
  return std::forward<F>(f)();
}

}  // namespace si::py_bind
