// Translation of the core's exceptions into the classes of superinstance.errors
// (defined in Python, so that they carry docs and multiple inheritance, e.g.
// UnknownIdError is also a KeyError).
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "common/errors.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

struct ErrorClasses {
  py::object corrupt, unsupported_version, wrong_kind, closed, unknown_id, backend_unavailable,
      gpu_unavailable, gpu_oom, permission, base;
};

// Leaked on purpose: the translator can run until the interpreter is gone.
ErrorClasses* classes = nullptr;

void raise(const py::object& cls, const char* what) { PyErr_SetString(cls.ptr(), what); }

}  // namespace

void register_error_translator(py::module_&) {
  py::module_ errors = py::module_::import("superinstance.errors");
  classes = new ErrorClasses{
      errors.attr("CorruptFileError"),        errors.attr("UnsupportedVersionError"),
      errors.attr("WrongFileKindError"),      errors.attr("ClosedError"),
      errors.attr("UnknownIdError"),          errors.attr("UnavailableError"),
      errors.attr("GpuUnavailableError"),     errors.attr("GpuOutOfMemoryError"),
      errors.attr("RealtimePermissionError"), errors.attr("SuperinstanceError")};
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const IoError& e) {
      py::tuple args = py::make_tuple(e.error_number(), e.what(), e.path());
      PyErr_SetObject(PyExc_OSError, args.ptr());
    } catch (const CorruptFile& e) {
      raise(classes->corrupt, e.what());
    } catch (const UnsupportedVersion& e) {
      raise(classes->unsupported_version, e.what());
    } catch (const WrongFileKind& e) {
      raise(classes->wrong_kind, e.what());
    } catch (const Closed& e) {
      raise(classes->closed, e.what());
    } catch (const UnknownId& e) {
      raise(classes->unknown_id, e.what());
    } catch (const GpuUnavailable& e) {
      raise(classes->gpu_unavailable, e.what());
    } catch (const BackendUnavailable& e) {
      raise(classes->backend_unavailable, e.what());
    } catch (const GpuOutOfMemory& e) {
      raise(classes->gpu_oom, e.what());
    } catch (const PermissionDenied& e) {
      raise(classes->permission, e.what());
    } catch (const Error& e) {
      raise(classes->base, e.what());
    }
  });
}

}  // namespace si::py_bind
