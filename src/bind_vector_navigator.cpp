// Bindings of cpp/vector_navigator: the VectorIndex class and kernel test hooks.
// Buffers are checked with the GIL held; the core runs with it released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "args.hpp"
#include "bindings.hpp"
#include "closable.hpp"
#include "common/cpu_features.hpp"
#include "common/parallel.hpp"
#include "vector_navigator/index.hpp"
#include "vector_navigator/flat_scan.hpp"
#include "vector_navigator/vn_kernels.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

using vn::Index;
using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;
using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;
using U64 = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>;
using I64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using U16 = py::array_t<std::uint16_t, py::array::c_style | py::array::forcecast>;
using I8 = py::array_t<std::int8_t, py::array::c_style | py::array::forcecast>;

vn::Metric parse_metric(const std::string& s) {
  if (s == "cosine") return vn::Metric::cosine;
  if (s == "ip") return vn::Metric::ip;
  if (s == "l2") return vn::Metric::l2;
  if (s == "custom") return vn::Metric::custom;
  throw py::value_error("unknown metric '" + s + "': use cosine, ip, l2 or a custom function");
}

vn::DType parse_dtype(const std::string& s) {
  if (s == "f32") return vn::DType::f32;
  if (s == "f16") return vn::DType::f16;
  if (s == "i8") return vn::DType::i8;
  throw py::value_error("unknown dtype '" + s + "': use f32, f16 or i8");
}

const char* dtype_name(vn::DType d) { return d == vn::DType::f32 ? "f32" : d == vn::DType::f16 ? "f16" : "i8"; }

vn::Kind parse_kind(const std::string& s) {
  if (s == "flat") return vn::Kind::flat;
  if (s == "hnsw") return vn::Kind::hnsw;
  throw py::value_error("unknown kind '" + s + "': use flat or hnsw");
}

void check_rows(const py::array& a, std::size_t dim, const char* what) {
  if (a.ndim() != 2)
    throw py::value_error(std::string(what) + " must be 2-D (n, dim), got " + std::to_string(a.ndim()) + "-D");
  if (static_cast<std::size_t>(a.shape(1)) != dim)
    throw py::value_error(std::string(what) + " have dim " + std::to_string(a.shape(1)) + ", the index has dim " +
                          std::to_string(dim));
}

template <class A>
void check_len(const A& a, std::size_t n, const char* what) {
  if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != n)
    throw py::value_error(std::string(what) + " must be 1-D with " + std::to_string(n) + " entries");
}

vn::CustomFn fn_from(std::uintptr_t addr) { return reinterpret_cast<vn::CustomFn>(addr); }

// The payload arrays of add(), checked against n rows.
vn::Payload payload_of(std::size_t n, const std::optional<F32>& vad, const std::optional<F64>& ts,
                       const std::optional<I64>& labels) {
  vn::Payload p;
  if (vad) {
    if (vad->ndim() != 2 || static_cast<std::size_t>(vad->shape(0)) != n || vad->shape(1) != 3)
      throw py::value_error("sentiment must have shape (" + std::to_string(n) + ", 3)");
    p.vad = vad->data();
  }
  if (ts) {
    check_len(*ts, n, "timestamps");
    p.timestamps = ts->data();
  }
  if (labels) {
    check_len(*labels, n, "labels");
    p.labels = labels->data();
  }
  return p;
}

int threads_arg(const py::object& threads) { return int_arg<int>(threads, "threads", 0); }

py::array_t<std::uint64_t> add(Index& ix, const F32& vectors, const std::optional<U64>& ids,
                               const std::optional<F32>& vad, const std::optional<F64>& ts,
                               const std::optional<I64>& labels, const py::object& threads_obj) {
  check_rows(vectors, ix.dim(), "vectors");
  const auto n = static_cast<std::size_t>(vectors.shape(0));
  if (ids) check_len(*ids, n, "ids");
  const vn::Payload p = payload_of(n, vad, ts, labels);
  const int threads = threads_arg(threads_obj);
  std::vector<std::uint64_t> assigned;
  {
    py::gil_scoped_release release;
    ix.add(vectors.data(), n, ids ? ids->data() : nullptr, p, threads, ids ? nullptr : &assigned);
  }
  if (ids) return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n), ids->data());
  return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(assigned.size()), assigned.data());
}

void check_add(const Index& ix, const F32& vectors, const std::optional<U64>& ids, const std::optional<F32>& vad,
               const std::optional<F64>& ts, const std::optional<I64>& labels, const py::object& threads_obj) {
  check_rows(vectors, ix.dim(), "vectors");
  const auto n = static_cast<std::size_t>(vectors.shape(0));
  if (ids) check_len(*ids, n, "ids");
  const vn::Payload p = payload_of(n, vad, ts, labels);
  const int threads = threads_arg(threads_obj);
  py::gil_scoped_release release;
  ix.check_add(vectors.data(), n, ids ? ids->data() : nullptr, p, threads);
}

// A (valence, arousal, dominance) triple of numbers.
void sentiment_arg(const py::object& v, float out[3]) {
  if (py::isinstance<py::str>(v) || !py::isinstance<py::sequence>(v) || py::len(v) != 3)
    throw py::type_error("sentiment must be a (valence, arousal, dominance) triple of numbers, got " +
                         py_type_name(v));
  const auto seq = py::reinterpret_borrow<py::sequence>(v);
  for (int j = 0; j < 3; ++j) out[j] = static_cast<float>(float_arg(seq[j], "sentiment"));
}

// filter_time: a (t0, t1) pair of numbers or None (an open end); the core
// checks the values (NaN, reversed).
void time_range_arg(const py::object& v, vn::SearchOptions& o) {
  if (!py::isinstance<py::sequence>(v) || py::isinstance<py::str>(v) || py::len(v) != 2)
    throw py::type_error("filter 'time' must be a (t0, t1) pair of numbers (None for an open end), got " +
                         py_type_name(v));
  const py::sequence seq = v.cast<py::sequence>();
  const double inf = std::numeric_limits<double>::infinity();
  o.filter_time = true;
  o.time_lo = seq[0].is_none() ? -inf : float_arg(seq[0], "filter 'time' t0", true);
  o.time_hi = seq[1].is_none() ? inf : float_arg(seq[1], "filter 'time' t1", true);
}

void filter_args(vn::SearchOptions& o, const std::optional<I64>& filter_labels, const std::optional<U64>& filter_ids,
                 const py::object& filter_time) {
  if (filter_labels) {
    o.filter_labels = true;
    o.labels.assign(filter_labels->data(), filter_labels->data() + filter_labels->size());
  }
  if (filter_ids) {
    o.filter_ids = true;
    o.ids.assign(filter_ids->data(), filter_ids->data() + filter_ids->size());
  }
  if (!filter_time.is_none()) time_range_arg(filter_time, o);
}

py::dict filter_plan(const Index& ix, const py::object& k_obj, const std::optional<I64>& filter_labels,
                     const std::optional<U64>& filter_ids, const py::object& filter_time, const py::object& ef_obj,
                     const py::object& exact_obj) {
  vn::SearchOptions o;
  o.k = int_arg<std::size_t>(k_obj, "k");
  filter_args(o, filter_labels, filter_ids, filter_time);
  o.ef = int_arg<std::size_t>(ef_obj, "ef", 0);
  o.exact = bool_arg(exact_obj, "exact");
  std::size_t passing = 0;
  std::string plan;
  {
    py::gil_scoped_release release;
    plan = ix.filter_plan(o, passing);
  }
  py::dict d;
  d["plan"] = plan;
  d["passing"] = passing;
  return d;
}

py::tuple search(const Index& ix, const F32& queries, const py::object& k_obj, const py::object& threads_obj,
                 const py::object& sentiment, const py::object& sentiment_weight, const py::object& time_decay,
                 const py::object& now, const std::optional<I64>& filter_labels, const std::optional<U64>& filter_ids,
                 const py::object& ef_obj, const py::object& exact_obj, const py::object& filter_time) {
  check_rows(queries, ix.dim(), "queries");
  vn::SearchOptions o;
  o.k = int_arg<std::size_t>(k_obj, "k");
  o.threads = threads_arg(threads_obj);
  if (!sentiment.is_none()) {
    o.use_sentiment = true;
    sentiment_arg(sentiment, o.sentiment);
  }
  // Read with or without sentiment: the core refuses a weight without one.
  o.sentiment_weight = static_cast<float>(float_arg(sentiment_weight, "sentiment_weight"));
  if (!time_decay.is_none()) {
    o.use_decay = true;
    o.decay_rate = float_arg(time_decay, "time_decay");
    o.now = float_arg(now, "now");
  }
  filter_args(o, filter_labels, filter_ids, filter_time);
  o.ef = int_arg<std::size_t>(ef_obj, "ef", 0);
  o.exact = bool_arg(exact_obj, "exact");
  // k is checked before the nq x k outputs are allocated (k = 10**12 is a
  // clear ValueError, not a MemoryError).
  ix.check_k(o.k);
  const auto nq = static_cast<py::ssize_t>(queries.shape(0));
  py::array_t<std::uint64_t> out_ids({nq, static_cast<py::ssize_t>(o.k)});
  py::array_t<float> out_scores({nq, static_cast<py::ssize_t>(o.k)});
  std::uint64_t* pi = out_ids.mutable_data();
  float* ps = out_scores.mutable_data();
  {
    py::gil_scoped_release release;
    ix.search(queries.data(), static_cast<std::size_t>(nq), o, pi, ps);
  }
  return py::make_tuple(out_ids, out_scores);
}

const U64& ids_1d(const U64& ids) {
  if (ids.ndim() != 1) throw py::value_error("ids must be 1-D");
  return ids;
}

Index* make_index(const py::object& dim, const py::object& metric, const py::object& kind, const py::object& M,
                  const py::object& efc, const py::object& efs, const py::object& seed, std::uintptr_t fn,
                  const py::object& dtype, const py::object& rerank) {
  // Types and representable ranges here; the core checks the values.
  vn::HnswParams hp{int_arg<std::size_t>(M, "M"), int_arg<std::size_t>(efc, "ef_construction"),
                    int_arg<std::size_t>(efs, "ef_search"), int_arg<std::uint64_t>(seed, "seed")};
  // rerank None: no f32 copy (the factor is unused); an int: keep f32 and re-rank by it.
  const bool keep_f32 = !rerank.is_none();
  const std::size_t r = keep_f32 ? int_arg<std::size_t>(rerank, "rerank") : 4;
  return new Index(int_arg<std::size_t>(dim, "dim"), parse_metric(str_arg(metric, "metric")),
                   parse_kind(str_arg(kind, "kind")), hp, fn ? fn_from(fn) : nullptr,
                   parse_dtype(str_arg(dtype, "dtype")), keep_f32, r);
}

void bind_index(py::module_& m) {
  // Every member but close / closed raises ClosedError ("Index is closed")
  // after close() (closable_class).
  closable_class<Index>(m, "VectorIndex", "Index", "Core of superinstance.vector_navigator.Index (use the facade).")
      .def_init(py::init(&make_index), py::arg("dim"), py::arg("metric") = "cosine", py::arg("kind") = "flat",
                py::arg("M") = 16, py::arg("ef_construction") = 200, py::arg("ef_search") = 64,
                py::arg("seed") = 0x5eed, py::arg("custom_fn") = 0, py::arg("dtype") = "f32", py::arg("rerank") = py::none())
      .def("add", &add, py::arg("vectors"), py::arg("ids") = py::none(), py::arg("sentiment") = py::none(),
           py::arg("timestamps") = py::none(), py::arg("labels") = py::none(), py::arg("threads") = 0)
      .def("check_add", &check_add, py::arg("vectors"), py::arg("ids") = py::none(), py::arg("sentiment") = py::none(),
           py::arg("timestamps") = py::none(), py::arg("labels") = py::none(), py::arg("threads") = 0,
           "add()'s checks without storing anything")
      .def("remove", [](Index& ix, const U64& ids) {
             ids_1d(ids);
             py::gil_scoped_release release;
             ix.remove(ids.data(), static_cast<std::size_t>(ids.size()));
           }, py::arg("ids"))
      .def("set_labels", [](Index& ix, const U64& ids, const I64& labels) {
             ids_1d(ids);
             check_len(labels, static_cast<std::size_t>(ids.size()), "labels");
             py::gil_scoped_release release;
             ix.set_labels(ids.data(), labels.data(), static_cast<std::size_t>(ids.size()));
           }, py::arg("ids"), py::arg("labels"))
      .def("search", &search, py::arg("queries"), py::arg("k"), py::arg("threads") = 0,
           py::arg("sentiment") = py::none(), py::arg("sentiment_weight") = 0.0,
           py::arg("time_decay") = py::none(), py::arg("now") = 0.0, py::arg("filter_labels") = py::none(),
           py::arg("filter_ids") = py::none(), py::arg("ef") = 0, py::arg("exact") = false,
           py::arg("filter_time") = py::none())
      .def("filter_plan", &filter_plan, py::arg("k"), py::arg("filter_labels") = py::none(),
           py::arg("filter_ids") = py::none(), py::arg("filter_time") = py::none(), py::arg("ef") = 0,
           py::arg("exact") = false, "the plan search() would choose for this filter, and how many rows pass")
      .def("__len__", &Index::size)
      .def("contains", [](const Index& ix, const py::object& id) {
             return ix.contains(int_arg<std::uint64_t>(id, "id"));
           }, py::arg("id"))
      .def("get", [](const Index& ix, const U64& ids) {
             ids_1d(ids);
             const auto n = static_cast<py::ssize_t>(ids.size());
             py::array_t<float> out({n, static_cast<py::ssize_t>(ix.dim())});
             float* o = out.mutable_data();
             py::gil_scoped_release release;
             ix.get(ids.data(), static_cast<std::size_t>(n), o);
             return out;
           }, py::arg("ids"))
      .def("get_payload", [](const Index& ix, const U64& ids) {
             ids_1d(ids);
             const auto n = static_cast<py::ssize_t>(ids.size());
             py::array_t<float> vad({n, py::ssize_t{3}});
             py::array_t<bool> has(n);
             py::array_t<double> ts(n);
             py::array_t<std::int64_t> lab(n);
             ix.get_payload(ids.data(), static_cast<std::size_t>(n), vad.mutable_data(),
                            reinterpret_cast<std::uint8_t*>(has.mutable_data()), ts.mutable_data(),
                            lab.mutable_data());
             py::dict d;
             d["sentiment"] = vad;
             d["has_sentiment"] = has;
             d["timestamps"] = ts;
             d["labels"] = lab;
             return d;
           }, py::arg("ids"))
      .def("ids", [](const Index& ix) {
             auto v = ix.ids();
             return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(v.size()), v.data());
           })
      .def("save", [](const Index& ix, const py::object& path_obj, const std::optional<py::bytes>& attachment) {
             // None keeps the attachment the index was loaded with.
             const std::string path = path_arg(path_obj);
             std::optional<std::string> att;
             if (attachment) att = std::string(*attachment);
             py::gil_scoped_release release;
             ix.save(path, att ? &*att : nullptr);
           }, py::arg("path"), py::arg("attachment") = py::none())
      .def_property_readonly("attachment", [](const Index& ix) { return py::bytes(ix.attachment()); })
      .def_static("load", [](const py::object& path_obj, const py::object& mmap, std::uintptr_t fn) {
             const std::string path = path_arg(path_obj);
             const bool map = bool_arg(mmap, "mmap");
             py::gil_scoped_release release;
             return Index::load(path, map, fn ? fn_from(fn) : nullptr);
           }, py::arg("path"), py::arg("mmap") = false, py::arg("custom_fn") = 0)
      .def_any_state("close", [](Index& ix) {
             py::gil_scoped_release release;  // waits for running searches
             ix.close();
           }, "Frees the vectors, graph and id map (unmaps an mmap-opened file); idempotent.")
      .def_property_readonly_any_state("closed", &Index::closed)
      .def_property_readonly("dim", &Index::dim)
      .def_property_readonly("metric", [](const Index& ix) { return vn::metric_name(ix.metric()); })
      .def_property_readonly("kind", [](const Index& ix) { return vn::kind_name(ix.kind()); })
      .def_property_readonly("read_only", &Index::read_only)
      .def_property_readonly("dtype", [](const Index& ix) { return dtype_name(ix.dtype()); })
      .def_property_readonly("rerank", [](const Index& ix) {
        return ix.dtype() != vn::DType::f32 && ix.keeps_f32() ? ix.rerank_factor() : std::size_t{0};
      })
      .def_property_readonly("vector_bytes", &Index::vector_bytes)
      .def_property_readonly("M", [](const Index& ix) { return ix.hnsw_params().M; })
      .def_property_readonly("ef_construction", [](const Index& ix) { return ix.hnsw_params().ef_construction; })
      .def_property("ef_search", [](const Index& ix) { return ix.hnsw_params().ef_search; },
                    [](Index& ix, const py::object& ef) {
                      ix.set_ef_search(int_arg<std::size_t>(ef, "ef_search"));
                    })
      .def_property_readonly("deleted_count", &Index::deleted_count)
      .def_property_readonly("memory_bytes", &Index::memory_bytes)
      .def("graph_stats", &Index::graph_stats);
}

void bind_kernels(py::module_& m) {
  m.def("vn_check_threads", [](const py::object& threads) { si::check_thread_count(threads_arg(threads)); },
        py::arg("threads"), "TypeError / ValueError unless threads is an int in [0, max_threads()]");
  m.def("vn_dot_tile", [](const F32& q, const F32& rows, const std::optional<std::string>& level) {
        if (q.ndim() != 2 || rows.ndim() != 2 || q.shape(1) != rows.shape(1))
          throw py::value_error("queries (nq, dim) and rows (nr, dim) must be 2-D with the same dim");
        const auto& k = vn::vn_kernels(simd_level_arg(level));
        const auto nq = q.shape(0), nr = rows.shape(0);
        py::array_t<float> out({nq, nr});
        float* o = out.mutable_data();
        py::gil_scoped_release release;
        k.dot_tile(q.data(), nq, rows.data(), nr, q.shape(1), o, nr);
        return out;
      }, py::arg("queries"), py::arg("rows"), py::arg("level") = py::none());
  m.def("vn_panel_scores", [](const F32& q, const F32& rows, const F32& thr, const std::optional<std::string>& level) {
        if (q.ndim() != 2 || rows.ndim() != 2 || q.shape(1) != rows.shape(1) || thr.ndim() != 1 ||
            thr.shape(0) != q.shape(0))
          throw py::value_error("queries (nq, dim), rows (nr, dim) and thresholds (nq,) are required");
        const auto& k = vn::vn_kernels(simd_level_arg(level));
        const std::size_t nq = q.shape(0), nr = rows.shape(0), dim = q.shape(1);
        const std::size_t PR = k.panel_rows, PQ = k.panel_queries;
        py::array_t<float> out({nq, nr});
        py::array_t<bool> flagged(nq);
        float* o = out.mutable_data();
        bool* f = flagged.mutable_data();
        {
          py::gil_scoped_release release;
          // Every query group against every row panel, as the batch scan does.
          const vn::AlignedFloats groups = vn::pack_query_groups(q.data(), nq, dim, PQ);
          vn::AlignedFloats panel(PR * dim);
          std::vector<float> tile(PQ * PR);
          std::fill(f, f + nq, false);
          for (std::size_t p0 = 0; p0 < nr; p0 += PR) {
            const std::size_t pn = std::min(PR, nr - p0);
            vn::pack_columns(rows.data() + p0 * dim, pn, dim, PR, panel.data());
            for (std::size_t g0 = 0; g0 < nq; g0 += PQ) {
              const std::size_t gq = std::min(PQ, nq - g0);
              const std::uint32_t mask =
                  k.panel_tile(groups.data() + g0 * dim, gq, panel.data(), dim, thr.data() + g0, tile.data());
              for (std::size_t a = 0; a < gq; ++a) {
                if (mask >> a & 1u) f[g0 + a] = true;
                for (std::size_t j = 0; j < pn; ++j) o[(g0 + a) * nr + p0 + j] = tile[a * PR + j];
              }
            }
          }
        }
        return py::make_tuple(out, flagged, py::make_tuple(PR, PQ));
      }, py::arg("queries"), py::arg("rows"), py::arg("thresholds"), py::arg("level") = py::none(),
      "Batch (panel) kernel over all query groups and row panels: (scores (nq, nr), flagged (nq,) where some "
      "score of the query's tiles, zero padding rows included, reached its threshold, (panel_rows, panel_queries)); "
      "for tests.");
  m.def("vn_dot_f16_rows", [](const F32& q, const U16& rows, const std::optional<std::string>& level) {
        if (q.ndim() != 1 || rows.ndim() != 2 || q.shape(0) != rows.shape(1))
          throw py::value_error("query (dim,) and rows (n, dim) of uint16 half bits are required");
        const auto& k = vn::vn_kernels(simd_level_arg(level));
        py::array_t<float> out(rows.shape(0));
        float* o = out.mutable_data();
        py::gil_scoped_release release;
        k.dot_f16_rows(q.data(), rows.data(), rows.shape(0), rows.shape(1), o);
        return out;
      }, py::arg("query"), py::arg("rows"), py::arg("level") = py::none());
  m.def("vn_dot_i8_rows", [](const F32& q, const I8& rows, const F32& scale, const std::optional<std::string>& level) {
        if (q.ndim() != 1 || rows.ndim() != 2 || q.shape(0) != rows.shape(1) || scale.ndim() != 1 ||
            scale.shape(0) != rows.shape(0))
          throw py::value_error("query (dim,), rows (n, dim) int8 and scale (n,) are required");
        const auto& k = vn::vn_kernels(simd_level_arg(level));
        py::array_t<float> out(rows.shape(0));
        float* o = out.mutable_data();
        py::gil_scoped_release release;
        k.dot_i8_rows(q.data(), rows.data(), scale.data(), rows.shape(0), rows.shape(1), o);
        return out;
      }, py::arg("query"), py::arg("rows"), py::arg("scale"), py::arg("level") = py::none());
  m.def("vn_f32_to_f16", [](const F32& a) {
        py::array_t<std::uint16_t> out(a.size());
        auto* o = out.mutable_data();
        for (py::ssize_t i = 0; i < a.size(); ++i) o[i] = vn::f32_to_f16(a.data()[i]);
        return out;
      }, py::arg("values"));
  m.def("vn_sentiment_similarity", [](std::tuple<float, float, float> a, std::tuple<float, float, float> b) {
        const float x[3] = {std::get<0>(a), std::get<1>(a), std::get<2>(a)};
        const float y[3] = {std::get<0>(b), std::get<1>(b), std::get<2>(b)};
        return vn::sentiment_similarity(x, y);
      }, py::arg("a"), py::arg("b"));
}

}  // namespace

SI_REGISTER_BINDINGS(vector_navigator) {
  bind_index(m);
  bind_kernels(m);
}

}  // namespace si::py_bind
