// GPU bindings of the dynamic-programming kernels (cpp/gpu_accelerator/dp/dp_cuda.cu),
// in superinstance._cuda. Every dp_* function raises GpuUnavailable (with the
// reason) when no CUDA device can run our kernels; the *_host functions run
// the same per-cell DPX code on the CPU (for tests without a GPU).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings.hpp"
#include "gpu_accelerator/dp/dp_cuda.hpp"

namespace py = pybind11;

namespace {

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

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
  info["device"] = device;
  return py::make_tuple(out, info);
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
}
