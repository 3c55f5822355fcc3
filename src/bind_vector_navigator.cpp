// Bindings of cpp/vector_navigator: the VectorIndex class and kernel test hooks.
// Buffers are checked with the GIL held; the core runs with it released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "common/cpu_features.hpp"
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

simd::Level level_arg(const std::optional<std::string>& name) {
  if (!name) return simd::active_level();
  auto l = simd::parse_level(*name);
  if (!l) throw py::value_error("unknown SIMD level '" + *name + "'");
  return *l;
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

py::array_t<std::uint64_t> add(Index& ix, const F32& vectors, const std::optional<U64>& ids,
                               const std::optional<F32>& vad, const std::optional<F64>& ts,
                               const std::optional<I64>& labels, int threads) {
  check_rows(vectors, ix.dim(), "vectors");
  const auto n = static_cast<std::size_t>(vectors.shape(0));
  vn::Payload p;
  if (ids) check_len(*ids, n, "ids");
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
  std::vector<std::uint64_t> assigned;
  {
    py::gil_scoped_release release;
    ix.add(vectors.data(), n, ids ? ids->data() : nullptr, p, threads, ids ? nullptr : &assigned);
  }
  if (ids) return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(n), ids->data());
  return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(assigned.size()), assigned.data());
}

py::tuple search(const Index& ix, const F32& queries, std::size_t k, int threads,
                 const std::optional<std::tuple<float, float, float>>& sentiment, float sentiment_weight,
                 const std::optional<double>& time_decay, double now, const std::optional<I64>& filter_labels,
                 const std::optional<U64>& filter_ids, std::size_t ef, bool exact) {
  check_rows(queries, ix.dim(), "queries");
  vn::SearchOptions o;
  o.k = k;
  o.threads = threads;
  if (sentiment) {
    o.use_sentiment = true;
    o.sentiment[0] = std::get<0>(*sentiment);
    o.sentiment[1] = std::get<1>(*sentiment);
    o.sentiment[2] = std::get<2>(*sentiment);
    o.sentiment_weight = sentiment_weight;
  }
  if (time_decay) {
    o.use_decay = true;
    o.decay_rate = *time_decay;
    o.now = now;
  }
  if (filter_labels) {
    o.filter_labels = true;
    o.labels.assign(filter_labels->data(), filter_labels->data() + filter_labels->size());
  }
  if (filter_ids) {
    o.filter_ids = true;
    o.ids.assign(filter_ids->data(), filter_ids->data() + filter_ids->size());
  }
  o.ef = ef;
  o.exact = exact;
  const auto nq = static_cast<py::ssize_t>(queries.shape(0));
  py::array_t<std::uint64_t> out_ids({nq, static_cast<py::ssize_t>(k)});
  py::array_t<float> out_scores({nq, static_cast<py::ssize_t>(k)});
  std::uint64_t* pi = out_ids.mutable_data();
  float* ps = out_scores.mutable_data();
  {
    py::gil_scoped_release release;
    ix.search(queries.data(), static_cast<std::size_t>(nq), o, pi, ps);
  }
  return py::make_tuple(out_ids, out_scores);
}

void bind_index(py::module_& m) {
  py::class_<Index>(m, "VectorIndex", "Core of superinstance.vector_navigator.Index (use the facade).")
      .def(py::init([](std::size_t dim, const std::string& metric, const std::string& kind, std::size_t M,
                       std::size_t efc, std::size_t efs, std::uint64_t seed, std::uintptr_t fn,
                       const std::string& dtype, std::size_t rerank) {
             vn::HnswParams hp{M, efc, efs, seed};
             return new Index(dim, parse_metric(metric), parse_kind(kind), hp, fn ? fn_from(fn) : nullptr,
                              parse_dtype(dtype), rerank > 0, rerank > 0 ? rerank : 4);
           }),
           py::arg("dim"), py::arg("metric") = "cosine", py::arg("kind") = "flat", py::arg("M") = 16,
           py::arg("ef_construction") = 200, py::arg("ef_search") = 64, py::arg("seed") = 0x5eed,
           py::arg("custom_fn") = 0, py::arg("dtype") = "f32", py::arg("rerank") = 0)
      .def("add", &add, py::arg("vectors"), py::arg("ids") = py::none(), py::arg("sentiment") = py::none(),
           py::arg("timestamps") = py::none(), py::arg("labels") = py::none(), py::arg("threads") = 0)
      .def("remove", [](Index& ix, const U64& ids) {
             if (ids.ndim() != 1) throw py::value_error("ids must be 1-D");
             py::gil_scoped_release release;
             ix.remove(ids.data(), static_cast<std::size_t>(ids.size()));
           }, py::arg("ids"))
      .def("set_labels", [](Index& ix, const U64& ids, const I64& labels) {
             if (ids.ndim() != 1) throw py::value_error("ids must be 1-D");
             check_len(labels, static_cast<std::size_t>(ids.size()), "labels");
             py::gil_scoped_release release;
             ix.set_labels(ids.data(), labels.data(), static_cast<std::size_t>(ids.size()));
           }, py::arg("ids"), py::arg("labels"))
      .def("search", &search, py::arg("queries"), py::arg("k"), py::arg("threads") = 0,
           py::arg("sentiment") = py::none(), py::arg("sentiment_weight") = 0.0f,
           py::arg("time_decay") = py::none(), py::arg("now") = 0.0, py::arg("filter_labels") = py::none(),
           py::arg("filter_ids") = py::none(), py::arg("ef") = 0, py::arg("exact") = false)
      .def("__len__", &Index::size)
      .def("contains", &Index::contains, py::arg("id"))
      .def("get", [](const Index& ix, const U64& ids) {
             if (ids.ndim() != 1) throw py::value_error("ids must be 1-D");
             const auto n = static_cast<py::ssize_t>(ids.size());
             py::array_t<float> out({n, static_cast<py::ssize_t>(ix.dim())});
             float* o = out.mutable_data();
             py::gil_scoped_release release;
             ix.get(ids.data(), static_cast<std::size_t>(n), o);
             return out;
           }, py::arg("ids"))
      .def("get_payload", [](const Index& ix, const U64& ids) {
             if (ids.ndim() != 1) throw py::value_error("ids must be 1-D");
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
      .def("save", [](const Index& ix, const std::string& path, const std::optional<py::bytes>& attachment) {
             // None keeps the attachment the index was loaded with.
             std::optional<std::string> att;
             if (attachment) att = std::string(*attachment);
             py::gil_scoped_release release;
             ix.save(path, att ? &*att : nullptr);
           }, py::arg("path"), py::arg("attachment") = py::none())
      .def_property_readonly("attachment", [](const Index& ix) { return py::bytes(ix.attachment()); })
      .def_static("load", [](const std::string& path, bool mmap, std::uintptr_t fn) {
             py::gil_scoped_release release;
             return Index::load(path, mmap, fn ? fn_from(fn) : nullptr);
           }, py::arg("path"), py::arg("mmap") = false, py::arg("custom_fn") = 0)
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
                    [](Index& ix, std::size_t ef) { ix.set_ef_search(ef); })
      .def_property_readonly("deleted_count", &Index::deleted_count)
      .def_property_readonly("memory_bytes", &Index::memory_bytes)
      .def("graph_stats", &Index::graph_stats);
}

void bind_kernels(py::module_& m) {
  m.def("vn_dot_tile", [](const F32& q, const F32& rows, const std::optional<std::string>& level) {
        if (q.ndim() != 2 || rows.ndim() != 2 || q.shape(1) != rows.shape(1))
          throw py::value_error("queries (nq, dim) and rows (nr, dim) must be 2-D with the same dim");
        const auto& k = vn::vn_kernels(level_arg(level));
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
        const auto& k = vn::vn_kernels(level_arg(level));
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
        const auto& k = vn::vn_kernels(level_arg(level));
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
        const auto& k = vn::vn_kernels(level_arg(level));
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
