// GPU bindings of the dynamic-programming kernels (cpp/gpu_accelerator/dp/dp_cuda*.cu),
// in superinstance._cuda. Private API; the facade (gpu_accelerator/dp.py and
// dp_device.py) checks dtypes and shapes and owns lifetimes.
//
// * dp_<kernel>(numpy arrays): validated on the host, then run on the GPU
//   (GpuUnavailableError with the reason when no CUDA device can run our kernels).
// * dp_<kernel>_host(numpy arrays): the launcher's host twin (the same per-thread
//   DPX code on the CPU, for tests without a GPU); values the kernels check on
//   the device raise ValueError from the status word.
// * dp_launch_<kernel>(pointers as ints, ..., status, stream) and DpAlignPlan.launch:
//   stream-ordered launches on device memory, capturable into a CUDA Graph.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <type_traits>

#include "bindings.hpp"
#include "cuda_bind_stream.hpp"
#include "dp_bind_shapes.hpp"
#include "gpu_accelerator/dp/dp_cuda.hpp"

namespace py = pybind11;
namespace dpg = si::dp::gpu;

namespace {

using si::py_bind::stream_arg;
using si::py_bind::dp_shapes::CArray;

dpg::Precision precision_arg(const std::string& s) {
  if (s == "auto") return dpg::Precision::automatic;
  if (s == "s32") return dpg::Precision::s32;
  if (s == "s16x2") return dpg::Precision::s16x2;
  throw py::value_error("precision must be 'auto', 's32' or 's16x2', got '" + s + "'");
}

// A device pointer passed as an int: null only when nothing is read or written.
template <class T>
T* dev_ptr(std::uintptr_t p, std::size_t count, const char* name) {
  if (p == 0 && count > 0) throw py::value_error(std::string(name) + ": null device pointer");
  return reinterpret_cast<T*>(p);
}

int* status_ptr(std::uintptr_t p) { return reinterpret_cast<int*>(p); }  // 0: no device-side checks

void raise_status(int status) {
  if (status) throw std::invalid_argument(dpg::status_message(status));
}

// Runs a launcher's host twin, then raises what its kernels' value checks found.
template <class Twin>
void with_status(Twin&& twin) {
  int status = 0;
  twin(&status);
  raise_status(status);
}

// ------------------------------------------------------------------ alignment
struct AlignInput {
  si::dp::AlignParams p;
  std::size_t n = 0;
};

AlignInput align_input(const CArray<std::uint8_t>& query, const CArray<std::int64_t>& offsets,
                       const CArray<std::int16_t>& code_of, const CArray<std::int8_t>& matrix, std::int64_t gap_open,
                       std::int64_t gap_extend, bool global) {
  if (query.ndim() != 1) throw py::value_error("query must be a 1-D byte array");
  if (offsets.ndim() != 1 || offsets.shape(0) < 1) throw py::value_error("offsets must be 1-D with n_targets + 1 entries");
  if (code_of.ndim() != 1 || code_of.shape(0) != 256) throw py::value_error("code_of must have 256 entries");
  if (matrix.ndim() != 2 || matrix.shape(0) != matrix.shape(1) || matrix.shape(0) < 1)
    throw py::value_error("substitution matrix must be square K x K");
  if (gap_open < 0 || gap_extend < 0) throw py::value_error("gap penalties must be >= 0 (they are subtracted)");
  if (gap_open > (1 << 24) || gap_extend > (1 << 24)) throw py::value_error("gap penalties must be <= 2**24");
  AlignInput in;
  in.n = static_cast<std::size_t>(offsets.shape(0) - 1);
  in.p.alphabet_size = static_cast<int>(matrix.shape(0));
  in.p.matrix = matrix.data();
  in.p.gap_open = static_cast<std::int32_t>(gap_open);
  in.p.gap_extend = static_cast<std::int32_t>(gap_extend);
  in.p.global = global;
  return in;
}

py::tuple align(const CArray<std::uint8_t>& query, const CArray<std::uint8_t>& targets,
                const CArray<std::int64_t>& offsets, const CArray<std::int16_t>& code_of,
                const CArray<std::int8_t>& matrix, std::int64_t gap_open, std::int64_t gap_extend, bool global,
                const std::string& precision, bool device) {
  const AlignInput in = align_input(query, offsets, code_of, matrix, gap_open, gap_extend, global);
  if (targets.ndim() != 1) throw py::value_error("targets must be a 1-D byte array");
  if (offsets.data()[0] < 0 || offsets.data()[in.n] > targets.shape(0))
    throw py::value_error("offsets out of range of targets");
  const auto prec = precision_arg(precision);
  dpg::AlignRun run;
  {
    py::gil_scoped_release release;
    run = dpg::align_scores(in.p, code_of.data(), query.data(), static_cast<std::size_t>(query.shape(0)),
                            targets.data(), offsets.data(), in.n, prec, device);
  }
  py::array_t<std::int32_t> out(static_cast<py::ssize_t>(in.n));
  std::copy(run.scores.begin(), run.scores.end(), out.mutable_data());
  py::dict info;
  info["variant"] = run.variant;
  info["kernel_ms"] = run.kernel_ms;
  info["team"] = run.team;
  info["device"] = device;
  return py::make_tuple(out, info);
}

std::unique_ptr<dpg::AlignPlan> make_plan(const CArray<std::uint8_t>& query, const CArray<std::int64_t>& offsets,
                                          const CArray<std::int16_t>& code_of, const CArray<std::int8_t>& matrix,
                                          std::int64_t gap_open, std::int64_t gap_extend, bool global,
                                          const std::string& precision, bool device, int device_index) {
  const AlignInput in = align_input(query, offsets, code_of, matrix, gap_open, gap_extend, global);
  const auto prec = precision_arg(precision);
  if (device_index < 0) throw py::value_error("device_index must be >= 0, got " + std::to_string(device_index));
  py::gil_scoped_release release;
  return std::make_unique<dpg::AlignPlan>(in.p, code_of.data(), query.data(), static_cast<std::size_t>(query.shape(0)),
                                          offsets.data(), in.n, prec, device ? device_index : -1);
}

py::array_t<std::int32_t> plan_run_host(const dpg::AlignPlan& plan, const CArray<std::uint8_t>& targets) {
  if (targets.ndim() != 1 || static_cast<std::size_t>(targets.shape(0)) < plan.target_bytes())
    throw py::value_error("targets must be a 1-D byte array of at least " + std::to_string(plan.target_bytes()) +
                          " bytes");
  py::array_t<std::int32_t> out(static_cast<py::ssize_t>(plan.n_targets()));
  std::int32_t* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    with_status([&](int* s) { plan.run_host(targets.data(), o, s); });
  }
  return out;
}

void bind_align(py::module_& m) {
  auto align_fn = [](bool device) {
    return [device](const CArray<std::uint8_t>& q, const CArray<std::uint8_t>& t, const CArray<std::int64_t>& o,
                    const CArray<std::int16_t>& c, const CArray<std::int8_t>& mat, std::int64_t go, std::int64_t ge,
                    bool g, const std::string& prec) { return align(q, t, o, c, mat, go, ge, g, prec, device); };
  };
  m.def("dp_align_scores", align_fn(true), py::arg("query"), py::arg("targets"), py::arg("offsets"),
        py::arg("code_of"), py::arg("matrix"), py::arg("gap_open"), py::arg("gap_extend"), py::arg("global_"),
        py::arg("precision") = "auto", "Alignment scores on the GPU (DPX); returns (int32 scores, info).");
  m.def("dp_align_scores_host", align_fn(false), py::arg("query"), py::arg("targets"), py::arg("offsets"),
        py::arg("code_of"), py::arg("matrix"), py::arg("gap_open"), py::arg("gap_extend"), py::arg("global_"),
        py::arg("precision") = "auto",
        "The GPU alignment kernel's per-thread DPX code run on the host (same results, for tests).");

  py::class_<dpg::AlignPlan>(m, "DpAlignPlan",
                             "One query against targets of fixed lengths, laid out once; launch() is capturable")
      .def(py::init(&make_plan), py::arg("query"), py::arg("offsets"), py::arg("code_of"), py::arg("matrix"),
           py::arg("gap_open"), py::arg("gap_extend"), py::arg("global_"), py::arg("precision") = "auto",
           py::arg("device") = true, py::arg("device_index") = 0)
      .def_property_readonly("n_targets", &dpg::AlignPlan::n_targets)
      .def_property_readonly("target_bytes", &dpg::AlignPlan::target_bytes)
      .def_property_readonly("workspace_bytes", &dpg::AlignPlan::workspace_bytes)
      .def_property_readonly("variant", &dpg::AlignPlan::variant)
      .def_property_readonly("team", &dpg::AlignPlan::team)
      .def_property_readonly("on_device", &dpg::AlignPlan::on_device)
      .def("launch", [](const dpg::AlignPlan& plan, std::uintptr_t targets, std::uintptr_t scores,
                        std::uintptr_t workspace, std::size_t workspace_bytes, std::uintptr_t status,
                        py::object stream) {
             plan.launch(dev_ptr<const std::uint8_t>(targets, plan.target_bytes(), "targets"),
                         dev_ptr<std::int32_t>(scores, plan.n_targets(), "scores"),
                         dev_ptr<void>(workspace, plan.workspace_bytes(), "workspace"), workspace_bytes,
                         status_ptr(status), stream_arg(stream));
           }, py::arg("targets"), py::arg("scores"), py::arg("workspace"), py::arg("workspace_bytes"),
           py::arg("status"), py::arg("stream"))
      .def("run_host", &plan_run_host, py::arg("targets"),
           "The plan's gather / DPX / scatter code on the host; ValueError for a byte outside the alphabet");
}

// ------------------------------------------------------------------ other kernels, host arrays
template <class T, class Tot>
py::tuple path(const CArray<T>& cost, bool device) {
  return si::py_bind::dp_shapes::optimal_path<T, Tot>(
      cost, [&](const T* c, std::size_t B, std::size_t R, std::size_t C, Tot* t, std::int32_t* p) {
        if (device) {
          if constexpr (std::is_same<T, float>::value) dpg::optimal_path_f32(c, B, R, C, t, p);
          else dpg::optimal_path_i32(c, B, R, C, t, p);
          return;
        }
        with_status([&](int* s) {
          if constexpr (std::is_same<T, float>::value) dpg::optimal_path_f32_host(c, B, R, C, t, p, s);
          else dpg::optimal_path_i32_host(c, B, R, C, t, p, s);
        });
      });
}

py::array_t<std::int32_t> fw(const CArray<std::int32_t>& w, bool device) {
  return si::py_bind::dp_shapes::floyd_warshall(w, [&](std::int32_t* d, std::size_t n) {
    if (device) return dpg::floyd_warshall_i32(d, n);
    with_status([&](int* s) { dpg::floyd_warshall_i32_host(d, n, s); });
  });
}

template <class T>
py::array_t<T> roll(const CArray<T>& x, std::int64_t window, bool want_max, bool device) {
  return si::py_bind::dp_shapes::rolling<T>(
      x, window, [&](const T* in, std::size_t B, std::size_t n, std::size_t win, T* out) {
        if (device) {
          if constexpr (std::is_same<T, float>::value) dpg::rolling_minmax_f32(in, B, n, win, want_max, out);
          else dpg::rolling_minmax_i32(in, B, n, win, want_max, out);
          return;
        }
        with_status([&](int* s) {
          if constexpr (std::is_same<T, float>::value) dpg::rolling_minmax_f32_host(in, B, n, win, want_max, out, s);
          else dpg::rolling_minmax_i32_host(in, B, n, win, want_max, out, s);
        });
      });
}

py::array_t<double> dtw(const CArray<float>& a, const CArray<float>& b, long band, bool device) {
  return si::py_bind::dp_shapes::dtw(
      a, b, [&](const float* pa, const float* pb, std::size_t B, std::size_t la, std::size_t lb, double* out) {
        if (device) return dpg::dtw_f32(pa, pb, B, la, lb, band, out);
        with_status([&](int* s) { dpg::dtw_f32_host(pa, pb, B, la, lb, band, out, s); });
      });
}

void bind_host_arrays(py::module_& m) {
  for (bool device : {true, false}) {
    const std::string sfx = device ? "" : "_host";
    m.def(("dp_optimal_path_i32" + sfx).c_str(),
          [device](const CArray<std::int32_t>& c) { return path<std::int32_t, std::int64_t>(c, device); },
          py::arg("cost"));
    m.def(("dp_optimal_path_f32" + sfx).c_str(),
          [device](const CArray<float>& c) { return path<float, double>(c, device); }, py::arg("cost"));
    m.def(("dp_floyd_warshall_i32" + sfx).c_str(), [device](const CArray<std::int32_t>& w) { return fw(w, device); },
          py::arg("weights"));
    m.def(("dp_rolling_minmax_i32" + sfx).c_str(),
          [device](const CArray<std::int32_t>& x, std::int64_t w, bool mx) { return roll<std::int32_t>(x, w, mx, device); },
          py::arg("x"), py::arg("window"), py::arg("want_max"));
    m.def(("dp_rolling_minmax_f32" + sfx).c_str(),
          [device](const CArray<float>& x, std::int64_t w, bool mx) { return roll<float>(x, w, mx, device); },
          py::arg("x"), py::arg("window"), py::arg("want_max"));
    m.def(("dp_dtw_f32" + sfx).c_str(),
          [device](const CArray<float>& a, const CArray<float>& b, long band) { return dtw(a, b, band, device); },
          py::arg("a"), py::arg("b"), py::arg("band") = -1);
  }
}

// ------------------------------------------------------------------ launchers (device pointers)
void bind_launchers(py::module_& m) {
  using U = std::uintptr_t;
  m.def("dp_status_message", &dpg::status_message, py::arg("bits"),
        "The ValueError message for status bits set by the DP kernels ('' for 0)");
  m.def("dp_optimal_path_workspace_bytes", &dpg::optimal_path_workspace_bytes, py::arg("f32"), py::arg("batch"),
        py::arg("rows"), py::arg("cols"));
  m.def("dp_dtw_workspace_bytes", &dpg::dtw_workspace_bytes, py::arg("batch"), py::arg("lb"));
  m.def("dp_launch_optimal_path", [](bool f32, U cost, std::size_t B, std::size_t R, std::size_t C, U total, U path,
                                     U ws, std::size_t ws_bytes, U status, py::object stream) {
          const std::size_t cells = B * R * C;
          if (f32)
            dpg::launch_optimal_path_f32(dev_ptr<const float>(cost, cells, "cost"), B, R, C,
                                         dev_ptr<double>(total, B, "total"), dev_ptr<std::int32_t>(path, B * C, "path"),
                                         dev_ptr<void>(ws, B, "workspace"), ws_bytes, status_ptr(status),
                                         stream_arg(stream));
          else
            dpg::launch_optimal_path_i32(dev_ptr<const std::int32_t>(cost, cells, "cost"), B, R, C,
                                         dev_ptr<std::int64_t>(total, B, "total"),
                                         dev_ptr<std::int32_t>(path, B * C, "path"), dev_ptr<void>(ws, B, "workspace"),
                                         ws_bytes, status_ptr(status), stream_arg(stream));
        },
        py::arg("f32"), py::arg("cost"), py::arg("batch"), py::arg("rows"), py::arg("cols"), py::arg("total"),
        py::arg("path"), py::arg("workspace"), py::arg("workspace_bytes"), py::arg("status"), py::arg("stream"));
  m.def("dp_launch_floyd_warshall_i32", [](U d, std::size_t n, U status, py::object stream) {
          dpg::launch_floyd_warshall_i32(dev_ptr<std::int32_t>(d, n * n, "dist"), n, status_ptr(status),
                                         stream_arg(stream));
        },
        py::arg("dist"), py::arg("n"), py::arg("status"), py::arg("stream"));
  m.def("dp_launch_rolling_minmax", [](bool f32, U x, std::size_t B, std::size_t n, std::size_t window,
                                       bool want_max, U out, U status, py::object stream) {
          const std::size_t nout = window >= 1 && window <= n ? B * (n - window + 1) : 0;
          if (f32)
            dpg::launch_rolling_minmax_f32(dev_ptr<const float>(x, B * n, "x"), B, n, window, want_max,
                                           dev_ptr<float>(out, nout, "out"), status_ptr(status), stream_arg(stream));
          else
            dpg::launch_rolling_minmax_i32(dev_ptr<const std::int32_t>(x, B * n, "x"), B, n, window, want_max,
                                           dev_ptr<std::int32_t>(out, nout, "out"), status_ptr(status),
                                           stream_arg(stream));
        },
        py::arg("f32"), py::arg("x"), py::arg("batch"), py::arg("n"), py::arg("window"), py::arg("want_max"),
        py::arg("out"), py::arg("status"), py::arg("stream"));
  m.def("dp_launch_dtw_f32", [](U a, U b, std::size_t B, std::size_t la, std::size_t lb, long band, U out, U ws,
                                std::size_t ws_bytes, U status, py::object stream) {
          dpg::launch_dtw_f32(dev_ptr<const float>(a, B * la, "a"), dev_ptr<const float>(b, B * lb, "b"), B, la, lb,
                              band, dev_ptr<double>(out, B, "out"), dev_ptr<void>(ws, B, "workspace"), ws_bytes,
                              status_ptr(status), stream_arg(stream));
        },
        py::arg("a"), py::arg("b"), py::arg("batch"), py::arg("la"), py::arg("lb"), py::arg("band"), py::arg("out"),
        py::arg("workspace"), py::arg("workspace_bytes"), py::arg("status"), py::arg("stream"));
}

}  // namespace

SI_REGISTER_BINDINGS(dp) {
  bind_align(m);
  bind_host_arrays(m);
  bind_launchers(m);
}
