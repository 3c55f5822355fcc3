// Translation of the core's exceptions into the classes of superinstance.errors
// (defined in Python, so that they carry docs and multiple inheritance, e.g.
// UnknownIdError is also a KeyError).
#include <vector>

#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "common/errors.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

// One row per core exception: the first row whose type matches translates it,
// so a derived class comes before its base (GpuUnavailable before BackendUnavailable).
struct Translation {
  bool (*matches)(const Error&);
  py::object cls;
};

template <class E>
bool is(const Error& e) {
  return dynamic_cast<const E*>(&e) != nullptr;
}

// Leaked on purpose: the translator can run until the interpreter is gone.
std::vector<Translation>* translations = nullptr;

void raise_translated(const Error& e) {
  for (const auto& t : *translations) {
    if (t.matches(e)) {
      PyErr_SetString(t.cls.ptr(), e.what());
      return;
    }
  }
}

}  // namespace

void register_error_translator(py::module_&) {
  py::module_ errors = py::module_::import("superinstance.errors");
  const auto row = [&](bool (*matches)(const Error&), const char* name) {
    return Translation{matches, errors.attr(name)};
  };
  translations = new std::vector<Translation>{
      row(&is<CorruptFile>, "CorruptFileError"),
      row(&is<UnsupportedVersion>, "UnsupportedVersionError"),
      row(&is<WrongFileKind>, "WrongFileKindError"),
      row(&is<Closed>, "ClosedError"),
      row(&is<UnknownId>, "UnknownIdError"),
      row(&is<GpuUnavailable>, "GpuUnavailableError"),
      row(&is<BackendUnavailable>, "UnavailableError"),
      row(&is<GpuOutOfMemory>, "GpuOutOfMemoryError"),
      row(&is<PermissionDenied>, "RealtimePermissionError"),
      row(&is<Error>, "SuperinstanceError"),
  };
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const IoError& e) {
      py::tuple args = py::make_tuple(e.error_number(), e.what(), e.path());
      PyErr_SetObject(PyExc_OSError, args.ptr());
    } catch (const Error& e) {
      raise_translated(e);
    }
  });
}

}  // namespace si::py_bind
