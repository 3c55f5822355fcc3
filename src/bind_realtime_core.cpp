// Bindings of cpp/realtime_core: timers and their backends, the virtual
// clock, the multi-rate scheduler and the real-time executor. Names carry an
// Rt/realtime_ prefix in _core; python/superinstance/realtime_core is the
// public facade.
#include <pybind11/pybind11.h>
#include <pybind11/eval.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "bindings.hpp"
#include "common/errors.hpp"
#include "realtime_core/executor.hpp"
#include "realtime_core/scheduler.hpp"
#include "realtime_core/timer.hpp"
#include "realtime_core/waiter.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

using namespace si::rt;

bool py_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

// A Python object that may be released from a thread without the GIL.
struct PyRef {
  py::object obj;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  ~PyRef() {
    if (!obj) return;
    if (!Py_IsInitialized() || py_finalizing()) {
      obj.release();  // leak rather than touch a dying interpreter
      return;
    }
    py::gil_scoped_acquire g;
    obj = py::object();
  }
};

// ---------------------------------------------------------------- periods
std::int64_t int_arg(const py::handle& v, const char* name) {
  if (py::isinstance<py::bool_>(v)) throw py::type_error(std::string(name) + " must be a number, got bool");
  if (py::isinstance<py::int_>(v) || (!py::isinstance<py::float_>(v) && PyIndex_Check(v.ptr()))) {
    try {  // int, or an integer type such as numpy.int64 (__index__)
      return py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr())).cast<std::int64_t>();
    } catch (const py::cast_error&) {
      throw py::value_error(std::string(name) + " is out of range");
    }
  }
  if (py::isinstance<py::float_>(v)) {
    const double d = v.cast<double>();
    if (std::isnan(d)) throw py::value_error(std::string(name) + " is NaN");
    if (std::isinf(d) || std::fabs(d) > 9.2e18) throw py::value_error(std::string(name) + " is out of range");
    if (d != std::floor(d)) throw py::value_error(std::string(name) + " must be a whole number of ns, got " + std::to_string(d));
    return static_cast<std::int64_t>(d);
  }
  throw py::type_error(std::string(name) + " must be an int, got " + py::str(py::type::of(v)).cast<std::string>());
}

Period period_arg(const py::object& rate_hz, const py::object& period_ns) {
  if (rate_hz.is_none() == period_ns.is_none())
    throw py::value_error("give exactly one of rate_hz and period_ns");
  if (!period_ns.is_none()) return Period::from_ns(int_arg(period_ns, "period_ns"));
  if (py::isinstance<py::bool_>(rate_hz)) throw py::type_error("rate_hz must be a number, got bool");
  if (py::isinstance<py::int_>(rate_hz)) {
    std::int64_t r;
    try {
      r = rate_hz.cast<std::int64_t>();
    } catch (const py::cast_error&) {
      throw py::value_error("rate_hz is out of range");
    }
    if (r <= 0) throw py::value_error("rate_hz must be > 0, got " + std::to_string(r));
    if (r > 1'000'000) throw py::value_error("rate_hz must be within [1e-6, 1e6], got " + std::to_string(r));
    return Period::from_rate_fraction(r, 1);
  }
  if (py::isinstance<py::float_>(rate_hz)) return Period::from_rate_hz(rate_hz.cast<double>());
  if (py::hasattr(rate_hz, "numerator") && py::hasattr(rate_hz, "denominator")) {  // fractions.Fraction
    const std::int64_t n = int_arg(rate_hz.attr("numerator"), "rate_hz numerator");
    const std::int64_t d = int_arg(rate_hz.attr("denominator"), "rate_hz denominator");
    if (n <= 0 || d <= 0) throw py::value_error("rate_hz must be > 0");
    const double r = static_cast<double>(n) / static_cast<double>(d);
    if (r < kMinRateHz || r > kMaxRateHz) throw py::value_error("rate_hz must be within [1e-6, 1e6]");
    return Period::from_rate_fraction(n, d);
  }
  try {
    return Period::from_rate_hz(py::float_(rate_hz).cast<double>());
  } catch (const py::error_already_set&) {
    throw py::type_error("rate_hz must be a number");
  }
}

// ---------------------------------------------------------------- stats
py::dict timer_stats_dict(const TimerStats& s) {
  const auto p = s.lateness.percentiles({50, 95, 99, 99.9});
  py::dict d;
  d["count"] = s.count;
  d["missed"] = s.missed;
  d["overruns"] = s.overruns;
  d["p50_ns"] = p[0];
  d["p95_ns"] = p[1];
  d["p99_ns"] = p[2];
  d["p99.9_ns"] = p[3];
  d["max_ns"] = s.lateness.max();
  d["min_ns"] = s.lateness.min();
  d["mean_ns"] = s.lateness.count() ? s.lateness.mean() : std::nan("");
  d["first_index"] = s.first_index;
  d["last_index"] = s.last_index;
  d["first_deadline_ns"] = s.first_deadline_ns;
  d["last_deadline_ns"] = s.last_deadline_ns;
  d["histogram"] = py::cast(s.lateness);
  return d;
}

py::dict task_stats_dict(const TaskStats& s) {
  py::dict d = timer_stats_dict(s.timer);
  d["id"] = s.id;
  d["name"] = s.name;
  d["period_ns"] = s.period.rounded_ns();
  d["overruns"] = s.overruns;  // calls longer than one period
  d["late_starts"] = s.timer.overruns;  // calls started at or after the next deadline
  d["errors"] = s.errors;
  d["lead_ns"] = s.lead_ns;  // how early the loop takes the GIL for this task (0: it does not)
  const auto r = s.runtime.percentiles({50, 99});
  d["runtime_p50_ns"] = r[0];
  d["runtime_p99_ns"] = r[1];
  d["runtime_max_ns"] = s.runtime.max();
  d["runtime_histogram"] = py::cast(s.runtime);
  return d;
}

// ---------------------------------------------------------------- timer
std::unique_ptr<Waiter> make_backend(const std::string& backend, const py::object& clock, std::string& note) {
  if (!clock.is_none()) {
    auto vc = clock.cast<std::shared_ptr<VirtualClock>>();
    if (backend != "auto" && backend != "virtual")
      throw py::value_error("a timer on a virtual clock takes backend='auto' or 'virtual', got '" + backend + "'");
    note = "virtual clock (deterministic, for tests)";
    return make_virtual_waiter(vc);
  }
  if (backend == "virtual") throw py::value_error("backend='virtual' needs clock=VirtualClock(...)");
  if (backend == "auto") return make_auto_waiter(note);
  note = backend + " (asked for by name)";
  return make_waiter(backend);
}

std::unique_ptr<Timer> make_timer(const py::object& rate_hz, const py::object& period_ns, const std::string& backend,
                                  const std::string& missed, const py::object& start_ns, const py::object& clock) {
  const Period p = period_arg(rate_hz, period_ns);
  const MissedPolicy policy = parse_missed_policy(missed);
  std::optional<std::int64_t> start;
  if (!start_ns.is_none()) {
    start = int_arg(start_ns, "start_ns");
    if (*start < 0) throw py::value_error("start_ns must be >= 0");
  }
  std::string note;
  auto w = make_backend(backend, clock, note);
  return std::make_unique<Timer>(p, start, policy, std::move(w), note);
}

void bind_timer(py::module_& m) {
  py::class_<Tick>(m, "RtTick", "One timer tick: grid index, absolute deadline, wake-up time, lateness, dropped deadlines.")
      .def(py::init([](std::uint64_t index, std::int64_t deadline, std::int64_t woke, std::int64_t lateness,
                       std::uint64_t missed) { return Tick{index, deadline, woke, lateness, missed}; }),
           py::arg("index"), py::arg("deadline_ns"), py::arg("woke_ns"), py::arg("lateness_ns"), py::arg("missed") = 0)
      .def_readonly("index", &Tick::index)
      .def_readonly("deadline_ns", &Tick::deadline_ns)
      .def_readonly("woke_ns", &Tick::woke_ns)
      .def_readonly("lateness_ns", &Tick::lateness_ns)
      .def_readonly("missed", &Tick::missed)
      .def("__eq__", [](const Tick& a, const Tick& b) {
        return a.index == b.index && a.deadline_ns == b.deadline_ns && a.woke_ns == b.woke_ns &&
               a.lateness_ns == b.lateness_ns && a.missed == b.missed;
      })
      .def("__repr__", [](const Tick& t) {
        return "Tick(index=" + std::to_string(t.index) + ", deadline_ns=" + std::to_string(t.deadline_ns) +
               ", woke_ns=" + std::to_string(t.woke_ns) + ", lateness_ns=" + std::to_string(t.lateness_ns) +
               ", missed=" + std::to_string(t.missed) + ")";
      });

  py::class_<VirtualClock, std::shared_ptr<VirtualClock>>(m, "RtVirtualClock", R"doc(
Simulated CLOCK_MONOTONIC for deterministic tests: a wait jumps to the deadline
(plus a wake latency, constant or scripted); advance() simulates work.
)doc")
      .def(py::init<std::int64_t>(), py::arg("start_ns") = 0)
      .def_property_readonly("now_ns", &VirtualClock::now)
      .def("advance", &VirtualClock::advance, py::arg("ns"))
      .def("set", &VirtualClock::set, py::arg("t_ns"))
      .def("set_wake_latency", &VirtualClock::set_wake_latency, py::arg("ns"))
      .def("set_wake_script", &VirtualClock::set_wake_script, py::arg("latencies_ns"))
      .def_property_readonly("waits", &VirtualClock::waits);

  py::class_<Timer>(m, "RtTimer")
      .def(py::init(&make_timer), py::arg("rate_hz") = py::none(), py::arg("period_ns") = py::none(),
           py::arg("backend") = "auto", py::arg("missed") = "skip", py::arg("start_ns") = py::none(),
           py::arg("clock") = py::none())
      .def("tick", [](Timer& t) {
        // Long waits are cut into slices so that signals (Ctrl-C) are seen
        // within ~0.15 s; the last wait is one absolute wait for the deadline.
        for (;;) {
          if (t.closed()) throw Closed("timer is closed");
          std::optional<Tick> r;
          {
            py::gil_scoped_release rel;
            r = t.tick_slice(150'000'000, 100'000'000);
          }
          if (r) return *r;
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        }
      })
      .def("set_rate", [](Timer& t, const py::object& rate_hz, const py::object& period_ns) {
        t.set_period(period_arg(rate_hz, period_ns));
      }, py::arg("rate_hz") = py::none(), py::arg("period_ns") = py::none())
      .def("set_missed", [](Timer& t, const std::string& p) { t.set_policy(parse_missed_policy(p)); }, py::arg("missed"))
      .def("close", [](Timer& t) {
        py::gil_scoped_release r;
        t.close();
      })
      .def_property_readonly("closed", &Timer::closed)
      .def("stats", [](const Timer& t) { return timer_stats_dict(t.stats()); })
      .def("reset_stats", &Timer::reset_stats)
      .def_property_readonly("backend", &Timer::backend)
      .def_property_readonly("backend_note", &Timer::backend_note)
      .def_property_readonly("backend_info", &Timer::backend_info)
      .def_property_readonly("period_ns", [](const Timer& t) { return t.period().rounded_ns(); })
      .def_property_readonly("period_fraction", [](const Timer& t) {
        const Period p = t.period();
        return py::make_tuple(p.num, p.den);
      })
      .def_property_readonly("rate_hz", [](const Timer& t) { return t.period().rate_hz(); })
      .def_property_readonly("missed", [](const Timer& t) { return std::string(missed_policy_name(t.policy())); })
      .def_property_readonly("next_deadline_ns", &Timer::next_deadline)
      .def_property_readonly("next_index", &Timer::next_index)
      .def("now_ns", &Timer::now_ns)
      .def("async_fd", &Timer::async_fd)
      .def("async_arm", &Timer::async_arm)
      .def("async_try_complete", &Timer::async_try_complete);

  m.def("realtime_monotonic_ns", &monotonic_ns, "CLOCK_MONOTONIC in ns (the clock of every timer deadline).");
  m.def("realtime_backends", [] { return backend_names(); }, "Names of the timer backends (besides auto and virtual).");
  m.def("realtime_probe_backends", [] {
    std::vector<BackendProbe> probes;
    {
      py::gil_scoped_release r;
      probes = probe_backends();
    }
    py::list out;
    for (const auto& p : probes) {
      py::dict d;
      d["name"] = p.name;
      d["ok"] = p.ok;
      d["detail"] = p.detail;
      out.append(d);
    }
    return out;
  });
  m.def("realtime_period_fraction", [](const py::object& rate_hz, const py::object& period_ns) {
    const Period p = period_arg(rate_hz, period_ns);
    return py::make_tuple(p.num, p.den);
  }, py::arg("rate_hz") = py::none(), py::arg("period_ns") = py::none(),
     "The exact period num/den ns that a timer uses for this rate or period.");
  m.def("_realtime_simulate_refusal", &set_simulated_refusal, py::arg("backend"), py::arg("reason"),
        "Test hook: make creating `backend` fail as a refusing platform would (empty reason clears).");
  m.def("_realtime_clear_refusals", &clear_simulated_refusals);
}

// ---------------------------------------------------------------- tasks
TaskBody python_body(py::function fn, py::object sink, std::string name) {
  auto f = std::make_shared<PyRef>(std::move(fn));
  auto s = std::make_shared<PyRef>(std::move(sink));
  return [f, s, name](const Tick& t) -> bool {
    py::gil_scoped_acquire g;
    try {
      f->obj(t);
      return true;
    } catch (py::error_already_set& e) {
      try {
        if (!s->obj.is_none()) s->obj(name, e.value());
      } catch (py::error_already_set&) {
      }
      return false;
    }
  };
}

// Takes the GIL a little before each deadline and runs the call path once
// (a throw-away Tick), so that the callback itself starts warm; see TaskPrelude.
TaskPrelude python_prelude(std::int64_t max_lead_ns) {
  TaskPrelude p;
  p.max_lead_ns = max_lead_ns;
  p.enter = [] {
    if (!Py_IsInitialized() || py_finalizing()) return false;
    PyThreadState* ts = PyGILState_GetThisThreadState();
    if (ts == nullptr) return false;  // not a thread the executor prepared
    PyEval_RestoreThread(ts);
    // Same steps as the real call: build a Tick, call a Python function with it.
    static py::object* noop = new py::object(py::eval("lambda tick: None"));  // leaked: lives until exit
    try {
      (*noop)(Tick{});
    } catch (py::error_already_set&) {
    }
    return true;
  };
  p.leave = [] { PyEval_SaveThread(); };
  return p;
}

using NativeFn = void (*)(void*, std::uint64_t, std::int64_t);

TaskBody native_body(std::uintptr_t address, std::uintptr_t user_data) {
  if (address == 0) throw py::value_error("native callback address is 0");
  auto fn = reinterpret_cast<NativeFn>(address);
  void* ud = reinterpret_cast<void*>(user_data);
  return [fn, ud](const Tick& t) -> bool {
    fn(ud, t.index, t.deadline_ns);
    return true;
  };
}

ErrorPolicy error_policy_arg(const std::string& s) {
  if (s == "continue") return ErrorPolicy::Continue;
  if (s == "stop") return ErrorPolicy::Stop;
  throw py::value_error("on_error must be 'continue' or 'stop', got '" + s + "'");
}

std::int64_t start_arg(const py::object& start_ns, const Period& p, std::int64_t now) {
  if (start_ns.is_none()) return now + p.rounded_ns();
  const std::int64_t s = int_arg(start_ns, "start_ns");
  if (s < 0) throw py::value_error("start_ns must be >= 0");
  return s;
}

// Methods shared by the threaded executor and the virtual-clock scheduler.
template <class Holder, class Cls>
void bind_task_methods(Cls& cls) {
  cls.def("add_task", [](Holder& h, py::function fn, const py::object& rate_hz, const py::object& period_ns,
                         const std::string& name, const std::string& missed, const py::object& start_ns) {
          h.check_open();
          const Period p = period_arg(rate_hz, period_ns);
          const MissedPolicy mp = parse_missed_policy(missed);
          const std::int64_t s = start_arg(start_ns, p, h.now());
          return h.core().add(name, p, s, mp, python_body(std::move(fn), h.sink, name),
                              python_prelude(h.python_lead_ns));
        }, py::arg("fn"), py::arg("rate_hz") = py::none(), py::arg("period_ns") = py::none(), py::arg("name") = "",
        py::arg("missed") = "skip", py::arg("start_ns") = py::none())
      .def("add_native_task", [](Holder& h, std::uintptr_t address, std::uintptr_t user_data, const py::object& rate_hz,
                                 const py::object& period_ns, const std::string& name, const std::string& missed,
                                 const py::object& start_ns) {
          h.check_open();
          const Period p = period_arg(rate_hz, period_ns);
          const MissedPolicy mp = parse_missed_policy(missed);
          const std::int64_t s = start_arg(start_ns, p, h.now());
          return h.core().add(name, p, s, mp, native_body(address, user_data));
        }, py::arg("address"), py::arg("user_data") = 0, py::arg("rate_hz") = py::none(),
        py::arg("period_ns") = py::none(), py::arg("name") = "", py::arg("missed") = "skip",
        py::arg("start_ns") = py::none())
      .def("remove_task", [](Holder& h, std::uint64_t id) { h.core().remove(id); }, py::arg("task_id"))
      .def("task_ids", [](Holder& h) { return h.core().ids(); })
      .def("task_stats", [](Holder& h, std::uint64_t id) { return task_stats_dict(h.core().stats(id)); },
           py::arg("task_id"))
      .def_property_readonly("total_errors", [](Holder& h) { return h.core().total_errors(); })
      .def("now_ns", [](Holder& h) { return h.now(); });
}

struct PyScheduler {  // virtual clock, run synchronously by run_until
  std::shared_ptr<VirtualClock> clock;
  std::unique_ptr<Waiter> waiter;
  SchedulerCore sched;
  py::object sink;
  bool closed = false;
  std::int64_t python_lead_ns = 0;  // virtual clock: no prelude
  PyScheduler(std::shared_ptr<VirtualClock> c, ErrorPolicy e, py::object s)
      : clock(std::move(c)), waiter(make_virtual_waiter(clock)), sched(e), sink(std::move(s)) {}
  SchedulerCore& core() { return sched; }
  std::int64_t now() { return clock->now(); }
  void check_open() {
    if (closed) throw Closed("scheduler is closed");
  }
};

struct PyExecutor {
  std::unique_ptr<Executor> ex;
  py::object sink;
  std::int64_t python_lead_ns = 0;  // upper bound of the Python tasks' prelude lead
  ~PyExecutor() { close(); }
  SchedulerCore& core() { return ex->scheduler(); }
  std::int64_t now() { return ex->now_ns(); }
  void check_open() {
    if (!ex || ex->closed()) throw Closed("executor is closed");
  }
  void close() {
    if (!ex) return;
    if (ex->on_loop_thread()) {  // from a callback: stop after it; join later elsewhere
      ex->request_stop();
      return;
    }
    if (PyGILState_Check()) {
      py::gil_scoped_release r;
      ex.reset();
    } else {
      ex.reset();
    }
  }
};

struct ThreadGil {  // one Python thread state for the executor thread's life
  PyGILState_STATE state{};
  PyThreadState* saved = nullptr;
  bool held = false;
};

void bind_executor(py::module_& m) {
  py::class_<PyScheduler> sched(m, "RtScheduler", "Earliest-deadline-first tasks on a virtual clock (run_until).");
  sched.def(py::init([](std::shared_ptr<VirtualClock> clock, const std::string& on_error, py::object sink) {
                if (!clock) throw py::value_error("clock must be a VirtualClock");
                return std::make_unique<PyScheduler>(std::move(clock), error_policy_arg(on_error), std::move(sink));
              }),
              py::arg("clock"), py::arg("on_error") = "continue", py::arg("error_sink") = py::none())
      .def("run_until", [](PyScheduler& s, std::int64_t until_ns) {
        s.check_open();
        s.sched.clear_stop();
        py::gil_scoped_release r;
        s.sched.run_until(*s.waiter, until_ns);
      }, py::arg("until_ns"))
      .def("close", [](PyScheduler& s) { s.closed = true; })
      .def_property_readonly("closed", [](PyScheduler& s) { return s.closed; })
      .def_property_readonly("stopped", [](PyScheduler& s) { return s.sched.stopping(); });
  bind_task_methods<PyScheduler>(sched);

  py::class_<PyExecutor> ex(m, "RtExecutor", "A native real-time thread running an earliest-deadline-first task loop.");
  ex.def(py::init([](const std::string& policy, int priority, std::vector<int> cpus, bool lock_memory,
                     std::int64_t runtime_ns, std::int64_t deadline_ns, std::int64_t period_ns,
                     std::size_t prefault_stack_bytes, const std::string& backend, const std::string& on_error,
                     py::object sink, std::int64_t python_lead_ns) {
             if (python_lead_ns < 0) throw py::value_error("python_lead_ns must be >= 0");
             ExecutorConfig c;
             c.policy = policy;
             c.priority = priority;
             c.cpus = std::move(cpus);
             c.lock_memory = lock_memory;
             c.runtime_ns = runtime_ns;
             c.deadline_ns = deadline_ns;
             c.period_ns = period_ns;
             c.prefault_stack_bytes = prefault_stack_bytes;
             c.backend = backend;
             validate(c);
             const ErrorPolicy ep = error_policy_arg(on_error);
             auto gil = std::make_shared<ThreadGil>();
             auto start = [gil] {
               if (!Py_IsInitialized() || py_finalizing()) return;
               gil->state = PyGILState_Ensure();
               gil->saved = PyEval_SaveThread();
               gil->held = true;
             };
             auto stop = [gil] {
               if (!gil->held || py_finalizing()) return;
               PyEval_RestoreThread(gil->saved);
               PyGILState_Release(gil->state);
               gil->held = false;
             };
             auto h = std::make_unique<PyExecutor>();
             h->sink = std::move(sink);
             h->python_lead_ns = python_lead_ns;
             {
               py::gil_scoped_release r;  // the new thread takes the GIL once at start
               h->ex = std::make_unique<Executor>(c, start, stop, ep);
             }
             return h;
           }),
           py::arg("policy") = "other", py::arg("priority") = 0, py::arg("cpus") = std::vector<int>{},
           py::arg("lock_memory") = true, py::arg("runtime_ns") = 0, py::arg("deadline_ns") = 0,
           py::arg("period_ns") = 0, py::arg("prefault_stack_bytes") = 256 * 1024, py::arg("backend") = "timerfd",
           py::arg("on_error") = "continue", py::arg("error_sink") = py::none(), py::arg("python_lead_ns") = 0)
      .def_property_readonly("obtained", [](PyExecutor& h) {
        if (!h.ex) throw Closed("executor is closed");
        const Obtained& o = h.ex->obtained();
        py::dict d;
        d["policy"] = o.policy;
        d["priority"] = o.priority;
        if (o.policy == "deadline") {
          d["runtime_ns"] = o.runtime_ns;
          d["deadline_ns"] = o.deadline_ns;
          d["period_ns"] = o.period_ns;
        }
        d["cpus"] = o.cpus;
        d["memory_locked"] = o.memory_locked;
        d["stack_prefaulted"] = o.stack_prefaulted;
        d["tid"] = o.tid;
        d["slice_ns"] = o.fair_slice_ns;
        d["refused"] = o.refused;
        d["backend"] = h.ex->backend();
        return d;
      })
      .def("submit", [](PyExecutor& h, py::function job) {
        h.check_open();
        auto f = std::make_shared<PyRef>(std::move(job));
        h.core().post([f] {
          py::gil_scoped_acquire g;
          try {
            f->obj();
          } catch (py::error_already_set& e) {
            e.discard_as_unraisable("superinstance RealtimeExecutor job");
          }
        });
      }, py::arg("job"))
      .def("stop", [](PyExecutor& h) { h.close(); })
      .def("wait_stopped", [](PyExecutor& h, double timeout_s) {
        if (!h.ex) return true;
        // In slices of 100 ms, so that signals (Ctrl-C) are seen while waiting.
        const std::int64_t end = timeout_s < 0 ? INT64_MAX : monotonic_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
        for (;;) {
          const std::int64_t left = end - monotonic_ns();
          bool stopped;
          {
            py::gil_scoped_release r;
            stopped = h.ex->wait_stopped(std::max<std::int64_t>(0, std::min<std::int64_t>(left, 100'000'000)));
          }
          if (stopped) return true;
          if (left <= 100'000'000) return false;
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        }
      }, py::arg("timeout_s") = -1.0)
      .def_property_readonly("running", [](PyExecutor& h) { return h.ex && h.ex->running(); })
      .def_property_readonly("closed", [](PyExecutor& h) { return !h.ex || h.ex->closed(); });
  bind_task_methods<PyExecutor>(ex);
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(realtime_core) {
  si::py_bind::bind_timer(m);
  si::py_bind::bind_executor(m);
}
