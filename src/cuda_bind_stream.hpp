// The stream argument of superinstance._cuda's launch functions, shared by
// cuda_bind_gpu.cpp and cuda_bind_dp.cpp: None (the legacy default stream), a
// _cuda.Stream, an integer handle, or another library's stream object exposing
// its handle as .handle / .cuda_stream / .ptr (CuPy, PyTorch).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "gpu_accelerator/cuda_runtime.hpp"

namespace si::py_bind {

inline cudaStream_t stream_arg(const pybind11::object& s) {
  namespace py = pybind11;
  if (s.is_none()) return nullptr;
  if (py::isinstance<si::gpu::cuda::Stream>(s)) return s.cast<const si::gpu::cuda::Stream&>().handle();
  if (py::isinstance<py::int_>(s)) return reinterpret_cast<cudaStream_t>(s.cast<std::uintptr_t>());
  for (const char* attr : {"handle", "cuda_stream", "ptr"})
    if (py::hasattr(s, attr)) {
      py::object h = s.attr(attr);
      if (py::isinstance<py::int_>(h)) return reinterpret_cast<cudaStream_t>(h.cast<std::uintptr_t>());
    }
  throw py::type_error("stream must be a Stream, an integer handle or None, got " +
                       py::str(py::type::of(s)).cast<std::string>());
}

}  // namespace si::py_bind
