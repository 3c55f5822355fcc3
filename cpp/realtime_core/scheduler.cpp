#include "realtime_core/scheduler.hpp"

#include <algorithm>

#include "common/errors.hpp"

namespace si::rt {

std::uint64_t SchedulerCore::add(std::string name, Period period, std::int64_t start_ns, MissedPolicy missed,
                                 TaskBody body, TaskPrelude prelude) {
  if (!body) throw std::invalid_argument("task body is empty");
  std::unique_ptr<MarginTuner> lead;
  if (prelude) {
    const std::int64_t quarter = std::max<std::int64_t>(1, period.rounded_ns() / 4);
    const std::int64_t hi = std::min(prelude.max_lead_ns, quarter);
    const std::int64_t lo = std::min(prelude.min_lead_ns, hi);
    lead = std::make_unique<MarginTuner>(hi, lo, hi);  // start wide, tighten from measurements
  }
  std::uint64_t id;
  {
    std::lock_guard<std::mutex> g(mu_);
    id = next_id_++;
    auto t = std::make_shared<Task>(Task{id, name.empty() ? "task-" + std::to_string(id) : std::move(name),
                                         TimerCore(period, start_ns, missed), std::move(body), std::move(prelude),
                                         std::move(lead), LatencyHistogram(), 0, 0, false});
    tasks_.emplace(id, std::move(t));
  }
  notify();
  return id;
}

void SchedulerCore::remove(std::uint64_t id) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) throw UnknownId("no task with id " + std::to_string(id));
    it->second->removed = true;
    close_publisher(*it->second);
    tasks_.erase(it);
  }
  notify();
}

void SchedulerCore::publish(std::uint64_t id, const std::string& name) {
  auto w = std::make_shared<RateStateWriter>(name);  // outside the lock: system calls
  std::lock_guard<std::mutex> g(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) throw UnknownId("no task with id " + std::to_string(id));
  close_publisher(*it->second);
  it->second->core.set_publisher(std::move(w));
}

void SchedulerCore::close_publisher(Task& t) {
  if (t.core.publisher()) t.core.publisher()->close();  // readers see state closed
  t.core.set_publisher(nullptr);
}

std::vector<std::uint64_t> SchedulerCore::ids() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::uint64_t> out;
  for (const auto& kv : tasks_) out.push_back(kv.first);
  return out;
}

std::size_t SchedulerCore::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return tasks_.size();
}

TaskStats SchedulerCore::stats(std::uint64_t id) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) throw UnknownId("no task with id " + std::to_string(id));
  const Task& t = *it->second;
  TaskStats s;
  s.id = t.id;
  s.name = t.name;
  s.period = t.core.grid().period();
  s.timer = t.core.stats();
  s.runtime = t.runtime;
  s.overruns = t.overruns;
  s.errors = t.errors;
  s.lead_ns = t.lead ? t.lead->margin() : 0;
  return s;
}

void SchedulerCore::post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> g(mu_);
    jobs_.push_back(std::move(job));
  }
  notify();
}

void SchedulerCore::record_failure(std::exception_ptr e) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (exceptions_.size() < 16) exceptions_.push_back(std::move(e));
  }
  total_errors_.fetch_add(1);
  stop();
}

std::vector<std::exception_ptr> SchedulerCore::take_exceptions() {
  std::lock_guard<std::mutex> g(mu_);
  auto out = std::move(exceptions_);
  exceptions_.clear();
  return out;
}

bool SchedulerCore::step(Waiter& w, std::int64_t horizon_ns) {
  std::shared_ptr<Task> task;
  std::function<void()> job;
  std::int64_t deadline = horizon_ns;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!jobs_.empty()) {
      job = std::move(jobs_.front());
      jobs_.pop_front();
    } else {
      for (const auto& kv : tasks_) {  // ids ascending: ties go to the older task
        const auto due = kv.second->core.next_deadline_if_representable();
        if (!due) continue;  // past the end of the clock: never due
        const std::int64_t d = *due;
        if (!task || d < deadline) {
          if (d <= horizon_ns) {
            task = kv.second;
            deadline = d;
          }
        }
      }
    }
  }
  if (job) {
    job();  // posted jobs report their own errors
    return true;
  }
  if (!task) {
    // Nothing due before the horizon: wait for it (or for a change).
    if (horizon_ns != INT64_MAX) {
      w.wait_until(horizon_ns);
    } else {
      w.wait_until(INT64_MAX);
    }
    return false;
  }
  bool entered = false;
  struct Leave {  // leave() on every path once enter() ran
    const bool& entered;
    Task& task;
    ~Leave() {
      if (entered) task.prelude.leave();
    }
  } leave_guard{entered, *task};
  if (!wait_for(w, *task, deadline, entered)) return false;
  Tick tick;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (task->removed) return true;
    tick = task->core.complete(w.now_ns());
  }
  bool ok = true;
  try {
    ok = task->body(tick);
  } catch (...) {
    ok = false;
    std::lock_guard<std::mutex> g(mu_);
    if (exceptions_.size() < 16) exceptions_.push_back(std::current_exception());
  }
  if (entered) {  // give the GIL back before the bookkeeping
    entered = false;
    task->prelude.leave();
  }
  const std::int64_t end = w.now_ns();
  {
    std::lock_guard<std::mutex> g(mu_);
    const std::int64_t run = end - tick.woke_ns;
    task->runtime.record(run > 0 ? run : 0);
    const Period& p = task->core.grid().period();
    if (static_cast<__int128>(run) * p.den > static_cast<__int128>(p.num)) ++task->overruns;
    if (!ok) ++task->errors;
  }
  if (!ok) {
    total_errors_.fetch_add(1);
    if (error_policy_ == ErrorPolicy::Stop) stop();
  }
  return true;
}

bool SchedulerCore::wait_for(Waiter& w, Task& task, std::int64_t deadline, bool& entered) {
  if (!task.lead || !w.real_time()) return w.wait_until(deadline);
  std::int64_t target;
  {
    std::lock_guard<std::mutex> g(mu_);  // stats() reads the tuner from other threads
    target = deadline - task.lead->margin();
  }
  if (!w.wait_until(target)) return false;
  entered = task.prelude.enter();
  std::int64_t now = w.now_ns();
  {
    std::lock_guard<std::mutex> g(mu_);
    task.lead->add(now - target);  // wake-up lateness + the cost of enter()
  }
  while (now < deadline) {  // at most one lead: spin, the call path stays warm
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    now = w.now_ns();
  }
  return true;
}

bool SchedulerCore::due_by(std::int64_t t) const {
  std::lock_guard<std::mutex> g(mu_);
  if (!jobs_.empty()) return true;
  for (const auto& kv : tasks_) {
    const auto d = kv.second->core.next_deadline_if_representable();
    if (d && *d <= t) return true;
  }
  return false;
}

bool SchedulerCore::run_until(Waiter& w, std::int64_t until_ns, std::uint64_t max_steps) {
  // Every step runs a job or a call due before until_ns (which moves that
  // task's next deadline on), so the loop ends; max_steps bounds one go of it.
  for (std::uint64_t n = 0; !stopping(); ++n) {
    if (n == max_steps) return false;
    if (w.now_ns() >= until_ns) break;  // here until_ns > now >= 0: until_ns - 1 is safe
    if (!due_by(until_ns - 1)) {
      w.wait_until(until_ns);
      break;
    }
    step(w, until_ns - 1);
  }
  return true;
}

void SchedulerCore::clear() {
  std::map<std::uint64_t, std::shared_ptr<Task>> tasks;
  std::deque<std::function<void()>> jobs;
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& kv : tasks_) {
      kv.second->removed = true;
      close_publisher(*kv.second);
    }
    tasks.swap(tasks_);
    jobs.swap(jobs_);
  }  // destroyed here, without the lock (bodies may take the GIL to let go of Python objects)
  notify();
}

}  // namespace si::rt
