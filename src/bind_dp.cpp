// Bindings of the CPU dynamic-programming kernels (cpp/gpu_accelerator/dp):
// alignment scores, optimal path, Floyd-Warshall, rolling min/max, DTW.
// Inputs are checked with the GIL held; the kernels run without it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "bindings.hpp"
#include "common/cpu_features.hpp"
#include "gpu_accelerator/dp/dp_align.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

using simd::Level;

Level dp_level_arg(const std::optional<std::string>& name) {
  if (!name) return simd::active_level();
  auto level = simd::parse_level(*name);
  if (!level) throw py::value_error("unknown SIMD level '" + *name + "': use scalar, avx2 or avx512");
  return *level;
}

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

py::tuple align_scores(const CArray<std::uint8_t>& query, const CArray<std::uint8_t>& targets,
                       const CArray<std::int64_t>& offsets, const CArray<std::int16_t>& code_of,
                       const CArray<std::int8_t>& matrix, std::int64_t gap_open, std::int64_t gap_extend,
                       bool global, int threads, const std::optional<std::string>& level) {
  if (query.ndim() != 1 || targets.ndim() != 1) throw py::value_error("query and targets must be 1-D byte arrays");
  if (offsets.ndim() != 1 || offsets.shape(0) < 1) throw py::value_error("offsets must be 1-D with n_targets + 1 entries");
  if (code_of.ndim() != 1 || code_of.shape(0) != 256) throw py::value_error("code_of must have 256 entries");
  if (matrix.ndim() != 2 || matrix.shape(0) != matrix.shape(1) || matrix.shape(0) < 1)
    throw py::value_error("substitution matrix must be square K x K, got shape " +
                          py::str(py::tuple(py::cast(std::vector<py::ssize_t>(matrix.shape(), matrix.shape() + matrix.ndim())))).cast<std::string>());
  if (gap_open < 0 || gap_extend < 0)
    throw py::value_error("gap penalties must be >= 0 (they are subtracted), got gap_open=" + std::to_string(gap_open) +
                          ", gap_extend=" + std::to_string(gap_extend));
  if (gap_open > (1 << 24) || gap_extend > (1 << 24)) throw py::value_error("gap penalties must be <= 2**24");
  if (threads < 0) throw py::value_error("threads must be >= 0 (0 = all cores)");
  const auto n = static_cast<std::size_t>(offsets.shape(0) - 1);
  const std::int64_t* off = offsets.data();
  if (off[0] < 0 || off[n] > targets.shape(0)) throw py::value_error("offsets out of range of targets");
  dp::AlignParams p;
  p.alphabet_size = static_cast<int>(matrix.shape(0));
  p.matrix = matrix.data();
  p.gap_open = static_cast<std::int32_t>(gap_open);
  p.gap_extend = static_cast<std::int32_t>(gap_extend);
  p.global = global;
  const Level lvl = dp_level_arg(level);
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
  info["level"] = simd::level_name(stats.level);
  info["lanes"] = stats.lanes;
  info["recomputed"] = stats.recomputed;
  return py::make_tuple(out, info);
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(dp) {
  using namespace si::py_bind;
  m.def("dp_align_scores", &align_scores, py::arg("query"), py::arg("targets"), py::arg("offsets"),
        py::arg("code_of"), py::arg("matrix"), py::arg("gap_open"), py::arg("gap_extend"), py::arg("global_"),
        py::arg("threads") = 0, py::arg("level") = py::none(),
        "Alignment scores (Smith-Waterman, or Needleman-Wunsch when global_) of one query against "
        "concatenated targets; returns (int32 scores, info dict).");
}
