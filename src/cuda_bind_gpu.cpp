// GPU side of superinstance.gpu_accelerator (in superinstance._cuda): device
// and pinned memory, streams, events, CUDA Graphs, DLPack, the model kernels
// and the launch/bandwidth benchmarks. Private API: the facade in
// python/superinstance/gpu_accelerator/ checks arguments and owns lifetimes.
// Raw pointers cross this boundary as Python ints.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "closable.hpp"
#include "cuda_bind_stream.hpp"
#include "common/errors.hpp"
#include "gpu_accelerator/cuda_runtime.hpp"
#include "gpu_accelerator/dlpack_abi.hpp"

namespace py = pybind11;
namespace cu = si::gpu::cuda;
namespace dl = si::gpu::dlpack;
using si::py_bind::stream_arg;

namespace {

// A device allocation seen from Python; close() drops this owner (DLPack
// exports keep their own), so memory goes when the last owner does.
struct PyDeviceBuffer {
  std::shared_ptr<cu::DeviceAllocation> alloc;
  std::size_t nbytes = 0;
  int device = 0;
  bool closed() const { return !alloc; }
  void close() { alloc.reset(); }
  const cu::DeviceAllocation& get() const {
    if (!alloc) throw si::Closed("DeviceBuffer is closed");
    return *alloc;
  }
};

template <class T>
T* ptr(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

// ---------------------------------------------------------------- DLPack
struct ExportCtx {
  std::vector<std::int64_t> shape;
  PyObject* owner;  // a strong reference, released by the deleter with the GIL
  std::shared_ptr<cu::DeviceAllocation> alloc;
};

void export_deleter(dl::DLManagedTensor* t) {
  auto* ctx = static_cast<ExportCtx*>(t->manager_ctx);
  {
    py::gil_scoped_acquire gil;
    Py_XDECREF(ctx->owner);
  }
  delete ctx;
  delete t;
}

void capsule_destructor(PyObject* cap) {
  // Only an unconsumed capsule still owns its tensor.
  if (PyCapsule_IsValid(cap, "dltensor")) {
    auto* t = static_cast<dl::DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
    if (t && t->deleter) t->deleter(t);
  }
  PyErr_Clear();
}

dl::DLDataType dtype_from(const std::string& kind, int bits) {
  dl::DLDataType d{0, static_cast<std::uint8_t>(bits), 1};
  if (kind == "f") d.code = dl::kDLFloat;
  else if (kind == "i") d.code = dl::kDLInt;
  else if (kind == "u") d.code = dl::kDLUInt;
  else if (kind == "b") d.code = dl::kDLBool;
  else throw py::type_error("DLPack export: unsupported dtype kind '" + kind + "'");
  return d;
}

py::capsule to_dlpack(py::object owner, const PyDeviceBuffer& buf, std::size_t offset,
                      std::vector<std::int64_t> shape, const std::string& kind, int bits) {
  const auto& a = buf.get();
  std::int64_t count = 1;
  for (auto s : shape) {
    if (s < 0) throw py::value_error("DLPack export: negative dimension");
    count *= s;
  }
  if (offset + static_cast<std::size_t>(count) * (bits / 8) > a.size)
    throw py::value_error("DLPack export: shape does not fit in the buffer");
  auto* ctx = new ExportCtx{std::move(shape), owner.release().ptr(), buf.alloc};
  auto* t = new dl::DLManagedTensor{};
  t->dl_tensor.data = static_cast<char*>(a.ptr) + offset;
  t->dl_tensor.device = {dl::kDLCUDA, a.device};
  t->dl_tensor.ndim = static_cast<std::int32_t>(ctx->shape.size());
  t->dl_tensor.dtype = dtype_from(kind, bits);
  t->dl_tensor.shape = ctx->shape.data();
  t->dl_tensor.strides = nullptr;
  t->dl_tensor.byte_offset = 0;
  t->manager_ctx = ctx;
  t->deleter = export_deleter;
  PyObject* cap = PyCapsule_New(t, "dltensor", capsule_destructor);
  if (!cap) {
    export_deleter(t);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(cap);
}

// Holds an imported DLPack tensor; its deleter runs when this goes.
struct DlpackImport {
  dl::DLManagedTensor* t = nullptr;
  ~DlpackImport() {
    if (t && t->deleter) t->deleter(t);
  }
};

py::dict from_dlpack(py::capsule cap) {
  if (!PyCapsule_IsValid(cap.ptr(), "dltensor"))
    throw py::value_error(
        "from_dlpack: expected an unconsumed 'dltensor' capsule (a capsule can be used once)");
  auto* t = static_cast<dl::DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  auto keeper = std::make_shared<DlpackImport>();
  keeper->t = t;
  PyCapsule_SetName(cap.ptr(), "used_dltensor");
  const auto& x = t->dl_tensor;
  py::list shape, strides;
  for (int i = 0; i < x.ndim; ++i) {
    shape.append(x.shape[i]);
    if (x.strides) strides.append(x.strides[i]);
  }
  std::string kind;
  switch (x.dtype.code) {
    case dl::kDLFloat: kind = "f"; break;
    case dl::kDLInt: kind = "i"; break;
    case dl::kDLUInt: kind = "u"; break;
    case dl::kDLBool: kind = "b"; break;
    default: kind = "?";
  }
  py::dict d;
  d["ptr"] = reinterpret_cast<std::uintptr_t>(x.data) + x.byte_offset;
  d["device_type"] = x.device.device_type;
  d["device_id"] = x.device.device_id;
  d["shape"] = py::tuple(shape);
  d["strides"] = x.strides ? py::object(py::tuple(strides)) : py::object(py::none());
  d["kind"] = kind;
  d["bits"] = static_cast<int>(x.dtype.bits);
  d["lanes"] = static_cast<int>(x.dtype.lanes);
  d["keeper"] = py::cast(keeper);
  return d;
}

py::array pinned_empty(std::size_t nbytes) {
  std::unique_ptr<cu::PinnedAllocation> a;
  {
    py::gil_scoped_release release;
    a = std::make_unique<cu::PinnedAllocation>(nbytes);
  }
  void* p = a->ptr;
  py::capsule owner(a.release(), [](void* v) { delete static_cast<cu::PinnedAllocation*>(v); });
  return py::array(py::dtype::of<std::uint8_t>(), {static_cast<py::ssize_t>(nbytes)}, {1},
                   static_cast<std::uint8_t*>(p), owner);
}

// __enter__ (open objects only) and __exit__ (any state) of a closable class.
template <class T>
void context_manager(si::py_bind::closable_class<T>& c) {
  // Returning the reference makes pybind11 hand back the existing Python object.
  c.def("__enter__", [](T& self) -> T& { return self; }, py::return_value_policy::reference)
      .def_any_state("__exit__", [](T& self, py::args) { self.close(); });
}

}  // namespace

SI_REGISTER_BINDINGS(gpu_accelerator) {
  py::class_<DlpackImport, std::shared_ptr<DlpackImport>>(m, "_DlpackImport");

  si::py_bind::closable_class<PyDeviceBuffer> buffer(m, "DeviceBuffer", "DeviceBuffer",
                                                     "Device memory (cudaMalloc); close() frees it");
  buffer.def_init(py::init([](std::size_t nbytes, int device) {
                  PyDeviceBuffer b;
                  {
                    py::gil_scoped_release release;
                    b.alloc = std::make_shared<cu::DeviceAllocation>(nbytes, device);
                  }
                  b.nbytes = nbytes;
                  b.device = device;
                  return b;
                }),
                py::arg("nbytes"), py::arg("device") = 0)
      .def_property_readonly("ptr", [](const PyDeviceBuffer& b) {
        return reinterpret_cast<std::uintptr_t>(b.get().ptr);
      })
      .def_property_readonly("nbytes", [](const PyDeviceBuffer& b) { return b.nbytes; })
      .def_property_readonly("device", [](const PyDeviceBuffer& b) { return b.device; })
      .def_property_readonly_any_state("closed", &PyDeviceBuffer::closed)
      .def_any_state("close", [](PyDeviceBuffer& b) {
        py::gil_scoped_release release;
        b.close();
      });
  context_manager(buffer);

  m.def("pinned_empty", &pinned_empty, py::arg("nbytes"),
        "Page-locked host memory (cudaMallocHost) as a uint8 numpy array that owns it");

  m.def("memcpy", [](std::uintptr_t dst, std::uintptr_t src, std::size_t nbytes, py::object stream) {
    const bool async = !stream.is_none();
    cudaStream_t s = stream_arg(stream);
    py::gil_scoped_release release;
    cu::copy(ptr<void>(dst), ptr<const void>(src), nbytes, s, async);
  }, py::arg("dst"), py::arg("src"), py::arg("nbytes"), py::arg("stream") = py::none());
  m.def("memset", [](std::uintptr_t dst, int value, std::size_t nbytes, py::object stream) {
    const bool async = !stream.is_none();
    cudaStream_t s = stream_arg(stream);
    py::gil_scoped_release release;
    cu::memset(ptr<void>(dst), value, nbytes, s, async);
  }, py::arg("dst"), py::arg("value"), py::arg("nbytes"), py::arg("stream") = py::none());
  m.def("pointer_kind", [](std::uintptr_t p) {
    int dev = -1;
    int k = cu::pointer_kind(ptr<const void>(p), &dev);
    return py::make_tuple(k, dev);
  });
  m.def("device_synchronize", [] {
    py::gil_scoped_release release;
    cu::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  });
  m.def("mem_info", [](int device) {
    cu::use_device(device);
    std::size_t f = 0, t = 0;
    cu::check(cudaMemGetInfo(&f, &t), "cudaMemGetInfo");
    return py::make_tuple(f, t);
  }, py::arg("device") = 0);

  si::py_bind::closable_class<cu::Stream> stream(m, "Stream", "Stream", "A CUDA stream (non-blocking by default)");
  stream.def_init(py::init<int, bool, int>(), py::arg("device") = 0, py::arg("non_blocking") = true,
                  py::arg("priority") = 0)
      .def_property_readonly("handle", [](const cu::Stream& s) {
        return reinterpret_cast<std::uintptr_t>(s.handle());
      })
      .def_property_readonly("device", &cu::Stream::device)
      .def_property_readonly_any_state("closed", &cu::Stream::closed)
      .def("synchronize", [](const cu::Stream& s) {
        s.handle();
        py::gil_scoped_release release;
        s.synchronize();
      })
      .def("query", &cu::Stream::query)
      .def_any_state("close", [](cu::Stream& s) {
        py::gil_scoped_release release;
        s.close();
      });
  context_manager(stream);

  si::py_bind::closable_class<cu::Event> event(m, "Event", "Event", "A CUDA event; with timing=True, elapsed times");
  event.def_init(py::init<bool, int>(), py::arg("timing") = true, py::arg("device") = 0)
      .def("record", [](cu::Event& e, py::object s) { e.record(stream_arg(s)); },
           py::arg("stream") = py::none())
      .def("synchronize", [](const cu::Event& e) {
        e.handle();
        py::gil_scoped_release release;
        e.synchronize();
      })
      .def("query", &cu::Event::query)
      .def("elapsed_ms", [](const cu::Event& end, const cu::Event& start) {
        return end.elapsed_ms_since(start);
      }, py::arg("start"), "Milliseconds from `start` to this event (both recorded and done)")
      .def_property_readonly_any_state("closed", &cu::Event::closed)
      .def_property_readonly("timing", &cu::Event::timing)
      .def_any_state("close", &cu::Event::close);
  context_manager(event);

  si::py_bind::closable_class<cu::Graph> graph(m, "Graph", "Graph",
                                               "A CUDA Graph (capture, instantiate, update, launch)");
  graph.def_init(py::init<>())
      .def("begin_capture", [](cu::Graph& g, py::object s) { g.begin_capture(stream_arg(s)); })
      .def("end_capture", &cu::Graph::end_capture, py::arg("ok"))
      .def("instantiate", [](cu::Graph& g) {
        py::gil_scoped_release release;
        g.instantiate();
      })
      .def("update", [](cu::Graph& g) {
        py::gil_scoped_release release;
        return g.update();
      })
      .def("upload", [](cu::Graph& g, py::object s) {
        cudaStream_t h = stream_arg(s);
        py::gil_scoped_release release;
        g.upload(h);
      })
      .def("launch", [](cu::Graph& g, py::object s) {
        cudaStream_t h = stream_arg(s);
        py::gil_scoped_release release;
        g.launch(h);
      })
      .def_property_readonly("n_nodes", &cu::Graph::node_count)
      .def_property_readonly("state", [](const cu::Graph& g) { return g.lifecycle().state_name(); })
      .def_property_readonly("launches", [](const cu::Graph& g) { return g.lifecycle().launches(); })
      .def_property_readonly("updates_in_place",
                             [](const cu::Graph& g) { return g.lifecycle().updates_in_place(); })
      .def_property_readonly("reinstantiations",
                             [](const cu::Graph& g) { return g.lifecycle().reinstantiations(); })
      .def_property_readonly_any_state("closed", &cu::Graph::closed)
      .def_any_state("close", &cu::Graph::close);
  context_manager(graph);

  m.def("launch_sentiment", [](std::uintptr_t w1, std::uintptr_t b1, std::uintptr_t w2,
                               std::uintptr_t b2, std::size_t in, std::size_t hidden,
                               std::uintptr_t x, std::size_t batch, std::uintptr_t out,
                               py::object s) {
    cu::launch_sentiment(ptr<const float>(w1), ptr<const float>(b1), ptr<const float>(w2),
                         ptr<const float>(b2), in, hidden, ptr<const float>(x), batch,
                         ptr<float>(out), stream_arg(s));
  });
  m.def("launch_cosine", [](std::uintptr_t q, std::size_t m_, std::uintptr_t k, std::size_t n,
                            std::size_t dim, std::uintptr_t out, py::object s) {
    cu::launch_cosine(ptr<const float>(q), m_, ptr<const float>(k), n, dim, ptr<float>(out),
                      stream_arg(s));
  });
  m.def("launch_increment_chain", [](std::uintptr_t counter, int count, py::object s) {
    cu::launch_increment_chain(ptr<int>(counter), count, stream_arg(s));
  });

  m.def("to_dlpack", &to_dlpack, py::arg("owner"), py::arg("buffer"), py::arg("offset"),
        py::arg("shape"), py::arg("kind"), py::arg("bits"));
  m.def("from_dlpack", &from_dlpack, py::arg("capsule"));

  m.def("bench_launch_chain", [](int chain, int repeats) {
    cu::LaunchBench b;
    {
      py::gil_scoped_release release;
      b = cu::bench_launch_chain(chain, repeats);
    }
    py::dict d;
    d["chain"] = b.chain;
    d["stream_us_per_kernel"] = b.stream_us_per_kernel;
    d["graph_us_per_kernel"] = b.graph_us_per_kernel;
    d["graph_launch_us"] = b.graph_launch_us;
    return d;
  }, py::arg("chain"), py::arg("repeats") = 200);
  m.def("bench_copy_bandwidth", [](std::size_t bytes, int repeats) {
    cu::CopyBench b;
    {
      py::gil_scoped_release release;
      b = cu::bench_copy_bandwidth(bytes, repeats);
    }
    py::dict d;
    d["bytes"] = b.bytes;
    d["pageable_h2d_gbps"] = b.pageable_h2d_gbps;
    d["pageable_d2h_gbps"] = b.pageable_d2h_gbps;
    d["pinned_h2d_gbps"] = b.pinned_h2d_gbps;
    d["pinned_d2h_gbps"] = b.pinned_d2h_gbps;
    return d;
  }, py::arg("bytes") = std::size_t{256} << 20, py::arg("repeats") = 5);
}
