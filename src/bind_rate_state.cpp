// Bindings of the shared rate state reader (cpp/realtime_core/rate_state.*):
// RtRateState (attach, read, stale) and RtRateSnapshot. The writer side is
// RtTimer.publish and the schedulers' publish_task (bind_realtime_core.cpp).
#include <pybind11/pybind11.h>

#include <memory>
#include <string>

#include "args.hpp"
#include "bindings.hpp"
#include "closable.hpp"
#include "realtime_core/rate_state.hpp"

namespace py = pybind11;

namespace si::py_bind {
namespace {

using si::rt::RateStateReader;

const char* state_name(std::uint32_t s) {
  switch (s) {
    case SI_RATE_STATE_CREATED: return "created";
    case SI_RATE_STATE_RUNNING: return "running";
    case SI_RATE_STATE_CLOSED: return "closed";
    default: return "unknown";
  }
}

std::string snapshot_repr(const si_rate_snapshot& s) {
  return "RateSnapshot(rate_hz=" + std::to_string(s.rate_hz) + ", ticks=" + std::to_string(s.ticks) +
         ", last_emission_ns=" + std::to_string(s.last_emission_ns) + ", next_emission_ns=" +
         std::to_string(s.next_emission_ns) + ", lateness_p99_ns=" + std::to_string(s.lateness_p99_ns) +
         ", state='" + state_name(s.state) + "')";
}

void bind_snapshot(py::module_& m) {
  py::class_<si_rate_snapshot>(m, "RtRateSnapshot", R"doc(
One consistent snapshot of a shared rate state block (every field from the same
write). Times are CLOCK_MONOTONIC ns (time.monotonic_ns()); lateness percentiles
cover every tick since the timer started (or its stats were reset).
)doc")
      .def_readonly("sequence", &si_rate_snapshot::seq)
      .def_readonly("rate_hz", &si_rate_snapshot::rate_hz)
      .def_readonly("period_ns", &si_rate_snapshot::period_ns)
      .def_readonly("last_emission_ns", &si_rate_snapshot::last_emission_ns)
      .def_readonly("last_deadline_ns", &si_rate_snapshot::last_deadline_ns)
      .def_readonly("next_emission_ns", &si_rate_snapshot::next_emission_ns)
      .def_readonly("lateness_p50_ns", &si_rate_snapshot::lateness_p50_ns)
      .def_readonly("lateness_p99_ns", &si_rate_snapshot::lateness_p99_ns)
      .def_readonly("lateness_max_ns", &si_rate_snapshot::lateness_max_ns)
      .def_readonly("ticks", &si_rate_snapshot::ticks)
      .def_readonly("missed", &si_rate_snapshot::missed)
      .def_readonly("overruns", &si_rate_snapshot::overruns)
      .def_readonly("tick_index", &si_rate_snapshot::tick_index)
      .def_readonly("updated_ns", &si_rate_snapshot::updated_ns)
      .def_readonly("writer_pid", &si_rate_snapshot::writer_pid)
      .def_property_readonly("state", [](const si_rate_snapshot& s) { return state_name(s.state); })
      .def("age_ns", [](const si_rate_snapshot& s) { return si_rate_state_now_ns() - s.updated_ns; },
           "Nanoseconds since the writer last wrote the block (as of now).")
      .def("__repr__", &snapshot_repr);
}

void bind_reader(py::module_& m) {
  closable_class<RateStateReader>(m, "RtRateState", "RateState", R"doc(
A read-only view of the shared rate state block that a Timer or scheduler task
writes with publish="name", from this or any other process.
)doc")
      .def_static("attach", [](const py::object& name) { return std::make_unique<RateStateReader>(str_arg(name, "name")); },
                  py::arg("name"))
      .def_static("unlink", [](const py::object& name) { return si::rt::unlink_rate_state(str_arg(name, "name")); },
                  py::arg("name"))
      .def("read", &RateStateReader::read)
      .def("stale", [](const RateStateReader& r, const py::object& max_age_ns) {
        return r.stale(max_age_ns.is_none() ? 0 : int_arg<std::int64_t>(max_age_ns, "max_age_ns"));
      }, py::arg("max_age_ns") = py::none())
      .def_property_readonly("writer_alive", &RateStateReader::writer_alive)
      .def_property_readonly("created_ns", &RateStateReader::created_ns)
      .def_property_readonly("name", [](const RateStateReader& r) { return r.name(); })
      .def_any_state("close", &RateStateReader::close)
      .def_property_readonly_any_state("closed", &RateStateReader::closed)
      .def_any_state("__repr__", [](const RateStateReader& r) {
        return "RateState('" + r.name() + "'" + (r.closed() ? ", closed)" : ")");
      });
}

}  // namespace
}  // namespace si::py_bind

SI_REGISTER_BINDINGS(realtime_rate_state) {
  si::py_bind::bind_snapshot(m);
  si::py_bind::bind_reader(m);
}
