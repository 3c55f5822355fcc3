// superinstance._cuda: the optional CUDA module, linked to the static CUDA
// runtime so that it imports without a driver and reports why no GPU is usable.
// Components add their GPU bindings in src/cuda_bind_<component>.cpp through
// SI_REGISTER_BINDINGS, as for _core.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "gpu_accelerator/cuda_probe.hpp"

namespace py = pybind11;

namespace {

py::dict probe_dict() {
  si::gpu::CudaProbe p;
  {
    py::gil_scoped_release release;
    p = si::gpu::probe_cuda();
  }
  py::list devices;
  for (const auto& d : p.devices) {
    py::dict dev;
    dev["index"] = d.index;
    dev["name"] = d.name;
    dev["compute_capability"] = py::make_tuple(d.major, d.minor);
    dev["total_memory"] = d.total_memory;
    dev["free_memory"] = d.free_memory;
    dev["multiprocessors"] = d.multiprocessors;
    dev["dpx"] = d.dpx_native ? "native" : "emulated";
    dev["kernel_ok"] = d.kernel_ok;
    dev["kernel_error"] = d.kernel_error;
    devices.append(dev);
  }
  py::dict out;
  out["runtime_version"] = p.runtime_version;
  out["driver_version"] = p.driver_version;
  out["error"] = p.error;
  out["devices"] = devices;
  out["compiled_architectures"] = p.compiled_architectures;
  return out;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "superinstance CUDA kernels (optional; see superinstance.gpu_accelerator)";
  si::py_bind::register_error_translator(m);
  m.def("probe", &probe_dict, "Query the CUDA runtime: devices, versions, or the reason none is usable.");
  si::py_bind::run_registered_bindings(m);
}
