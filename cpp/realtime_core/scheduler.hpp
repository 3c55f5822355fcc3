// Several periodic tasks on one thread, earliest deadline first.
//
// SchedulerCore holds the tasks (each a TimerCore: grid, missed-tick policy,
// lateness statistics) and runs one step at a time with a Waiter, so the same
// logic runs on a real executor thread or, deterministically, on a virtual
// clock. Task bodies are called with no lock held; add/remove are safe from
// any thread while the loop runs (a task removed while it runs finishes that
// call and is not called again). A task whose next deadline lies past the end
// of the int64 nanosecond clock is never due again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/histogram.hpp"
#include "realtime_core/timer.hpp"

namespace si::rt {

// A task body returns false (or throws) to report a failed call.
using TaskBody = std::function<bool(const Tick&)>;

enum class ErrorPolicy { Continue, Stop };

// Optional preparation of a task's call, done shortly BEFORE each deadline.
// A thread that slept a whole period wakes with cold caches: for a Python
// callback, taking the GIL and building the Tick object then costs tens of
// microseconds, all of it after the deadline. With a prelude the loop wakes
// `lead` early, runs `enter` (the bindings take the GIL and run the call path
// once), spins to the deadline and calls the body warm; `leave` runs after the
// body when `enter` returned true. The lead adapts like the hybrid backend's
// margin (P99 of wake-up + enter overshoot, x1.25 + 2 us), within
// [min_lead_ns, min(max_lead_ns, period / 4)]. Real clocks only.
struct TaskPrelude {
  std::function<bool()> enter;
  std::function<void()> leave;
  std::int64_t min_lead_ns = 5'000;
  std::int64_t max_lead_ns = 0;  // 0: no prelude
  explicit operator bool() const { return enter && max_lead_ns > 0; }
};

struct TaskStats {
  std::uint64_t id = 0;
  std::string name;
  Period period;
  TimerStats timer;          // lateness of the start of each call; missed (skip)
  LatencyHistogram runtime;  // duration of each call
  std::uint64_t overruns = 0;  // calls that ran longer than one period
  std::uint64_t errors = 0;    // calls that failed
  std::int64_t lead_ns = 0;    // current lead of the task's prelude (0: none)
};

class SchedulerCore {
 public:
  explicit SchedulerCore(ErrorPolicy policy = ErrorPolicy::Continue) : error_policy_(policy) {}

  // start_ns: first deadline (default: now + one period on `now_ns`).
  std::uint64_t add(std::string name, Period period, std::int64_t start_ns, MissedPolicy missed, TaskBody body,
                    TaskPrelude prelude = {});
  // Throws si::UnknownId if no such task.
  void remove(std::uint64_t id);
  // The task writes the shared rate state block `name` after every call's
  // tick (rate_state.hpp); closed and unlinked when the task is removed.
  void publish(std::uint64_t id, const std::string& name);
  std::vector<std::uint64_t> ids() const;
  TaskStats stats(std::uint64_t id) const;
  std::size_t size() const;

  // A one-shot job run before the next periodic task.
  void post(std::function<void()> job);

  // Waits for the earliest deadline and runs that task (or a posted job).
  // Returns false if the wait was interrupted (by add/remove/post/stop) or
  // there was nothing to run before `horizon_ns`.
  bool step(Waiter& w, std::int64_t horizon_ns = INT64_MAX);
  // Runs, while the clock is before until_ns, the jobs and the calls due
  // before until_ns (earliest deadline first), then lets the clock reach
  // until_ns: a call due at until_ns or later never starts, one started
  // before it may run past it. Returns true when done or stopped, false after
  // max_steps steps (call again: the bindings look at signals in between).
  bool run_until(Waiter& w, std::int64_t until_ns, std::uint64_t max_steps = UINT64_MAX);
  // Drops every task and queued job (close: releases what their bodies hold).
  void clear();
  void stop() { stopping_.store(true); }
  bool stopping() const { return stopping_.load(); }
  void clear_stop() { stopping_.store(false); }
  // Called after every change a sleeping loop must notice (default: none).
  void set_notifier(std::function<void()> n) { notify_ = std::move(n); }

  std::uint64_t total_errors() const { return total_errors_.load(); }
  // A failure of the loop itself (not of a task body): counted as an error,
  // kept with the body exceptions, and the loop stops.
  void record_failure(std::exception_ptr e);
  // Errors of bodies that threw a C++ exception (first 16 kept).
  std::vector<std::exception_ptr> take_exceptions();
  ErrorPolicy error_policy() const { return error_policy_; }

 private:
  struct Task {
    std::uint64_t id;
    std::string name;
    TimerCore core;
    TaskBody body;
    TaskPrelude prelude;
    std::unique_ptr<MarginTuner> lead;  // set when prelude is
    LatencyHistogram runtime;
    std::uint64_t overruns = 0, errors = 0;
    bool removed = false;
  };
  // Waits for `deadline`, through the task's prelude if it has one. Returns
  // false when the wait was interrupted; `entered` says whether leave() is due.
  bool wait_for(Waiter& w, Task& task, std::int64_t deadline, bool& entered);
  // Whether a job is queued or a task is due at or before t.
  bool due_by(std::int64_t t) const;
  void close_publisher(Task& t);
  void notify() {
    if (notify_) notify_();
  }

  mutable std::mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<Task>> tasks_;
  std::deque<std::function<void()>> jobs_;
  std::uint64_t next_id_ = 1;
  std::function<void()> notify_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> total_errors_{0};
  std::vector<std::exception_ptr> exceptions_;
  ErrorPolicy error_policy_;
};

}  // namespace si::rt
