// Bindings of cpp/common: CPU features and SIMD levels, the shared vector
// kernels, the latency histogram, saved-file I/O, platform probes, build facts.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "args.hpp"
#include "bindings.hpp"
#include "common/atomic_file.hpp"
#include "common/build_info.hpp"
#include "common/cpu_features.hpp"
#include "common/crc32c.hpp"
#include "common/histogram.hpp"
#include "common/platform.hpp"
#include "common/vector_kernels.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

using simd::Level;

// ---------------------------------------------------------------- features
py::dict features_dict() {
  const auto& f = simd::cpu_features();
  py::dict d;
  d["sse4.2"] = f.sse42;
  d["avx"] = f.avx;
  d["avx2"] = f.avx2;
  d["fma"] = f.fma;
  d["f16c"] = f.f16c;
  d["avx512f"] = f.avx512f;
  d["avx512bw"] = f.avx512bw;
  d["avx512vl"] = f.avx512vl;
  d["avx512dq"] = f.avx512dq;
  d["avx512vnni"] = f.avx512vnni;
  d["neon"] = f.neon;
  return d;
}

py::dict simd_dict() {
  py::list available;
  for (Level l : simd::available_levels()) available.append(simd::level_name(l));
  py::dict d;
  d["arch"] = simd::cpu_features().arch;
  d["features"] = features_dict();
  d["simd_detected"] = simd::level_name(simd::detected_level());
  d["simd_level"] = simd::level_name(simd::active_level());
  d["simd_available"] = available;
  d["simd_requested"] = simd::requested_level();
  d["simd_warning"] = simd::override_warning();
  return d;
}

Level level_arg(const std::optional<std::string>& name) {
  if (!name) return simd::active_level();
  auto level = simd::parse_level(*name);
  if (!level)
    throw py::value_error("unknown SIMD level '" + *name + "': use scalar, avx2 or avx512");
  return *level;
}

// ---------------------------------------------------------------- kernels
using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;

void require_1d(const F32Array& a, const char* name) {
  if (a.ndim() != 1)
    throw py::value_error(std::string(name) + " must be 1-D, got " + std::to_string(a.ndim()) + "-D");
}

float pair_kernel(const F32Array& a, const F32Array& b, const std::optional<std::string>& level,
                  bool l2) {
  require_1d(a, "a");
  require_1d(b, "b");
  if (a.shape(0) != b.shape(0))
    throw py::value_error("a and b must have the same length, got " + std::to_string(a.shape(0)) +
                          " and " + std::to_string(b.shape(0)));
  const auto& k = simd::vector_kernels(level_arg(level));
  py::gil_scoped_release release;
  return l2 ? k.l2sq(a.data(), b.data(), a.shape(0)) : k.dot(a.data(), b.data(), a.shape(0));
}

py::array_t<float> rows_kernel(const F32Array& q, const F32Array& rows,
                               const std::optional<std::string>& level, bool l2) {
  require_1d(q, "query");
  if (rows.ndim() != 2) throw py::value_error("rows must be 2-D (n, dim)");
  if (rows.shape(1) != q.shape(0))
    throw py::value_error("rows have dim " + std::to_string(rows.shape(1)) + ", query has " +
                          std::to_string(q.shape(0)));
  const auto& k = simd::vector_kernels(level_arg(level));
  const auto n = static_cast<std::size_t>(rows.shape(0));
  const auto dim = static_cast<std::size_t>(rows.shape(1));
  py::array_t<float> out(static_cast<py::ssize_t>(n));
  float* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    (l2 ? k.l2sq_rows : k.dot_rows)(q.data(), rows.data(), n, dim, dim, o);
  }
  return out;
}

// ---------------------------------------------------------------- histogram
std::int64_t checked_ns(double v) {
  if (std::isnan(v)) throw py::value_error("latency histogram: value is NaN");
  if (std::isinf(v)) throw py::value_error("latency histogram: value is infinite");
  if (v < 0) throw py::value_error("latency histogram: value must be >= 0 ns, got " + std::to_string(v));
  if (v >= 9.2e18) throw py::value_error("latency histogram: value too large for int64 ns");
  return static_cast<std::int64_t>(std::llround(v));
}

void record_many(LatencyHistogram& h, const py::object& values_obj) {
  if (!py::isinstance<py::array>(values_obj))
    throw py::type_error("values_ns must be a numpy array of integers or floats, got " + py_type_name(values_obj));
  const auto values = py::reinterpret_borrow<py::array>(values_obj);
  if (values.ndim() != 1)
    throw py::value_error("values_ns must be 1-D, got " + std::to_string(values.ndim()) + "-D");
  const char kind = values.dtype().kind();
  if (kind == 'i' || kind == 'u') {
    auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(values);
    const std::int64_t* p = a.data();
    const auto n = static_cast<std::size_t>(a.size());
    for (std::size_t i = 0; i < n; ++i)  // validate all before storing any
      if (p[i] < 0)
        throw py::value_error("latency histogram: value must be >= 0 ns, got " +
                              std::to_string(p[i]) + " at position " + std::to_string(i));
    py::gil_scoped_release release;
    for (std::size_t i = 0; i < n; ++i) h.record(p[i]);
  } else if (kind == 'f') {
    auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(values);
    const double* p = a.data();
    const auto n = static_cast<std::size_t>(a.size());
    std::vector<std::int64_t> ns(n);
    for (std::size_t i = 0; i < n; ++i) {
      try {
        ns[i] = checked_ns(p[i]);
      } catch (const py::value_error& e) {
        throw py::value_error(std::string(e.what()) + " at position " + std::to_string(i));
      }
    }
    py::gil_scoped_release release;
    for (std::int64_t v : ns) h.record(v);
  } else {
    throw py::type_error("latency histogram: values must be an integer or float array, got dtype " +
                         py::str(values.dtype()).cast<std::string>());
  }
}

py::dict histogram_summary(const LatencyHistogram& h) {
  const auto p = h.percentiles({50, 95, 99, 99.9});
  py::dict d;
  d["count"] = h.count();
  d["min"] = h.min();
  d["p50"] = p[0];
  d["p95"] = p[1];
  d["p99"] = p[2];
  d["p999"] = p[3];
  d["max"] = h.max();
  d["mean"] = h.mean();
  return d;
}

void bind_histogram(py::module_& m) {
  py::class_<LatencyHistogram>(m, "LatencyHistogram", R"doc(
Fixed-memory log-linear histogram of non-negative nanosecond values.

Percentiles are within 0.4% of the exact nearest-rank value; min, max and
mean are exact. Values >= 2**48 ns share the last bucket.
)doc")
      .def(py::init<>())
      .def("record", [](LatencyHistogram& h, const py::object& v, const py::object& count) {
             const bool integer = PyIndex_Check(v.ptr()) && !py::isinstance<py::bool_>(v);
             const std::int64_t ns = integer ? int_arg<std::int64_t>(v, "value_ns")
                                             : checked_ns(float_arg(v, "value_ns", /*allow_inf=*/true));
             if (ns < 0) throw py::value_error("latency histogram: value must be >= 0 ns, got " + std::to_string(ns));
             h.record(ns, int_arg<std::uint64_t>(count, "count"));
           },
           py::arg("value_ns"), py::arg("count") = 1)
      .def("record_batch", &record_many, py::arg("values_ns"),
           "Record every value of an integer or float array; nothing is stored if any is invalid.")
      .def("merge", [](LatencyHistogram& h, const py::object& other) {
             if (!py::isinstance<LatencyHistogram>(other))
               throw py::type_error("other must be a LatencyHistogram, got " + py_type_name(other));
             h.merge(other.cast<const LatencyHistogram&>());
           }, py::arg("other"))
      .def("reset", &LatencyHistogram::reset)
      .def("percentile", [](const LatencyHistogram& h, const py::object& q) {
             return h.percentile(float_arg(q, "percentile q"));
           }, py::arg("q"))
      .def("percentiles", [](const LatencyHistogram& h, const py::object& qs_obj) {
             if (py::isinstance<py::str>(qs_obj) || py::isinstance<py::bytes>(qs_obj) ||
                 !py::isinstance<py::iterable>(qs_obj))
               throw py::type_error("qs must be a sequence of numbers, got " + py_type_name(qs_obj));
             std::vector<double> qs;
             for (const auto& q : py::reinterpret_borrow<py::iterable>(qs_obj)) qs.push_back(float_arg(q, "percentile in qs"));
             auto v = h.percentiles(qs);
             return py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
           }, py::arg("qs"))
      .def("summary", &histogram_summary,
           "dict with count, min, p50, p95, p99, p999, max and mean (ns)")
      .def("bucket_counts", [](const LatencyHistogram& h) {
             const auto& b = h.buckets();
             return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(b.size()), b.data());
           })
      .def_property_readonly("count", &LatencyHistogram::count)
      .def_property_readonly("min", &LatencyHistogram::min)
      .def_property_readonly("max", &LatencyHistogram::max)
      .def_property_readonly("mean", &LatencyHistogram::mean)
      .def("__len__", [](const LatencyHistogram& h) { return h.count(); })
      .def("__repr__", [](const LatencyHistogram& h) {
        if (h.count() == 0) return std::string("LatencyHistogram(count=0)");
        const auto p = h.percentiles({50, 99});
        return "LatencyHistogram(count=" + std::to_string(h.count()) + ", p50=" +
               std::to_string(static_cast<long long>(p[0])) + "ns, p99=" +
               std::to_string(static_cast<long long>(p[1])) + "ns, max=" + std::to_string(h.max()) + "ns)";
      })
      .def_readonly_static("n_buckets", &LatencyHistogram::kBucketCount);
}

// ---------------------------------------------------------------- files
py::buffer_info contiguous_bytes(const py::object& data) {
  if (!PyObject_CheckBuffer(data.ptr()))
    throw py::type_error("data must be bytes or another buffer (bytearray, memoryview, numpy array), got " +
                         py_type_name(data));
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(data).request();
  bool contiguous = true;
  py::ssize_t stride = info.itemsize;
  for (py::ssize_t d = info.ndim - 1; d >= 0; --d) {
    if (info.shape[d] > 1 && info.strides[d] != stride) contiguous = false;
    stride *= info.shape[d];
  }
  if (!contiguous) throw py::value_error("data must be a C-contiguous buffer");
  return info;
}

py::dict header_dict(const io::FileHeader& h) {
  py::dict d;
  d["kind"] = h.kind;
  d["version"] = h.version;
  d["payload_size"] = h.payload_size;
  d["payload_crc32c"] = h.payload_crc;
  d["flags"] = h.flags;
  return d;
}

class PyAtomicWriter {
 public:
  PyAtomicWriter(const py::object& path, const py::object& kind, const py::object& version,
                 const py::object& flags)
      : w_(path_arg(path), str_arg(kind, "kind"), int_arg<std::uint32_t>(version, "version"),
           int_arg<std::uint32_t>(flags, "flags")) {}

  void write(const py::object& data) {
    py::buffer_info info = contiguous_bytes(data);
    const auto n = static_cast<std::size_t>(info.itemsize * info.size);
    py::gil_scoped_release release;
    w_.write(info.ptr, n);
  }
  void commit() {
    py::gil_scoped_release release;
    w_.commit();
  }
  void abort() { w_.abort(); }
  bool closed() const { return !w_.open(); }
  std::uint64_t bytes_written() const { return w_.bytes_written(); }

 private:
  io::AtomicFileWriter w_;
};

void bind_files(py::module_& m) {
  m.def("write_file_atomic",
        [](const py::object& path_obj, const py::object& kind_obj, const py::object& version_obj,
           const py::object& data, const py::object& flags_obj) {
          const std::string path = path_arg(path_obj);
          const std::string kind = str_arg(kind_obj, "kind");
          const auto version = int_arg<std::uint32_t>(version_obj, "version");
          const auto flags = int_arg<std::uint32_t>(flags_obj, "flags");
          py::buffer_info info = contiguous_bytes(data);
          const auto n = static_cast<std::size_t>(info.itemsize * info.size);
          py::gil_scoped_release release;
          io::write_file_atomic(path, kind, version, info.ptr, n, flags);
        },
        py::arg("path"), py::arg("kind"), py::arg("version"), py::arg("data"), py::arg("flags") = 0);
  m.def("read_file",
        [](const py::object& path_obj, const py::object& kind_obj, const py::object& max_version_obj) {
          // Reads straight into the bytes object: one copy from the page cache.
          const std::string path = path_arg(path_obj);
          const std::string kind = str_arg(kind_obj, "kind");
          const auto max_version = int_arg<std::uint32_t>(max_version_obj, "max_version");
          std::unique_ptr<io::FileReader> reader;
          {
            py::gil_scoped_release release;
            reader = std::make_unique<io::FileReader>(path, kind, max_version);
          }
          const io::FileHeader& h = reader->header();
          PyObject* raw = PyBytes_FromStringAndSize(nullptr, static_cast<py::ssize_t>(h.payload_size));
          if (raw == nullptr) throw py::error_already_set();
          py::bytes payload = py::reinterpret_steal<py::bytes>(raw);
          auto* dst = reinterpret_cast<unsigned char*>(PyBytes_AS_STRING(raw));
          {
            py::gil_scoped_release release;
            reader->read_payload(dst);
          }
          return py::make_tuple(header_dict(h), payload);
        },
        py::arg("path"), py::arg("kind"), py::arg("max_version"));
  m.def("read_header",
        [](const py::object& path_obj) {
          // Checks the header only (any kind, any version); the payload is not read.
          const std::string path = path_arg(path_obj);
          io::FileHeader h;
          {
            py::gil_scoped_release release;
            io::MappedFile f(path, "", UINT32_MAX, /*verify_checksum=*/false);
            h = f.header();
          }
          return header_dict(h);
        },
        py::arg("path"));
  m.def("crc32c", [](const py::object& data, const py::object& crc) {
          py::buffer_info info = contiguous_bytes(data);
          return si::crc32c(info.ptr, static_cast<std::size_t>(info.itemsize * info.size),
                            int_arg<std::uint32_t>(crc, "crc"));
        },
        py::arg("data"), py::arg("crc") = 0);
  py::class_<PyAtomicWriter>(m, "AtomicWriter")
      .def(py::init<const py::object&, const py::object&, const py::object&, const py::object&>(),
           py::arg("path"), py::arg("kind"), py::arg("version"), py::arg("flags") = 0)
      .def("write", &PyAtomicWriter::write, py::arg("data"))
      .def("commit", &PyAtomicWriter::commit)
      .def("abort", &PyAtomicWriter::abort)
      .def_property_readonly("closed", &PyAtomicWriter::closed)
      .def_property_readonly("bytes_written", &PyAtomicWriter::bytes_written);
}

// ---------------------------------------------------------------- platform
py::dict probe_dict(const platform::Probe& p) {
  py::dict d;
  d["ok"] = p.ok;
  d["errno"] = p.error_number;
  d["detail"] = p.detail;
  return d;
}

void bind_platform(py::module_& m) {
  m.def("probe_io_uring", [] { py::gil_scoped_release r; return platform::probe_io_uring(); });
  m.def("probe_sched_fifo", [](int prio) {
    if (prio < 1 || prio > 99) throw py::value_error("SCHED_FIFO priority must be in 1..99");
    py::gil_scoped_release r;
    return platform::probe_sched_fifo(prio);
  }, py::arg("priority") = 1);
  m.def("probe_mlock", [] { py::gil_scoped_release r; return platform::probe_mlock(); });
  m.def("timer_slack_ns", &platform::timer_slack_ns);
  py::class_<platform::Probe>(m, "Probe")
      .def_readonly("ok", &platform::Probe::ok)
      .def_readonly("errno", &platform::Probe::error_number)
      .def_readonly("detail", &platform::Probe::detail)
      .def("as_dict", &probe_dict)
      .def("__repr__", [](const platform::Probe& p) {
        return std::string("Probe(ok=") + (p.ok ? "True" : "False") + ", detail='" + p.detail + "')";
      });
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(common) {
  using namespace si;
  using namespace si::py_bind;
  m.attr("__version__") = build::version();
  m.def("build_info", [] {
    py::dict d;
    d["version"] = build::version();
    d["compiler"] = build::compiler();
    d["build_type"] = build::build_type();
    d["x86_kernels"] = build::x86_kernels_compiled();
    return d;
  });
  m.def("cpu_simd", &simd_dict, "CPU features and SIMD levels: detected, active, available");
  m.def("vector_dot", [](const F32Array& a, const F32Array& b, const std::optional<std::string>& level) {
          return pair_kernel(a, b, level, false);
        }, py::arg("a"), py::arg("b"), py::arg("level") = py::none());
  m.def("vector_l2sq", [](const F32Array& a, const F32Array& b, const std::optional<std::string>& level) {
          return pair_kernel(a, b, level, true);
        }, py::arg("a"), py::arg("b"), py::arg("level") = py::none());
  m.def("vector_dot_rows", [](const F32Array& q, const F32Array& rows, const std::optional<std::string>& level) {
          return rows_kernel(q, rows, level, false);
        }, py::arg("query"), py::arg("rows"), py::arg("level") = py::none());
  m.def("vector_l2sq_rows", [](const F32Array& q, const F32Array& rows, const std::optional<std::string>& level) {
          return rows_kernel(q, rows, level, true);
        }, py::arg("query"), py::arg("rows"), py::arg("level") = py::none());
  bind_histogram(m);
  bind_files(m);
  bind_platform(m);
}
