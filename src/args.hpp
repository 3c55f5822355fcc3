// Checked conversion of scalar Python arguments, shared by every binding.
//
// A parameter typed `int` or `std::uint64_t` in a pybind11 signature turns a
// wrong type or an out-of-range value into pybind11's "incompatible function
// arguments" signature dump. Bindings take such parameters as py::object (or
// py::handle) and convert them here instead, so that the error names the
// argument and the problem:
//   TypeError:  threads must be an int, got str
//   ValueError: threads = 2147483648 is out of range [0, 2147483647]
// The binding checks types and representable range (this file); the core
// checks what the value means (e.g. threads <= the thread cap).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include <pybind11/pybind11.h>

#include "common/cpu_features.hpp"

namespace si::py_bind {

inline std::string py_type_name(const pybind11::handle& v) {
  return pybind11::str(pybind11::type::of(v).attr("__name__")).cast<std::string>();
}

// An integer argument (int, numpy integer, anything with __index__; not bool,
// not float) converted to T, within [lo, hi] (T's whole range by default).
template <class T>
T int_arg(const pybind11::handle& v, const char* name, T lo = std::numeric_limits<T>::min(),
          T hi = std::numeric_limits<T>::max()) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  namespace py = pybind11;
  if (py::isinstance<py::bool_>(v) || !PyIndex_Check(v.ptr()))
    throw py::type_error(std::string(name) + " must be an int, got " + py_type_name(v));
  const auto as_int = py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
  if (!as_int) throw py::error_already_set();
  const auto out_of_range = [&] {
    return py::value_error(std::string(name) + " = " + py::str(as_int).cast<std::string>() + " is out of range [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  int overflow = 0;
  T out;
  if constexpr (std::is_signed_v<T>) {
    const long long x = PyLong_AsLongLongAndOverflow(as_int.ptr(), &overflow);
    if (overflow != 0 || x < static_cast<long long>(lo) || x > static_cast<long long>(hi)) throw out_of_range();
    out = static_cast<T>(x);
  } else {
    if (PyObject_RichCompareBool(as_int.ptr(), py::int_(0).ptr(), Py_LT) == 1) throw out_of_range();
    const unsigned long long x = PyLong_AsUnsignedLongLong(as_int.ptr());
    if (PyErr_Occurred()) {
      PyErr_Clear();
      throw out_of_range();
    }
    if (x < static_cast<unsigned long long>(lo) || x > static_cast<unsigned long long>(hi)) throw out_of_range();
    out = static_cast<T>(x);
  }
  return out;
}

// A real-number argument (int, float, numpy scalar; not bool, not str),
// finite unless allow_inf (NaN is always refused).
inline double float_arg(const pybind11::handle& v, const char* name, bool allow_inf = false) {
  namespace py = pybind11;
  if (py::isinstance<py::bool_>(v) || py::isinstance<py::str>(v) || py::isinstance<py::bytes>(v) ||
      !PyNumber_Check(v.ptr()))
    throw py::type_error(std::string(name) + " must be a number, got " + py_type_name(v));
  const double d = PyFloat_AsDouble(v.ptr());
  if (d == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::type_error(std::string(name) + " must be a real number, got " + py_type_name(v));
  }
  if (std::isnan(d)) throw py::value_error(std::string(name) + " is NaN");
  if (std::isinf(d) && !allow_inf) throw py::value_error(std::string(name) + " must be finite, got " + std::to_string(d));
  return d;
}

// A str argument (bytes and other types are refused).
inline std::string str_arg(const pybind11::handle& v, const char* name) {
  if (!pybind11::isinstance<pybind11::str>(v))
    throw pybind11::type_error(std::string(name) + " must be a str, got " + py_type_name(v));
  return v.cast<std::string>();
}

// A flag: bool or numpy.bool_ only ("no" or 1 are refused, not read as true).
inline bool bool_arg(const pybind11::handle& v, const char* name) {
  namespace py = pybind11;
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py_type_name(v) == "bool_" || py_type_name(v) == "bool") return PyObject_IsTrue(v.ptr()) == 1;  // numpy
  throw py::type_error(std::string(name) + " must be a bool, got " + py_type_name(v));
}

// A file path argument: str, bytes or os.PathLike, encoded as os.fsencode does
// (so undecodable names survive). An embedded NUL byte is kept, for the core's
// check (si::io::check_path) to refuse with a ValueError instead of the system
// calls cutting the path there.
inline std::string path_arg(const pybind11::handle& v, const char* name = "path") {
  namespace py = pybind11;
  if (!py::isinstance<py::str>(v) && !py::isinstance<py::bytes>(v) && !py::hasattr(v, "__fspath__"))
    throw py::type_error(std::string(name) + " must be a str, bytes or os.PathLike, got " + py_type_name(v));
  return py::module_::import("os").attr("fsencode")(v).cast<std::string>();
}

// A SIMD level by name ("scalar", "avx2", "avx512"); the ValueError names the choices.
inline simd::Level simd_level_named(const std::string& name) {
  const auto level = simd::parse_level(name);
  if (!level) throw pybind11::value_error("unknown SIMD level '" + name + "': use scalar, avx2 or avx512");
  return *level;
}

// A SIMD level argument: None means the active level.
inline simd::Level simd_level_arg(const std::optional<std::string>& name) {
  return name ? simd_level_named(*name) : simd::active_level();
}
inline simd::Level simd_level_arg(const pybind11::handle& v, const char* name) {
  return v.is_none() ? simd::active_level() : simd_level_named(str_arg(v, name));
}

}  // namespace si::py_bind
