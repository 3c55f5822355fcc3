// GPU bindings of the dynamic-programming kernels (cpp/gpu_accelerator/dp/dp_cuda.cu),
// in superinstance._cuda. Every dp_* function raises GpuUnavailable (with the
// reason) when no CUDA device can run our kernels; the *_host functions run
// the same per-cell DPX code on the CPU (for tests without a GPU).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "dp_bind_shapes.hpp"
#include "gpu_accelerator/dp/dp_cuda.hpp"

namespace py = pybind11;

namespace {

using si::py_bind::dp_shapes::CArray;

si::dp::gpu::Precision precision_arg(const std::string& s) {
  if (s == "auto") return si::dp::gpu::Precision::automatic;
  if (s == "s32") return si::dp::gpu::Precision::s32;
  if (s == "s16x2") return si::dp::gpu::Precision::s16x2;
  throw py::value_error("precision must be 'auto', 's32' or 's16x2', got '" + s + "'");
}

py::tuple align(const CArray<std::uint8_t>& query, const CArray<std::uint8_t>& targets,
                const CArray<std::int64_t>& offsets, const CArray<std::int16_t>& code_of,
                const CArray<std::int8_t>& matrix, std::int64_t gap_open, std::int64_t gap_extend, bool global,
                const std::string& precision, bool device) {
  if (query.ndim() != 1 || targets.ndim() != 1) throw py::value_error("query and targets must be 1-D byte arrays");
  if (offsets.ndim() != 1 || offsets.shape(0) < 1) throw py::value_error("offsets must be 1-D with n_targets + 1 entries");
  if (code_of.ndim() != 1 || code_of.shape(0) != 256) throw py::value_error("code_of must have 256 entries");
  if (matrix.ndim() != 2 || matrix.shape(0) != matrix.shape(1) || matrix.shape(0) < 1)
    throw py::value_error("substitution matrix must be square K x K");
  if (gap_open < 0 || gap_extend < 0) throw py::value_error("gap penalties must be >= 0 (they are subtracted)");
  if (gap_open > (1 << 24) || gap_extend > (1 << 24)) throw py::value_error("gap penalties must be <= 2**24");
  const auto n = static_cast<std::size_t>(offsets.shape(0) - 1);
  if (offsets.data()[0] < 0 || offsets.data()[n] > targets.shape(0)) throw py::value_error("offsets out of range of targets");
  const auto prec = precision_arg(precision);
  si::dp::AlignParams p;
  p.alphabet_size = static_cast<int>(matrix.shape(0));
  p.matrix = matrix.data();
  p.gap_open = static_cast<std::int32_t>(gap_open);
  p.gap_extend = static_cast<std::int32_t>(gap_extend);
  p.global = global;
  si::dp::gpu::AlignRun run;
  {
    py::gil_scoped_release release;
    run = si::dp::gpu::align_scores(p, code_of.data(), query.data(), static_cast<std::size_t>(query.shape(0)),
                                    targets.data(), offsets.data(), n, prec, device);
  }
  py::array_t<std::int32_t> out(static_cast<py::ssize_t>(n));
  std::copy(run.scores.begin(), run.scores.end(), out.mutable_data());
  py::dict info;
  info["variant"] = run.variant;
  info["kernel_ms"] = run.kernel_ms;
  info["team"] = run.team;
  info["device"] = device;
  return py::make_tuple(out, info);
}

template <class T, class Tot>
py::tuple path(const CArray<T>& cost, bool device,
               void (*fn)(const T*, std::size_t, std::size_t, std::size_t, Tot*, std::int32_t*, bool)) {
  return si::py_bind::dp_shapes::optimal_path<T, Tot>(
      cost, [&](const T* c, std::size_t B, std::size_t R, std::size_t C, Tot* t, std::int32_t* p) {
        fn(c, B, R, C, t, p, device);
      });
}

py::array_t<std::int32_t> fw(const CArray<std::int32_t>& w, bool device) {
  return si::py_bind::dp_shapes::floyd_warshall(
      w, [&](std::int32_t* d, std::size_t n) { si::dp::gpu::floyd_warshall_i32(d, n, device); });
}

template <class T>
py::array_t<T> roll(const CArray<T>& x, std::int64_t window, bool want_max, bool device,
                    void (*fn)(const T*, std::size_t, std::size_t, std::size_t, bool, T*, bool)) {
  return si::py_bind::dp_shapes::rolling<T>(
      x, window, [&](const T* in, std::size_t B, std::size_t n, std::size_t win, T* out) {
        fn(in, B, n, win, want_max, out, device);
      });
}

py::array_t<double> dtw(const CArray<float>& a, const CArray<float>& b, long band, bool device) {
  return si::py_bind::dp_shapes::dtw(
      a, b, [&](const float* pa, const float* pb, std::size_t B, std::size_t la, std::size_t lb, double* out) {
        si::dp::gpu::dtw_f32(pa, pb, B, la, lb, band, out, device);
      });
}

}  // namespace

SI_REGISTER_BINDINGS(dp) {
  m.def("dp_align_scores", [](const CArray<std::uint8_t>& q, const CArray<std::uint8_t>& t, const CArray<std::int64_t>& o,
                              const CArray<std::int16_t>& c, const CArray<std::int8_t>& mat, std::int64_t go,
                              std::int64_t ge, bool g, const std::string& prec) {
          return align(q, t, o, c, mat, go, ge, g, prec, true);
        },
        py::arg("query"), py::arg("targets"), py::arg("offsets"), py::arg("code_of"), py::arg("matrix"),
        py::arg("gap_open"), py::arg("gap_extend"), py::arg("global_"), py::arg("precision") = "auto",
        "Alignment scores on the GPU (DPX); returns (int32 scores, info).");
  m.def("dp_align_scores_host", [](const CArray<std::uint8_t>& q, const CArray<std::uint8_t>& t, const CArray<std::int64_t>& o,
                                   const CArray<std::int16_t>& c, const CArray<std::int8_t>& mat, std::int64_t go,
                                   std::int64_t ge, bool g, const std::string& prec) {
          return align(q, t, o, c, mat, go, ge, g, prec, false);
        },
        py::arg("query"), py::arg("targets"), py::arg("offsets"), py::arg("code_of"), py::arg("matrix"),
        py::arg("gap_open"), py::arg("gap_extend"), py::arg("global_"), py::arg("precision") = "auto",
        "The GPU alignment kernel's per-thread DPX code run on the host (same results, for tests).");

  for (bool device : {true, false}) {
    const std::string sfx = device ? "" : "_host";
    m.def(("dp_optimal_path_i32" + sfx).c_str(), [device](const CArray<std::int32_t>& c) {
            return path<std::int32_t, std::int64_t>(c, device, &si::dp::gpu::optimal_path_i32); }, py::arg("cost"));
    m.def(("dp_optimal_path_f32" + sfx).c_str(), [device](const CArray<float>& c) {
            return path<float, double>(c, device, &si::dp::gpu::optimal_path_f32); }, py::arg("cost"));
    m.def(("dp_floyd_warshall_i32" + sfx).c_str(), [device](const CArray<std::int32_t>& w) { return fw(w, device); },
          py::arg("weights"));
    m.def(("dp_rolling_minmax_i32" + sfx).c_str(), [device](const CArray<std::int32_t>& x, std::int64_t w, bool mx) {
            return roll<std::int32_t>(x, w, mx, device, &si::dp::gpu::rolling_minmax_i32); },
          py::arg("x"), py::arg("window"), py::arg("want_max"));
    m.def(("dp_rolling_minmax_f32" + sfx).c_str(), [device](const CArray<float>& x, std::int64_t w, bool mx) {
            return roll<float>(x, w, mx, device, &si::dp::gpu::rolling_minmax_f32); },
          py::arg("x"), py::arg("window"), py::arg("want_max"));
    m.def(("dp_dtw_f32" + sfx).c_str(), [device](const CArray<float>& a, const CArray<float>& b, long band) {
            return dtw(a, b, band, device); }, py::arg("a"), py::arg("b"), py::arg("band") = -1);
  }
}
