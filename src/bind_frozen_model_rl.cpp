// Bindings of cpp/frozen_model_rl: the contextual bandit core (si::bandit::Bandit).
// Inputs are checked here with the GIL held; long calls release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "args.hpp"
#include "bindings.hpp"
#include "common/errors.hpp"
#include "common/cpu_features.hpp"
#include "frozen_model_rl/bandit.hpp"
#include "frozen_model_rl/bandit_kernels.hpp"
#include "frozen_model_rl/linalg.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

using bandit::Algo;
using bandit::Bandit;
using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;
using I64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

// Whether a single select/update is long enough to be worth releasing the GIL.
bool heavy(const Bandit& b) {
  const auto& c = b.config();
  if (c.algo == Algo::DLinUCB || c.algo == Algo::HybridLinUCB) return true;
  if (c.algo == Algo::LinTS && static_cast<double>(c.n_arms) * c.ts_propensity_draws > 65536.0) return true;
  return static_cast<double>(c.n_arms) * c.dim * c.dim > 65536.0;
}

// v as a numpy array (lists and scalars converted); None, str and bytes are
// refused rather than read as 0-d arrays.
py::array as_array(const py::handle& v, const char* name, const char* what) {
  const auto refuse = [&] {
    return py::type_error(std::string(name) + " must be an array of " + what + ", got " + py_type_name(v));
  };
  if (v.is_none() || py::isinstance<py::str>(v) || py::isinstance<py::bytes>(v)) throw refuse();
  py::array a = py::array::ensure(v);
  if (!a) {
    PyErr_Clear();
    throw refuse();
  }
  return a;
}

// Any array-like of real numbers (bool, int, uint or float dtype) as a
// C-contiguous float64 array; anything else is a TypeError naming `name`.
F64 float_array(const py::handle& v, const char* name) {
  py::array a = as_array(v, name, "numbers");
  const char kind = a.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f')
    throw py::type_error(std::string(name) + " must hold real numbers, got dtype " +
                         py::str(a.dtype()).cast<std::string>());
  F64 out = F64::ensure(a);
  if (!out) throw py::error_already_set();
  return out;
}

// An array-like of integers (int or uint dtype, or empty) as int64 values.
std::vector<std::int64_t> int_array(const py::handle& v, const char* name) {
  py::array a = as_array(v, name, "ints");
  if (a.ndim() != 1)
    throw py::value_error(std::string(name) + " must be 1-D, got a " + std::to_string(a.ndim()) + "-D array");
  const char kind = a.dtype().kind();
  if (a.size() == 0) return {};
  if (kind != 'i' && kind != 'u')
    throw py::type_error(std::string(name) + " must hold ints, got dtype " + py::str(a.dtype()).cast<std::string>());
  std::vector<std::int64_t> out(static_cast<std::size_t>(a.size()));
  if (kind == 'u') {
    auto u = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (u.data()[i] > static_cast<std::uint64_t>(INT64_MAX))
        throw py::value_error(std::string(name) + " holds " + std::to_string(u.data()[i]) + " at position " +
                              std::to_string(i) + ", out of range");
      out[i] = static_cast<std::int64_t>(u.data()[i]);
    }
  } else {
    auto s = I64::ensure(a);
    std::copy(s.data(), s.data() + out.size(), out.begin());
  }
  return out;
}

// A decision id: a non-negative int (a negative one was never issued).
std::uint64_t id_arg(const py::handle& v, const char* name) {
  if (!py::isinstance<py::bool_>(v) && PyIndex_Check(v.ptr())) {
    const auto i = py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
    if (!i) throw py::error_already_set();
    if (PyObject_RichCompareBool(i.ptr(), py::int_(0).ptr(), Py_LT) == 1)
      throw si::UnknownId("bandit: decision id " + py::str(i).cast<std::string>() +
                          " was never issued (ids are >= 0)");
  }
  return int_arg<std::uint64_t>(v, name);
}

// An arm index in [0, n_arms) (IndexError outside).
std::uint32_t arm_arg(const py::handle& v, const Bandit& b) {
  const auto arm = int_arg<std::int64_t>(v, "arm");
  if (arm < 0 || arm >= static_cast<std::int64_t>(b.n_arms()))
    throw std::out_of_range("bandit: arm " + std::to_string(arm) + " out of range (n_arms = " +
                            std::to_string(b.n_arms()) + ")");
  return static_cast<std::uint32_t>(arm);
}

void check_vector(const F64& x, const Bandit& b, const char* name) {
  if (x.ndim() != 1)
    throw py::value_error(std::string(name) + " must be 1-D with " + std::to_string(b.dim()) +
                          " features, got a " + std::to_string(x.ndim()) + "-D array");
  if (x.shape(0) != static_cast<py::ssize_t>(b.dim()))
    throw py::value_error(std::string(name) + " has " + std::to_string(x.shape(0)) +
                          " features, the policy expects " + std::to_string(b.dim()));
}

void check_matrix(const F64& X, const Bandit& b, const char* name) {
  if (X.ndim() != 2)
    throw py::value_error(std::string(name) + " must be 2-D (n, " + std::to_string(b.dim()) +
                          "), got a " + std::to_string(X.ndim()) + "-D array");
  if (X.shape(1) != static_cast<py::ssize_t>(b.dim()))
    throw py::value_error(std::string(name) + " has " + std::to_string(X.shape(1)) +
                          " features per row, the policy expects " + std::to_string(b.dim()));
}


py::dict config_dict(const bandit::Config& c) {
  py::dict d;
  d["algo"] = bandit::algo_name(c.algo);
  d["n_arms"] = c.n_arms;
  d["dim"] = c.dim;
  d["alpha"] = c.alpha;
  d["lam"] = c.lam;
  d["epsilon"] = c.epsilon;
  d["gamma"] = c.gamma;
  d["window"] = c.window;
  d["clock"] = bandit::clock_name(c.clock);
  d["idle_gamma"] = c.idle_gamma;
  d["max_age"] = c.max_age;
  d["arm_gamma"] = c.arm_gamma();
  d["arm_window"] = c.arm_window();
  d["seed"] = c.seed;
  d["reinvert_every"] = c.reinvert_every;
  d["ts_propensity_draws"] = c.ts_propensity_draws;
  d["max_pending"] = c.max_pending;
  d["ttl"] = c.ttl;
  d["pending_in_design"] = c.pending_in_design;
  d["default_reward"] = c.has_default_reward ? py::object(py::float_(c.default_reward)) : py::none();
  if (c.algo == Algo::HybridLinUCB) {
    py::array_t<double> af({static_cast<py::ssize_t>(c.n_arms), static_cast<py::ssize_t>(c.arm_feature_dim)});
    std::copy(c.arm_features.begin(), c.arm_features.end(), af.mutable_data());
    d["arm_features"] = af;
  } else {
    d["arm_features"] = py::none();
  }
  return d;
}

int simd_arg(const std::optional<std::string>& name) {
  if (!name) return -1;
  auto level = si::simd::parse_level(*name);
  if (!level) throw py::value_error("unknown SIMD level '" + *name + "': use scalar, avx2 or avx512");
  return static_cast<int>(*level);
}

int simd_arg(const py::handle& v) {
  return simd_arg(v.is_none() ? std::nullopt : std::optional<std::string>(str_arg(v, "simd")));
}

const si::bandit::BanditKernels& kernels_arg(const std::optional<std::string>& name) {
  const int l = simd_arg(name);
  return l < 0 ? si::bandit::bandit_kernel_set().active()
               : si::bandit::bandit_kernel_set().at(static_cast<si::simd::Level>(l));
}

py::array_t<double> to_array(const std::vector<double>& v) {
  py::array_t<double> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(frozen_model_rl) {
  using namespace si::py_bind;
  using si::bandit::Bandit;
  using si::bandit::Config;

  py::class_<Bandit>(m, "BanditCore", R"doc(Contextual bandit core (float64 state).

Use the policies of superinstance.frozen_model_rl; this class is their engine.)doc")
      .def(py::init([](const py::object& algo, const py::object& n_arms, const py::object& dim,
                       const py::object& alpha, const py::object& lam, const py::object& epsilon,
                       const py::object& gamma, const py::object& window, const py::object& seed,
                       const py::object& reinvert_every, const py::object& ts_propensity_draws,
                       const py::object& arm_features, const py::object& max_pending, const py::object& ttl,
                       const py::object& default_reward, const py::object& pending_in_design,
                       const py::object& simd, const py::object& clock, const py::object& idle_gamma,
                       const py::object& max_age) {
             // Types and representable ranges here; what the values mean
             // (caps, intervals) in Config::validate, shared with the loader.
             Config c;
             c.algo = si::bandit::parse_algo(str_arg(algo, "algo"));
             c.n_arms = int_arg<std::uint32_t>(n_arms, "n_arms");
             c.dim = int_arg<std::uint32_t>(dim, "dim");
             c.alpha = float_arg(alpha, "alpha");
             c.lam = float_arg(lam, "lam");
             c.epsilon = float_arg(epsilon, "epsilon");
             c.gamma = float_arg(gamma, "gamma");
             c.window = int_arg<std::uint64_t>(window, "window");
             c.seed = int_arg<std::uint64_t>(seed, "seed");
             c.reinvert_every = int_arg<std::uint32_t>(reinvert_every, "reinvert_every");
             c.ts_propensity_draws = int_arg<std::uint32_t>(ts_propensity_draws, "ts_propensity_draws");
             if (!arm_features.is_none()) {
               F64 af = float_array(arm_features, "arm_features");
               if (af.ndim() != 2 || af.shape(0) != static_cast<py::ssize_t>(c.n_arms) || af.shape(1) < 1)
                 throw py::value_error("bandit: arm_features must be 2-D (n_arms, m) with m >= 1");
               if (af.shape(1) > static_cast<py::ssize_t>(si::bandit::kMaxDim))
                 throw py::value_error("bandit: arm_features has too many columns");
               c.arm_feature_dim = static_cast<std::uint32_t>(af.shape(1));
               c.arm_features.assign(af.data(), af.data() + af.size());
             }
             c.max_pending = int_arg<std::uint64_t>(max_pending, "max_pending");
             c.ttl = int_arg<std::uint64_t>(ttl, "ttl");
             c.has_default_reward = !default_reward.is_none();
             c.default_reward = c.has_default_reward ? float_arg(default_reward, "default_reward") : 0.0;
             c.pending_in_design = bool_arg(pending_in_design, "pending_in_design");
             c.simd_level = simd_arg(simd);
             c.clock = si::bandit::parse_clock(str_arg(clock, "clock"));
             c.idle_gamma = float_arg(idle_gamma, "idle_gamma");
             c.max_age = int_arg<std::uint64_t>(max_age, "max_age");
             return std::make_unique<Bandit>(std::move(c));
           }),
           py::arg("algo"), py::arg("n_arms"), py::arg("dim"), py::arg("alpha") = 1.0,
           py::arg("lam") = 1.0, py::arg("epsilon") = 0.1, py::arg("gamma") = 0.99,
           py::arg("window") = 1000, py::arg("seed") = 0, py::arg("reinvert_every") = 64,
           py::arg("ts_propensity_draws") = 48, py::arg("arm_features") = py::none(),
           py::arg("max_pending") = 100000, py::arg("ttl") = 0,
           py::arg("default_reward") = py::none(), py::arg("pending_in_design") = true,
           py::arg("simd") = py::none(), py::arg("clock") = "round", py::arg("idle_gamma") = 1.0,
           py::arg("max_age") = 0)
      .def_property_readonly("n_arms", &Bandit::n_arms)
      .def_property_readonly("dim", &Bandit::dim)
      .def_property_readonly("algo", [](const Bandit& b) { return std::string(si::bandit::algo_name(b.config().algo)); })
      .def("config",
           [](const Bandit& b) {
             py::dict d = config_dict(b.config());
             d["simd"] = si::simd::level_name(b.kernel_level());
             return d;
           })
      .def("select",
           [](Bandit& b, const py::object& x_obj, const py::object& track_obj) {
             const F64 x = float_array(x_obj, "context x");
             const bool track = bool_arg(track_obj, "track");
             check_vector(x, b, "context x");
             si::bandit::Decision d;
             if (heavy(b)) {
               py::gil_scoped_release rel;
               d = b.select(x.data(), track);
             } else {
               d = b.select(x.data(), track);
             }
             return py::make_tuple(d.id, d.arm, d.score, d.propensity);
           },
           py::arg("x"), py::arg("track") = true)
      .def("select_batch",
           [](Bandit& b, const py::object& X_obj, const py::object& track_obj) {
             const F64 X = float_array(X_obj, "contexts X");
             const bool track = bool_arg(track_obj, "track");
             check_matrix(X, b, "contexts X");
             const auto n = X.shape(0);
             py::array_t<std::uint64_t> ids(n);
             py::array_t<std::uint32_t> arms(n);
             py::array_t<double> scores(n), props(n);
             auto* pi = ids.mutable_data();
             auto* pa = arms.mutable_data();
             auto* ps = scores.mutable_data();
             auto* pp = props.mutable_data();
             {
               py::gil_scoped_release rel;
               b.select_batch(X.data(), static_cast<std::size_t>(n), track, pi, pa, ps, pp);
             }
             return py::make_tuple(ids, arms, scores, props);
           },
           py::arg("X"), py::arg("track") = true)
      .def("scores",
           [](const Bandit& b, const py::object& x_obj) {
             const F64 x = float_array(x_obj, "context x");
             check_vector(x, b, "context x");
             py::array_t<double> out(b.n_arms());
             b.scores(x.data(), out.mutable_data());
             return out;
           },
           py::arg("x"))
      .def("means",
           [](const Bandit& b, const py::object& x_obj) {
             const F64 x = float_array(x_obj, "context x");
             check_vector(x, b, "context x");
             py::array_t<double> out(b.n_arms());
             b.means(x.data(), out.mutable_data());
             return out;
           },
           py::arg("x"))
      .def("update",
           [](Bandit& b, const py::object& id_obj, const py::object& reward_obj) {
             const std::uint64_t id = id_arg(id_obj, "decision_id");
             const double reward = float_arg(reward_obj, "reward", /*allow_inf=*/true);  // the core says why
             if (heavy(b)) {
               py::gil_scoped_release rel;
               b.update(id, reward);
             } else {
               b.update(id, reward);
             }
           },
           py::arg("decision_id"), py::arg("reward"))
      .def("update_batch",
           [](Bandit& b, const py::object& ids_obj, const py::object& rewards_obj) {
             const std::vector<std::int64_t> ids = int_array(ids_obj, "decision_ids");
             const F64 rewards = float_array(rewards_obj, "rewards");
             if (rewards.ndim() != 1 || static_cast<std::size_t>(rewards.shape(0)) != ids.size())
               throw py::value_error("decision_ids and rewards must be 1-D arrays of the same length");
             for (const auto id : ids)
               if (id < 0)
                 throw si::UnknownId("bandit: decision id " + std::to_string(id) + " was never issued");
             py::gil_scoped_release rel;
             b.update_batch(reinterpret_cast<const std::uint64_t*>(ids.data()), rewards.data(), ids.size());
           },
           py::arg("decision_ids"), py::arg("rewards"))
      .def("update_arm",
           [](Bandit& b, const py::object& arm_obj, const py::object& x_obj, const py::object& reward_obj) {
             const std::uint32_t arm = arm_arg(arm_obj, b);
             const F64 x = float_array(x_obj, "context x");
             check_vector(x, b, "context x");
             const double reward = float_arg(reward_obj, "reward", /*allow_inf=*/true);
             if (heavy(b)) {
               py::gil_scoped_release rel;
               b.update_arm(arm, x.data(), reward);
             } else {
               b.update_arm(arm, x.data(), reward);
             }
           },
           py::arg("arm"), py::arg("x"), py::arg("reward"))
      .def("update_arm_batch",
           [](Bandit& b, const py::object& arms_obj, const py::object& X_obj, const py::object& rewards_obj) {
             const std::vector<std::int64_t> arms = int_array(arms_obj, "arms");
             const F64 X = float_array(X_obj, "contexts X");
             const F64 rewards = float_array(rewards_obj, "rewards");
             check_matrix(X, b, "contexts X");
             if (rewards.ndim() != 1 || arms.size() != static_cast<std::size_t>(X.shape(0)) ||
                 rewards.shape(0) != X.shape(0))
               throw py::value_error("arms, X and rewards must have the same number of rows");
             const auto n = static_cast<std::size_t>(X.shape(0));
             std::vector<std::uint32_t> a(n);
             for (std::size_t i = 0; i < n; ++i) {
               const auto v = arms[i];
               if (v < 0 || v >= static_cast<std::int64_t>(b.n_arms()))
                 throw std::out_of_range("bandit: arm " + std::to_string(v) + " out of range (n_arms = " +
                                         std::to_string(b.n_arms()) + ") at position " + std::to_string(i));
               a[i] = static_cast<std::uint32_t>(v);
             }
             py::gil_scoped_release rel;
             b.update_arm_batch(a.data(), X.data(), rewards.data(), n);
           },
           py::arg("arms"), py::arg("X"), py::arg("rewards"))
      .def("expire", [](Bandit& b) { py::gil_scoped_release rel; b.expire(); })
      .def("reset", [](Bandit& b) { py::gil_scoped_release rel; b.reset(); })
      .def("stats",
           [](const Bandit& b) {
             const auto s = b.stats();
             py::dict d;
             d["rounds"] = s.rounds;
             d["updates"] = s.updates;
             d["pending"] = s.pending;
             d["expired"] = s.expired;
             d["expired_default"] = s.expired_default;
             d["evicted"] = s.evicted;
             d["reinversions"] = s.reinversions;
             d["next_id"] = s.next_id;
             return d;
           })
      .def("pending_ids",
           [](const Bandit& b) {
             const auto v = b.pending_ids();
             py::array_t<std::uint64_t> a(static_cast<py::ssize_t>(v.size()));
             std::copy(v.begin(), v.end(), a.mutable_data());
             return a;
           })
      .def("theta",
           [](const Bandit& b, const py::object& arm) { return to_array(b.theta(arm_arg(arm, b))); },
           py::arg("arm"))
      .def("a_inv",
           [](const Bandit& b, const py::object& arm) {
             auto v = b.a_inv(arm_arg(arm, b));
             py::array_t<double> a({static_cast<py::ssize_t>(b.dim()), static_cast<py::ssize_t>(b.dim())});
             std::copy(v.begin(), v.end(), a.mutable_data());
             return a;
           },
           py::arg("arm"))
      .def("copy", [](const Bandit& b) { return std::make_unique<Bandit>(b); })
      .def("state_bytes",
           [](const Bandit& b) {
             std::vector<unsigned char> s;
             {
               py::gil_scoped_release rel;
               s = b.serialize();
             }
             return py::bytes(reinterpret_cast<const char*>(s.data()), s.size());
           })
      .def_static("from_state_bytes",
                  [](const py::object& data, const py::object& version_obj) {
                    if (!py::isinstance<py::bytes>(data))
                      throw py::type_error("data must be bytes, got " + py_type_name(data));
                    const auto version = int_arg<std::uint32_t>(version_obj, "version");
                    std::string s = data.cast<std::string>();
                    py::gil_scoped_release rel;
                    return Bandit::deserialize(reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                                               version);
                  },
                  py::arg("data"), py::arg("version") = Bandit::kFormatVersion)
      .def("load_state_bytes",
           [](Bandit& b, const py::object& data) {
             if (!py::isinstance<py::bytes>(data)) throw py::type_error("data must be bytes, got " + py_type_name(data));
             std::string s = data.cast<std::string>();
             py::gil_scoped_release rel;
             auto other = Bandit::deserialize(reinterpret_cast<const unsigned char*>(s.data()), s.size());
             b = *other;
           },
           py::arg("data"))
      .def("save",
           [](const Bandit& b, const py::object& path) {
             const std::string p = path_arg(path);
             py::gil_scoped_release rel;
             b.save(p);
           },
           py::arg("path"))
      .def_static("load",
                  [](const py::object& path) {
                    const std::string p = path_arg(path);
                    py::gil_scoped_release rel;
                    return Bandit::load(p);
                  },
                  py::arg("path"))
      .def_property_readonly_static("file_kind", [](py::object) { return std::string(Bandit::kFileKind); })
      .def_property_readonly_static("format_version", [](py::object) { return Bandit::kFormatVersion; });

  m.def("bandit_dot",
        [](const F64& a, const F64& b, const std::optional<std::string>& level) {
          if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0))
            throw py::value_error("a and b must be 1-D with the same length");
          return kernels_arg(level).dot(a.data(), b.data(), static_cast<std::size_t>(a.shape(0)));
        },
        py::arg("a"), py::arg("b"), py::arg("level") = py::none());
  m.def("bandit_symv",
        [](const F64& M, const F64& x, const std::optional<std::string>& level) {
          if (M.ndim() != 2 || M.shape(0) != M.shape(1) || x.ndim() != 1 || x.shape(0) != M.shape(0))
            throw py::value_error("M must be (n, n) and x (n,)");
          py::array_t<double> y(x.shape(0));
          kernels_arg(level).symv(M.data(), x.data(), static_cast<std::size_t>(x.shape(0)), y.mutable_data());
          return y;
        },
        py::arg("M"), py::arg("x"), py::arg("level") = py::none());
  m.def("bandit_rank1",
        [](const F64& M, const F64& u, double f, const std::optional<std::string>& level) {
          if (M.ndim() != 2 || M.shape(0) != M.shape(1) || u.ndim() != 1 || u.shape(0) != M.shape(0))
            throw py::value_error("M must be (n, n) and u (n,)");
          py::array_t<double> out({M.shape(0), M.shape(1)});
          std::copy(M.data(), M.data() + M.size(), out.mutable_data());
          kernels_arg(level).rank1(out.mutable_data(), u.data(), f, static_cast<std::size_t>(u.shape(0)));
          return out;
        },
        py::arg("M"), py::arg("u"), py::arg("f"), py::arg("level") = py::none());
  m.def("bandit_spd_inverse",
        [](const F64& A) {
          if (A.ndim() != 2 || A.shape(0) != A.shape(1)) throw py::value_error("A must be square 2-D");
          const auto n = static_cast<std::size_t>(A.shape(0));
          py::array_t<double> out({A.shape(0), A.shape(0)});
          if (!si::bandit::spd_inverse(A.data(), n, out.mutable_data()))
            throw py::value_error("A is not symmetric positive definite");
          return out;
        },
        py::arg("A"));
  m.def("bandit_sym_eigen",
        [](const F64& A) {
          if (A.ndim() != 2 || A.shape(0) != A.shape(1)) throw py::value_error("A must be square 2-D");
          const auto n = static_cast<std::size_t>(A.shape(0));
          py::array_t<double> Q({A.shape(0), A.shape(0)});
          py::array_t<double> w(A.shape(0));
          si::bandit::sym_eigen(A.data(), n, Q.mutable_data(), w.mutable_data());
          return py::make_tuple(w, Q);
        },
        py::arg("A"));
}
