// Bindings of the gpu_accelerator CPU twins (in superinstance._core): the
// sentiment head, batched cosine similarity, and the CUDA Graph state machine
// (pure logic, bound here so that it is tested without a GPU). The facade is
// superinstance.gpu_accelerator; the GPU side is src/cuda_bind_gpu.cpp.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "args.hpp"
#include "arrays.hpp"
#include "bindings.hpp"
#include "closable.hpp"
#include "common/parallel.hpp"
#include "common/cpu_features.hpp"
#include "gpu_accelerator/cpu_models.hpp"
#include "gpu_accelerator/graph_lifecycle.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

// A user's thread count (0: automatic), checked before any work.
unsigned threads_arg(const py::handle& obj) {
  const int threads = int_arg<int>(obj, "threads", 0);
  si::check_thread_count(threads);
  return static_cast<unsigned>(threads);
}

// A numpy array (not converted: the facade converts, so that any copy is visible there).
py::array array_arg(const py::handle& obj, const char* name) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(name) + " must be a numpy array, got " + py_type_name(obj));
  return py::reinterpret_borrow<py::array>(obj);
}

// A C-contiguous float32 array of `ndim` dimensions, or a clear error.
py::array f32(const py::array& a, const char* name, int ndim) {
  if (!a.dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(name) + " must be float32, got " +
                         py::str(a.dtype()).cast<std::string>());
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) + "-D, got " +
                          std::to_string(a.ndim()) + "-D");
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + " must be C-contiguous");
  return a;
}

std::vector<float> vec(const py::array& a, const char* name, int ndim) {
  py::array c = f32(a, name, ndim);
  const float* p = static_cast<const float*>(c.data());
  return std::vector<float>(p, p + c.size());
}

void check_finite(const float* p, std::size_t n, const char* name) {
  const std::size_t bad = without_gil([&] { return gpu::first_non_finite(p, n); });
  if (bad != n)
    throw py::value_error(std::string(name) + " holds NaN or infinity (flat index " +
                          std::to_string(bad) + ")");
}

gpu::SentimentWeights weights_from(const py::object& w1_obj, const py::object& b1_obj,
                                   const py::object& w2_obj, const py::object& b2_obj) {
  const py::array w1 = array_arg(w1_obj, "w1"), b1 = array_arg(b1_obj, "b1"), w2 = array_arg(w2_obj, "w2"),
                  b2 = array_arg(b2_obj, "b2");
  gpu::SentimentWeights w;
  f32(w1, "w1", 2);
  f32(w2, "w2", 2);
  w.hidden = static_cast<std::size_t>(w1.shape(0));
  w.in = static_cast<std::size_t>(w1.shape(1));
  if (w2.shape(0) != 3 || static_cast<std::size_t>(w2.shape(1)) != w.hidden)
    throw py::value_error("w2 must have shape (3, " + std::to_string(w.hidden) + "), got (" +
                          std::to_string(w2.shape(0)) + ", " + std::to_string(w2.shape(1)) + ")");
  w.w1 = vec(w1, "w1", 2);
  w.b1 = vec(b1, "b1", 1);
  w.w2 = vec(w2, "w2", 2);
  w.b2 = vec(b2, "b2", 1);
  w.validate();
  return w;
}

py::array_t<float> sentiment_forward(const gpu::SentimentHeadCpu& head, const py::object& features,
                                     const py::object& level, const py::object& threads_obj) {
  const py::array x = array_arg(features, "features");
  f32(x, "features", 2);
  if (static_cast<std::size_t>(x.shape(1)) != head.in_features())
    throw py::value_error("features have " + std::to_string(x.shape(1)) +
                          " columns, the sentiment head expects " +
                          std::to_string(head.in_features()));
  const auto lv = simd_level_arg(level, "level");
  const unsigned threads = threads_arg(threads_obj);
  const auto batch = static_cast<std::size_t>(x.shape(0));
  const float* px = static_cast<const float*>(x.data());
  check_finite(px, static_cast<std::size_t>(x.size()), "features");
  py::array_t<float> out({static_cast<py::ssize_t>(batch), py::ssize_t{3}});
  float* po = out.mutable_data();
  py::gil_scoped_release release;
  head.forward(px, batch, po, lv, threads);
  return out;
}

py::array_t<float> cosine(const py::object& queries, const py::object& keys, const py::object& level,
                          const py::object& threads_obj) {
  const py::array q = array_arg(queries, "queries"), k = array_arg(keys, "keys");
  f32(q, "queries", 2);
  f32(k, "keys", 2);
  if (q.shape(1) != k.shape(1))
    throw py::value_error("queries have dim " + std::to_string(q.shape(1)) + ", keys have dim " +
                          std::to_string(k.shape(1)));
  if (q.shape(1) == 0) throw py::value_error("vectors must have at least one dimension");
  const auto lv = simd_level_arg(level, "level");
  const unsigned threads = threads_arg(threads_obj);
  const auto m = static_cast<std::size_t>(q.shape(0)), n = static_cast<std::size_t>(k.shape(0)),
             d = static_cast<std::size_t>(q.shape(1));
  const float* pq = static_cast<const float*>(q.data());
  const float* pk = static_cast<const float*>(k.data());
  check_finite(pq, m * d, "queries");
  check_finite(pk, n * d, "keys");
  py::array_t<float> out({static_cast<py::ssize_t>(m), static_cast<py::ssize_t>(n)});
  float* po = out.mutable_data();
  py::gil_scoped_release release;
  gpu::cosine_matrix(pq, m, pk, n, d, po, lv, threads);
  return out;
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(gpu_accelerator) {
  using namespace si::py_bind;
  using si::gpu::GraphLifecycle;
  using si::gpu::SentimentHeadCpu;

  closable_class<SentimentHeadCpu>(m, "SentimentHeadCpu", "SentimentHead",
                                   "CPU sentiment head (features -> valence, arousal, dominance); "
                                   "use superinstance.gpu_accelerator.SentimentHead")
      .def_init(py::init([](const py::object& w1, const py::object& b1, const py::object& w2,
                            const py::object& b2) { return SentimentHeadCpu(weights_from(w1, b1, w2, b2)); }),
                py::arg("w1"), py::arg("b1"), py::arg("w2"), py::arg("b2"))
      .def_property_readonly("in_features", &SentimentHeadCpu::in_features)
      .def_property_readonly("hidden", &SentimentHeadCpu::hidden)
      .def("forward", &sentiment_forward, py::arg("features"), py::arg("level") = py::none(),
           py::arg("threads") = 0,
           "(batch, in) float32 -> (batch, 3) float32: valence, arousal, dominance")
      .def_any_state("close", &SentimentHeadCpu::close, "Refuse every later call (ClosedError). Idempotent.")
      .def_property_readonly_any_state("closed", &SentimentHeadCpu::closed);

  m.def("cosine_matrix_cpu", &cosine, py::arg("queries"), py::arg("keys"),
        py::arg("level") = py::none(), py::arg("threads") = 0,
        "(m, d) x (n, d) float32 -> (m, n) float32 cosine similarities (0 for a zero vector)");

  py::class_<GraphLifecycle>(m, "GraphLifecycle",
                             "The CUDA Graph state machine (no CUDA); used by the GPU Graph")
      .def(py::init<>())
      .def_property_readonly("state", &GraphLifecycle::state_name)
      .def_property_readonly("has_graph", &GraphLifecycle::has_graph)
      .def_property_readonly("has_exec", &GraphLifecycle::has_exec)
      .def_property_readonly("exec_stale", &GraphLifecycle::exec_stale)
      .def_property_readonly("launches", &GraphLifecycle::launches)
      .def_property_readonly("captures", &GraphLifecycle::captures)
      .def_property_readonly("updates_in_place", &GraphLifecycle::updates_in_place)
      .def_property_readonly("reinstantiations", &GraphLifecycle::reinstantiations)
      .def("check_begin_capture", &GraphLifecycle::check_begin_capture)
      .def("check_end_capture", &GraphLifecycle::check_end_capture)
      .def("check_instantiate", &GraphLifecycle::check_instantiate)
      .def("check_update", &GraphLifecycle::check_update)
      .def("check_launch", [](const GraphLifecycle& g, const std::string& what) {
        g.check_launch(what.c_str());
      }, py::arg("what") = "launch")
      .def("on_begin_capture", &GraphLifecycle::on_begin_capture)
      .def("on_end_capture", &GraphLifecycle::on_end_capture, py::arg("ok"))
      .def("on_instantiate", &GraphLifecycle::on_instantiate)
      .def("on_update", &GraphLifecycle::on_update, py::arg("in_place"))
      .def("on_launch", &GraphLifecycle::on_launch)
      .def("on_close", &GraphLifecycle::on_close);
}
