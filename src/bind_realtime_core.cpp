// Bindings of cpp/realtime_core: timers and their waiters, the virtual
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

#include "args.hpp"
#include "bindings.hpp"
#include "closable.hpp"
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

// ---------------------------------------------------------------- arguments
// Types and representable ranges are checked here (args.hpp), what a value
// means in the core (period bounds, policies, cpus that exist).

// Nanoseconds: an int (or numpy integer), or a float with a whole value such
// as 1e6 (documented in docs/realtime_core.md), within [lo, hi].
std::int64_t ns_arg(const py::handle& v, const char* name, std::int64_t lo = 0, std::int64_t hi = INT64_MAX) {
  if (!py::isinstance<py::float_>(v)) return int_arg<std::int64_t>(v, name, lo, hi);
  const double d = float_arg(v, name);
  if (d != std::floor(d)) throw py::value_error(std::string(name) + " must be a whole number of ns, got " + py::repr(v).cast<std::string>());
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi) || d >= 9223372036854775808.0)
    throw py::value_error(std::string(name) + " = " + py::repr(v).cast<std::string>() + " is out of range [" +
                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int_arg<std::int64_t>(py::int_(static_cast<long long>(d)), name, lo, hi);
}

// None or an object that can be called.
py::object callable_arg(const py::object& v, const char* name, bool allow_none) {
  if ((allow_none && v.is_none()) || PyCallable_Check(v.ptr())) return v;
  throw py::type_error(std::string(name) + " must be callable" + (allow_none ? " or None" : "") + ", got " +
                       py_type_name(v));
}

Period rate_arg(const py::handle& rate_hz) {
  if (py::isinstance<py::bool_>(rate_hz)) throw py::type_error("rate_hz must be a number, got bool");
  if (PyIndex_Check(rate_hz.ptr())) {  // int, numpy integer
    const std::int64_t r = int_arg<std::int64_t>(rate_hz, "rate_hz");
    if (r <= 0) throw py::value_error("rate_hz must be > 0, got " + std::to_string(r));
    if (r > 1'000'000) throw py::value_error("rate_hz must be within [1e-6, 1e6], got " + std::to_string(r));
    return Period::from_rate_fraction(r, 1);
  }
  if (!py::isinstance<py::float_>(rate_hz) && py::hasattr(rate_hz, "numerator") &&
      py::hasattr(rate_hz, "denominator") && PyNumber_Check(rate_hz.ptr())) {  // fractions.Fraction
    const std::int64_t n = int_arg<std::int64_t>(rate_hz.attr("numerator"), "rate_hz numerator");
    const std::int64_t d = int_arg<std::int64_t>(rate_hz.attr("denominator"), "rate_hz denominator", 1);
    if (n <= 0) throw py::value_error("rate_hz must be > 0");
    const double r = static_cast<double>(n) / static_cast<double>(d);
    if (r < kMinRateHz || r > kMaxRateHz) throw py::value_error("rate_hz must be within [1e-6, 1e6]");
    return Period::from_rate_fraction(n, d);
  }
  return Period::from_rate_hz(float_arg(rate_hz, "rate_hz", /*allow_inf=*/true));  // the core names inf
}

Period period_arg(const py::object& rate_hz, const py::object& period_ns) {
  if (rate_hz.is_none() == period_ns.is_none())
    throw py::value_error("give exactly one of rate_hz and period_ns");
  if (!period_ns.is_none()) return Period::from_ns(ns_arg(period_ns, "period_ns", INT64_MIN));
  return rate_arg(rate_hz);
}

MissedPolicy missed_arg(const py::handle& v) { return parse_missed_policy(str_arg(v, "on_missed")); }

std::vector<std::int64_t> latencies_arg(const py::handle& v) {
  if (py::isinstance<py::str>(v) || py::isinstance<py::bytes>(v) || !py::isinstance<py::iterable>(v))
    throw py::type_error("latencies_ns must be a sequence of ints, got " + py_type_name(v));
  std::vector<std::int64_t> out;
  for (const auto& x : py::reinterpret_borrow<py::iterable>(v)) out.push_back(ns_arg(x, "latencies_ns entry"));
  return out;
}

std::vector<int> cpus_arg(const py::handle& v) {
  if (v.is_none()) return {};
  if (py::isinstance<py::str>(v) || py::isinstance<py::bytes>(v) || !py::isinstance<py::iterable>(v))
    throw py::type_error("cpus must be a sequence of ints or None, got " + py_type_name(v));
  std::vector<int> out;
  for (const auto& x : py::reinterpret_borrow<py::iterable>(v)) out.push_back(int_arg<int>(x, "cpus entry", 0));
  if (out.empty()) throw py::value_error("cpus must name at least one CPU (or be None)");
  return out;
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
  d["p999_ns"] = p[3];
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
std::unique_ptr<Waiter> make_timer_waiter(const std::string& waiter, const py::object& clock, std::string& note) {
  if (!clock.is_none()) {
    if (!py::isinstance<VirtualClock>(clock))
      throw py::type_error("clock must be a superinstance.realtime_core.VirtualClock, got " + py_type_name(clock));
    auto vc = clock.cast<std::shared_ptr<VirtualClock>>();
    if (waiter != "auto" && waiter != "virtual")
      throw py::value_error("a timer on a virtual clock takes waiter='auto' or 'virtual', got '" + waiter + "'");
    note = "virtual clock (deterministic, for tests)";
    return make_virtual_waiter(vc);
  }
  if (waiter == "virtual") throw py::value_error("waiter='virtual' needs clock=VirtualClock(...)");
  if (waiter == "auto") return make_auto_waiter(note);
  note = waiter + " (asked for by name)";
  return make_waiter(waiter);
}

std::unique_ptr<Timer> make_timer(const py::object& rate_hz, const py::object& period_ns, const py::object& waiter,
                                  const py::object& missed, const py::object& start_ns, const py::object& clock) {
  const Period p = period_arg(rate_hz, period_ns);
  const MissedPolicy policy = missed_arg(missed);
  const std::string waiter_name = str_arg(waiter, "waiter");
  std::optional<std::int64_t> start;
  if (!start_ns.is_none()) start = ns_arg(start_ns, "start_ns");
  std::string note;
  auto w = make_timer_waiter(waiter_name, clock, note);
  return std::make_unique<Timer>(p, start, policy, std::move(w), note);
}

Tick make_tick(const py::object& index, const py::object& deadline, const py::object& woke, const py::object& lateness,
               const py::object& missed) {
  return Tick{int_arg<std::uint64_t>(index, "index"), int_arg<std::int64_t>(deadline, "deadline_ns"),
              int_arg<std::int64_t>(woke, "woke_ns"), int_arg<std::int64_t>(lateness, "lateness_ns"),
              int_arg<std::uint64_t>(missed, "missed")};
}

// Waits for the next tick in slices, looking at signals (Ctrl-C) about every
// 0.15 s; the last wait is one absolute wait for the deadline.
Tick tick_interruptibly(Timer& t) {
  for (;;) {
    std::optional<Tick> r;
    {
      py::gil_scoped_release rel;
      r = t.tick_slice(150'000'000, 100'000'000);
    }
    if (r) return *r;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

void bind_tick_and_clock(py::module_& m) {
  py::class_<Tick>(m, "RtTick", "One timer tick: grid index, absolute deadline, wake-up time, lateness, dropped deadlines.")
      .def(py::init(&make_tick), py::arg("index"), py::arg("deadline_ns"), py::arg("woke_ns"), py::arg("lateness_ns"),
           py::arg("missed") = 0)
      .def_readonly("index", &Tick::index)
      .def_readonly("deadline_ns", &Tick::deadline_ns)
      .def_readonly("woke_ns", &Tick::woke_ns)
      .def_readonly("lateness_ns", &Tick::lateness_ns)
      .def_readonly("missed", &Tick::missed)
      .def("__eq__", [](const Tick& a, const py::object& other) -> py::object {
        if (!py::isinstance<Tick>(other)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
        const Tick& b = other.cast<const Tick&>();
        return py::bool_(a.index == b.index && a.deadline_ns == b.deadline_ns && a.woke_ns == b.woke_ns &&
                         a.lateness_ns == b.lateness_ns && a.missed == b.missed);
      })
      .def("__repr__", [](const Tick& t) {
        return "Tick(index=" + std::to_string(t.index) + ", deadline_ns=" + std::to_string(t.deadline_ns) +
               ", woke_ns=" + std::to_string(t.woke_ns) + ", lateness_ns=" + std::to_string(t.lateness_ns) +
               ", missed=" + std::to_string(t.missed) + ")";
      });

  py::class_<VirtualClock, std::shared_ptr<VirtualClock>>(m, "RtVirtualClock", R"doc(
Simulated CLOCK_MONOTONIC for deterministic tests: a wait jumps to the deadline
(plus a wake latency, constant or scripted); advance() simulates work. Time
stays within [0, 2**63-1] ns: a move past the end raises OverflowError.
)doc")
      .def(py::init([](const py::object& start_ns) { return std::make_shared<VirtualClock>(ns_arg(start_ns, "start_ns")); }),
           py::arg("start_ns") = 0)
      .def("now_ns", &VirtualClock::now)
      .def("advance", [](VirtualClock& c, const py::object& ns) { c.advance(ns_arg(ns, "ns")); }, py::arg("ns"))
      .def("set", [](VirtualClock& c, const py::object& t) { c.set(ns_arg(t, "t_ns")); }, py::arg("t_ns"))
      .def("set_wake_latency", [](VirtualClock& c, const py::object& ns) { c.set_wake_latency(ns_arg(ns, "ns")); },
           py::arg("ns"))
      .def("set_wake_script", [](VirtualClock& c, const py::object& l) { c.set_wake_script(latencies_arg(l)); },
           py::arg("latencies_ns"))
      .def_property_readonly("waits", &VirtualClock::waits);
}

void bind_timer(py::module_& m) {
  bind_tick_and_clock(m);
  closable_class<Timer>(m, "RtTimer", "Timer")
      .def_init(py::init(&make_timer), py::arg("rate_hz") = py::none(), py::arg("period_ns") = py::none(),
                py::arg("waiter") = "auto", py::arg("on_missed") = "skip", py::arg("start_ns") = py::none(),
                py::arg("clock") = py::none())
      .def("tick", &tick_interruptibly)
      .def("publish", [](Timer& t, const py::object& name) { t.publish(str_arg(name, "publish")); }, py::arg("name"))
      .def("set_rate", [](Timer& t, const py::object& rate_hz, const py::object& period_ns) {
        t.set_period(period_arg(rate_hz, period_ns));
      }, py::arg("rate_hz") = py::none(), py::arg("period_ns") = py::none())
      .def("set_on_missed", [](Timer& t, const py::object& p) { t.set_policy(missed_arg(p)); }, py::arg("on_missed"))
      .def_any_state("close", [](Timer& t) {
        py::gil_scoped_release r;
        t.close();
      })
      .def_property_readonly_any_state("closed", &Timer::closed)
      .def("stats", [](const Timer& t) { return timer_stats_dict(t.stats()); })
      .def("reset_stats", &Timer::reset_stats)
      .def_property_readonly("waiter", [](const Timer& t) { return t.backend(); })
      .def_property_readonly("waiter_note", [](const Timer& t) { return t.backend_note(); })
      .def_property_readonly("waiter_info", &Timer::backend_info)
      .def_property_readonly("period_ns", [](const Timer& t) { return t.period().rounded_ns(); })
      .def_property_readonly("period_fraction", [](const Timer& t) {
        const Period p = t.period();
        return py::make_tuple(p.num, p.den);
      })
      .def_property_readonly("rate_hz", [](const Timer& t) { return t.period().rate_hz(); })
      .def_property_readonly("on_missed", [](const Timer& t) { return std::string(missed_policy_name(t.policy())); })
      .def_property_readonly("next_deadline_ns", &Timer::next_deadline)
      .def_property_readonly("next_index", &Timer::next_index)
      .def("now_ns", &Timer::now_ns)
      .def("async_fd", &Timer::async_fd)
      .def("async_arm", &Timer::async_arm)
      .def("async_try_complete", &Timer::async_try_complete);

  m.def("realtime_monotonic_ns", &monotonic_ns, "CLOCK_MONOTONIC in ns (the clock of every timer deadline).");
  m.def("realtime_waiters", [] { return backend_names(); }, "Names of the timer waiters (besides auto and virtual).");
  m.def("realtime_probe_waiters", [] {
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
  m.def("_realtime_simulate_refusal", [](const py::object& waiter, const py::object& reason) {
    set_simulated_refusal(str_arg(waiter, "waiter"), str_arg(reason, "reason"));
  }, py::arg("waiter"), py::arg("reason"),
        "Test hook: make creating `waiter` fail as a refusing platform would (empty reason clears).");
  m.def("_realtime_clear_refusals", &clear_simulated_refusals);
}

// ---------------------------------------------------------------- tasks
// A Python callback as a task body. An exception that is not an Exception
// (KeyboardInterrupt from Ctrl-C in a virtual-clock run, SystemExit) is kept
// like any other and also stops the loop (`stop_loop`), whatever on_error says.
TaskBody python_body(py::object fn, py::object sink, std::string name, std::function<void()> stop_loop) {
  auto f = std::make_shared<PyRef>(std::move(fn));
  auto s = std::make_shared<PyRef>(std::move(sink));
  return [f, s, name, stop_loop](const Tick& t) -> bool {
    py::gil_scoped_acquire g;
    try {
      f->obj(t);
      return true;
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_Exception)) stop_loop();
      try {
        if (!s->obj.is_none()) s->obj(name, e.value());
      } catch (py::error_already_set&) {
      }
      return false;
    }
  };
}

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

ErrorPolicy error_policy_arg(const py::handle& v) {
  const std::string s = str_arg(v, "on_error");
  if (s == "continue") return ErrorPolicy::Continue;
  if (s == "stop") return ErrorPolicy::Stop;
  throw py::value_error("on_error must be 'continue' or 'stop', got '" + s + "'");
}

std::int64_t start_arg(const py::object& start_ns, const Period& p, std::int64_t now) {
  if (start_ns.is_none()) return one_period_after(now, p);
  return ns_arg(start_ns, "start_ns");
}

// A task's schedule as the caller gave it, checked.
struct TaskSpec {
  std::string name;
  Period period;
  MissedPolicy missed;
  std::int64_t start_ns;
};

template <class Holder>
TaskSpec task_spec(Holder& h, const py::object& rate_hz, const py::object& period_ns, const py::object& name,
                   const py::object& missed, const py::object& start_ns) {
  TaskSpec t{str_arg(name, "name"), period_arg(rate_hz, period_ns), missed_arg(missed), 0};
  t.start_ns = start_arg(start_ns, t.period, h.now());
  return t;
}

// Methods shared by the threaded executor and the virtual-clock scheduler;
// every one raises ClosedError once the holder is closed (closable_class).
template <class Holder>
void bind_task_methods(closable_class<Holder>& cls) {
  cls.def("add_task", [](Holder& h, const py::object& fn, const py::object& rate_hz, const py::object& period_ns,
                         const py::object& name, const py::object& missed, const py::object& start_ns) {
          callable_arg(fn, "fn", false);
          TaskSpec t = task_spec(h, rate_hz, period_ns, name, missed, start_ns);
          SchedulerCore* core = &h.core();
          auto body = python_body(fn, h.sink, t.name, [core] { core->stop(); });
          return core->add(t.name, t.period, t.start_ns, t.missed, std::move(body), python_prelude(h.python_lead_ns));
        }, py::arg("fn"), py::arg("rate_hz") = py::none(), py::arg("period_ns") = py::none(), py::arg("name") = "",
        py::arg("on_missed") = "skip", py::arg("start_ns") = py::none())
      .def("add_native_task", [](Holder& h, const py::object& address, const py::object& user_data,
                                 const py::object& rate_hz, const py::object& period_ns, const py::object& name,
                                 const py::object& missed, const py::object& start_ns) {
          const auto fn = int_arg<std::uintptr_t>(address, "address");
          const auto ud = int_arg<std::uintptr_t>(user_data, "user_data");
          TaskSpec t = task_spec(h, rate_hz, period_ns, name, missed, start_ns);
          return h.core().add(t.name, t.period, t.start_ns, t.missed, native_body(fn, ud));
        }, py::arg("address"), py::arg("user_data") = 0, py::arg("rate_hz") = py::none(),
        py::arg("period_ns") = py::none(), py::arg("name") = "", py::arg("on_missed") = "skip",
        py::arg("start_ns") = py::none())
      .def("remove_task", [](Holder& h, const py::object& id) { h.core().remove(int_arg<std::uint64_t>(id, "task_id")); },
           py::arg("task_id"))
      .def("publish_task", [](Holder& h, const py::object& id, const py::object& name) {
        h.core().publish(int_arg<std::uint64_t>(id, "task_id"), str_arg(name, "publish"));
      }, py::arg("task_id"), py::arg("name"))
      .def("task_ids", [](Holder& h) { return h.core().ids(); })
      .def("task_stats", [](Holder& h, const py::object& id) {
        return task_stats_dict(h.core().stats(int_arg<std::uint64_t>(id, "task_id")));
      }, py::arg("task_id"))
      .def_property_readonly("total_errors", [](Holder& h) { return h.core().total_errors(); })
      .def("now_ns", [](Holder& h) { return h.now(); });
}

struct PyScheduler {  // virtual clock, run synchronously by run_until
  std::shared_ptr<VirtualClock> clock;
  std::unique_ptr<Waiter> waiter;
  SchedulerCore sched;
  py::object sink;
  bool closed_ = false;
  std::int64_t python_lead_ns = 0;  // virtual clock: no prelude
  PyScheduler(std::shared_ptr<VirtualClock> c, ErrorPolicy e, py::object s)
      : clock(std::move(c)), waiter(make_virtual_waiter(clock)), sched(e), sink(std::move(s)) {}
  SchedulerCore& core() { return sched; }
  std::int64_t now() { return clock->now(); }
  bool closed() const { return closed_; }
  void close() {
    closed_ = true;
    sched.stop();   // a run_until in another thread ends after its current call
    sched.clear();  // lets go of the callbacks
  }
  // Runs with the GIL released, in chunks of steps, and looks at signals
  // (Ctrl-C) every ~20 ms of work, so a long simulated run stays interruptible.
  // The GIL stays released for whole 20 ms stretches rather than per chunk: a
  // thread waiting for it (say, the one that sends the signal) cannot win it in
  // the few microseconds between two chunks, and would starve.
  void run_until(std::int64_t until_ns) {
    sched.clear_stop();
    for (;;) {
      bool done;
      {
        py::gil_scoped_release r;
        const std::int64_t slice_end = monotonic_ns() + 20'000'000;
        do {
          done = sched.run_until(*waiter, until_ns, 4096);
        } while (!done && monotonic_ns() < slice_end);
      }
      if (done) return;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }
};

struct PyExecutor {
  std::unique_ptr<Executor> ex;  // lives until the Python object goes: a wait_stopped in flight may use it
  py::object sink;
  std::int64_t python_lead_ns = 0;  // upper bound of the Python tasks' prelude lead
  std::atomic<bool> closed_{false};
  ~PyExecutor() {
    close();
    if (PyGILState_Check()) {
      py::gil_scoped_release r;
      ex.reset();
    } else {
      ex.reset();
    }
  }
  SchedulerCore& core() { return ex->scheduler(); }
  std::int64_t now() { return ex->now_ns(); }
  bool closed() const { return closed_.load(); }
  // Stops the loop, joins the thread and lets go of the tasks. From a
  // callback it only asks the loop to stop (a thread cannot join itself).
  void close() {
    if (!ex || closed_.load()) return;
    if (ex->on_loop_thread()) {
      ex->request_stop();
      return;
    }
    closed_.store(true);
    auto shut = [this] {
      ex->stop();
      ex->scheduler().clear();
    };
    if (PyGILState_Check()) {
      py::gil_scoped_release r;
      shut();
    } else {
      shut();
    }
  }
  // In slices of 100 ms, so that signals (Ctrl-C) are seen while waiting.
  bool wait_stopped(double timeout_s) {
    if (ex->on_loop_thread())
      throw py::value_error("join()/wait_stopped() from the executor's own callback would wait for itself forever");
    const bool forever = timeout_s < 0 || std::isinf(timeout_s) || timeout_s > 1e9;  // 1e9 s: 31 years
    const std::int64_t end = forever ? INT64_MAX : monotonic_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
    for (;;) {
      const std::int64_t left = forever ? INT64_MAX : end - monotonic_ns();
      bool stopped;
      {
        py::gil_scoped_release r;
        stopped = ex->wait_stopped(std::max<std::int64_t>(0, std::min<std::int64_t>(left, 100'000'000)));
      }
      if (stopped) return true;
      if (left <= 100'000'000) return false;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }
};

struct ThreadGil {  // one Python thread state for the executor thread's life
  PyGILState_STATE state{};
  PyThreadState* saved = nullptr;
  bool held = false;
};

ExecutorConfig executor_config(const py::object& policy, const py::object& priority, const py::object& cpus,
                               const py::object& lock_memory, const py::object& runtime_ns,
                               const py::object& deadline_ns, const py::object& period_ns,
                               const py::object& prefault_stack_bytes, const py::object& waiter) {
  ExecutorConfig c;
  c.policy = str_arg(policy, "policy");
  c.priority = int_arg<int>(priority, "priority");
  c.cpus = cpus_arg(cpus);
  c.lock_memory = bool_arg(lock_memory, "lock_memory");
  c.runtime_ns = ns_arg(runtime_ns, "runtime_ns");
  c.deadline_ns = ns_arg(deadline_ns, "deadline_ns");
  c.period_ns = ns_arg(period_ns, "period_ns");
  c.prefault_stack_bytes = static_cast<std::size_t>(int_arg<std::int64_t>(prefault_stack_bytes, "prefault_stack_bytes", 0));
  c.backend = str_arg(waiter, "waiter");
  validate(c);
  return c;
}

std::unique_ptr<PyExecutor> make_executor(const ExecutorConfig& c, ErrorPolicy ep, py::object sink,
                                          std::int64_t python_lead_ns) {
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
}

py::dict obtained_dict(const PyExecutor& h) {
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
  d["stack_prefaulted_bytes"] = o.stack_prefaulted;
  d["tid"] = o.tid;
  d["slice_ns"] = o.fair_slice_ns;
  d["refused"] = o.refused;
  d["waiter"] = h.ex->backend();
  return d;
}

void submit_job(PyExecutor& h, const py::object& job) {
  callable_arg(job, "job", false);
  auto f = std::make_shared<PyRef>(job);
  h.core().post([f] {
    py::gil_scoped_acquire g;
    try {
      f->obj();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("superinstance RealtimeExecutor job");
    }
  });
}

void bind_executor(py::module_& m) {
  closable_class<PyScheduler> sched(m, "RtScheduler", "Scheduler",
                                    "Earliest-deadline-first tasks on a virtual clock (run_until).");
  sched.def_init(py::init([](const py::object& clock, const py::object& on_error, const py::object& sink) {
                   if (!py::isinstance<VirtualClock>(clock))
                     throw py::type_error("clock must be a superinstance.realtime_core.VirtualClock, got " +
                                          py_type_name(clock));
                   return std::make_unique<PyScheduler>(clock.cast<std::shared_ptr<VirtualClock>>(),
                                                        error_policy_arg(on_error), callable_arg(sink, "error_sink", true));
                 }),
                 py::arg("clock"), py::arg("on_error") = "continue", py::arg("error_sink") = py::none())
      .def("run_until", [](PyScheduler& s, const py::object& until_ns) { s.run_until(ns_arg(until_ns, "until_ns")); },
           py::arg("until_ns"))
      .def_any_state("close", [](PyScheduler& s) { s.close(); })
      .def_property_readonly_any_state("closed", [](const PyScheduler& s) { return s.closed(); })
      .def_property_readonly("stopped", [](PyScheduler& s) { return s.sched.stopping(); });
  bind_task_methods<PyScheduler>(sched);

  closable_class<PyExecutor> ex(m, "RtExecutor", "RealtimeExecutor",
                                "A native real-time thread running an earliest-deadline-first task loop.");
  ex.def_init(py::init([](const py::object& policy, const py::object& priority, const py::object& cpus,
                          const py::object& lock_memory, const py::object& runtime_ns, const py::object& deadline_ns,
                          const py::object& period_ns, const py::object& prefault_stack_bytes,
                          const py::object& waiter, const py::object& on_error, const py::object& sink,
                          const py::object& python_lead_ns) {
                const ExecutorConfig c = executor_config(policy, priority, cpus, lock_memory, runtime_ns, deadline_ns,
                                                         period_ns, prefault_stack_bytes, waiter);
                const ErrorPolicy ep = error_policy_arg(on_error);
                const std::int64_t lead = ns_arg(python_lead_ns, "python_lead_ns");
                return make_executor(c, ep, callable_arg(sink, "error_sink", true), lead);
              }),
              py::arg("policy") = "other", py::arg("priority") = 0, py::arg("cpus") = py::none(),
              py::arg("lock_memory") = true, py::arg("runtime_ns") = 0, py::arg("deadline_ns") = 0,
              py::arg("period_ns") = 0, py::arg("prefault_stack_bytes") = 256 * 1024, py::arg("waiter") = "timerfd",
              py::arg("on_error") = "continue", py::arg("error_sink") = py::none(), py::arg("python_lead_ns") = 0)
      .def_property_readonly("obtained", &obtained_dict)
      .def("submit", &submit_job, py::arg("job"))
      .def("wait_stopped", [](PyExecutor& h, const py::object& timeout_s) {
        return h.wait_stopped(float_arg(timeout_s, "timeout_s", /*allow_inf=*/true));
      }, py::arg("timeout_s") = -1.0)
      .def_property_readonly("running", [](const PyExecutor& h) { return h.ex->running(); })
      .def_any_state("close", [](PyExecutor& h) { h.close(); })
      .def_property_readonly_any_state("closed", [](const PyExecutor& h) { return h.closed(); });
  bind_task_methods<PyExecutor>(ex);
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(realtime_core) {
  si::py_bind::bind_timer(m);
  si::py_bind::bind_executor(m);
}
