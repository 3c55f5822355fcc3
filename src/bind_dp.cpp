// Bindings of the CPU dynamic-programming kernels (cpp/gpu_accelerator/dp):
// alignment scores, optimal path, Floyd-Warshall, rolling min/max, DTW.
// Inputs are checked with the GIL held; the kernels run without it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "args.hpp"
#include "bindings.hpp"
#include "common/parallel.hpp"
#include "dp_bind_shapes.hpp"
#include "common/cpu_features.hpp"
#include "gpu_accelerator/dp/dp_align.hpp"
#include "gpu_accelerator/dp/dp_misc.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

using simd::Level;

Level dp_level_arg(const py::handle& obj) {
  if (obj.is_none()) return simd::active_level();
  if (!py::isinstance<py::str>(obj)) throw py::type_error("simd must be a str or None, got " + py_type_name(obj));
  const auto name = obj.cast<std::string>();
  auto level = simd::parse_level(name);
  if (!level) throw py::value_error("unknown SIMD level '" + name + "': use scalar, avx2 or avx512");
  return *level;
}

using dp_shapes::CArray;

// A user's thread count (0: all cores): an int within [0, si::max_threads()].
int threads_arg(const py::handle& obj) {
  const int threads = int_arg<int>(obj, "threads", 0);
  si::check_thread_count(threads);
  return threads;
}

py::tuple align_scores(const CArray<std::uint8_t>& query, const CArray<std::uint8_t>& targets,
                       const CArray<std::int64_t>& offsets, const CArray<std::int16_t>& code_of,
                       const CArray<std::int8_t>& matrix, const py::object& gap_open_obj,
                       const py::object& gap_extend_obj, const py::object& global_obj, const py::object& threads_obj,
                       const py::object& level_obj) {
  // Penalties are costs (>= 0); above 2**24 no 32-bit score could hold a gap.
  const auto gap_open = int_arg<std::int32_t>(gap_open_obj, "gap_open", 0, 1 << 24);
  const auto gap_extend = int_arg<std::int32_t>(gap_extend_obj, "gap_extend", 0, 1 << 24);
  const bool global = bool_arg(global_obj, "global_");
  const int threads = threads_arg(threads_obj);
  const Level lvl = dp_level_arg(level_obj);
  if (query.ndim() != 1 || targets.ndim() != 1) throw py::value_error("query and targets must be 1-D byte arrays");
  if (offsets.ndim() != 1 || offsets.shape(0) < 1) throw py::value_error("offsets must be 1-D with n_targets + 1 entries");
  if (code_of.ndim() != 1 || code_of.shape(0) != 256) throw py::value_error("code_of must have 256 entries");
  if (matrix.ndim() != 2 || matrix.shape(0) != matrix.shape(1) || matrix.shape(0) < 1)
    throw py::value_error("substitution matrix must be square K x K, got shape " +
                          py::str(py::tuple(py::cast(std::vector<py::ssize_t>(matrix.shape(), matrix.shape() + matrix.ndim())))).cast<std::string>());
  const auto n = static_cast<std::size_t>(offsets.shape(0) - 1);
  const std::int64_t* off = offsets.data();
  if (off[0] < 0 || off[n] > targets.shape(0)) throw py::value_error("offsets out of range of targets");
  dp::AlignParams p;
  p.alphabet_size = static_cast<int>(matrix.shape(0));
  p.matrix = matrix.data();
  p.gap_open = gap_open;
  p.gap_extend = gap_extend;
  p.global = global;
  dp::AlignStats stats;
  std::vector<std::int32_t> scores;
  {
    py::gil_scoped_release release;
    scores = dp::align_scores(p, code_of.data(), query.data(), static_cast<std::size_t>(query.shape(0)),
                              targets.data(), off, n, threads, lvl, &stats);
  }
  py::array_t<std::int32_t> out(static_cast<py::ssize_t>(n));
  std::copy(scores.begin(), scores.end(), out.mutable_data());
  py::dict info;
  info["simd"] = simd::level_name(stats.level);
  info["lanes"] = stats.lanes;
  info["recomputed"] = stats.recomputed;
  return py::make_tuple(out, info);
}

template <class T, class Acc>
py::tuple optimal_path(const CArray<T>& cost, const py::object& threads_obj,
                       void (*fn)(const T*, std::size_t, std::size_t, std::size_t, Acc*, std::int32_t*, int)) {
  const int threads = threads_arg(threads_obj);
  return dp_shapes::optimal_path<T, Acc>(cost, [&](const T* c, std::size_t B, std::size_t R, std::size_t C, Acc* t,
                                                   std::int32_t* p) { fn(c, B, R, C, t, p, threads); });
}

py::array_t<std::int32_t> floyd_warshall(const CArray<std::int32_t>& w, const py::object& threads_obj,
                                         const py::object& level) {
  const int threads = threads_arg(threads_obj);
  const Level lvl = dp_level_arg(level);
  return dp_shapes::floyd_warshall(w, [&](std::int32_t* d, std::size_t n) { dp::floyd_warshall_i32(d, n, threads, lvl); });
}

template <class T>
py::array_t<T> rolling(const CArray<T>& x, const py::object& window_obj, const py::object& want_max_obj,
                       const py::object& threads_obj,
                       void (*fn)(const T*, std::size_t, std::size_t, std::size_t, bool, T*, int)) {
  const auto window = int_arg<std::int64_t>(window_obj, "window");
  const bool want_max = bool_arg(want_max_obj, "want_max");
  const int threads = threads_arg(threads_obj);
  return dp_shapes::rolling<T>(x, window, [&](const T* in, std::size_t B, std::size_t n, std::size_t win, T* out) {
    fn(in, B, n, win, want_max, out, threads);
  });
}

py::array_t<double> dtw(const CArray<float>& a, const CArray<float>& b, const py::object& band_obj,
                        const py::object& threads_obj) {
  // band: -1 (no band) or a width; a width beyond any series length is no band either.
  const long band = int_arg<long>(band_obj, "band", -1);
  const int threads = threads_arg(threads_obj);
  return dp_shapes::dtw(a, b, [&](const float* pa, const float* pb, std::size_t B, std::size_t la, std::size_t lb,
                                  double* out) { dp::dtw_f32(pa, pb, B, la, lb, band, out, threads); });
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(dp) {
  using namespace si::py_bind;
  m.def("dp_align_scores", &align_scores, py::arg("query"), py::arg("targets"), py::arg("offsets"),
        py::arg("code_of"), py::arg("matrix"), py::arg("gap_open"), py::arg("gap_extend"), py::arg("global_"),
        py::arg("threads") = 0, py::arg("simd") = py::none(),
        "Alignment scores (Smith-Waterman, or Needleman-Wunsch when global_) of one query against "
        "concatenated targets; returns (int32 scores, info dict).");
  m.def("dp_optimal_path_i32", [](const CArray<std::int32_t>& c, const py::object& threads) {
          return optimal_path<std::int32_t, std::int64_t>(c, threads, &si::dp::optimal_path_i32); },
        py::arg("cost"), py::arg("threads") = 0, "Optimal path of int32 costs (batch, rows, cols): (int64 totals, int32 paths).");
  m.def("dp_optimal_path_f32", [](const CArray<float>& c, const py::object& threads) {
          return optimal_path<float, double>(c, threads, &si::dp::optimal_path_f32); },
        py::arg("cost"), py::arg("threads") = 0, "Optimal path of float32 costs (batch, rows, cols): (float64 totals, int32 paths).");
  m.def("dp_floyd_warshall_i32", &floyd_warshall, py::arg("weights"), py::arg("threads") = 0,
        py::arg("simd") = py::none(),
        "All-pairs shortest paths of int32 weights; dp_no_edge marks a missing edge.");
  m.attr("dp_no_edge") = si::dp::kNoEdge;
  m.def("dp_rolling_minmax_i32", [](const CArray<std::int32_t>& x, const py::object& w, const py::object& mx, const py::object& threads) {
          return rolling<std::int32_t>(x, w, mx, threads, &si::dp::rolling_minmax_i32); },
        py::arg("x"), py::arg("window"), py::arg("want_max"), py::arg("threads") = 0);
  m.def("dp_rolling_minmax_f32", [](const CArray<float>& x, const py::object& w, const py::object& mx, const py::object& threads) {
          return rolling<float>(x, w, mx, threads, &si::dp::rolling_minmax_f32); },
        py::arg("x"), py::arg("window"), py::arg("want_max"), py::arg("threads") = 0);
  m.def("dp_dtw_f32", &dtw, py::arg("a"), py::arg("b"), py::arg("band") = -1, py::arg("threads") = 0,
        "DTW distances (|a_i - b_j| costs, float64) of paired float32 series (batch, la), (batch, lb).");
}
