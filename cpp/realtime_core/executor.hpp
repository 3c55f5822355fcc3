// A native thread with real-time scheduling that runs a SchedulerCore.
//
// The thread asks for the configured policy (SCHED_FIFO / SCHED_RR with a
// priority, SCHED_DEADLINE with runtime <= deadline <= period, or
// SCHED_OTHER), CPU affinity and mlockall, and pre-faults its stack. Whatever
// the platform refuses is recorded in `obtained()` (refusals) and the thread
// runs with what it got; a strict caller can then refuse to go on.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "realtime_core/scheduler.hpp"
#include "realtime_core/waiter.hpp"

namespace si::rt {

struct ExecutorConfig {
  std::string policy = "other";  // fifo | rr | deadline | other
  int priority = 0;              // 1..99 for fifo/rr
  std::vector<int> cpus;         // empty: leave affinity alone
  bool lock_memory = true;
  std::int64_t runtime_ns = 0, deadline_ns = 0, period_ns = 0;  // SCHED_DEADLINE
  std::size_t prefault_stack_bytes = 256 * 1024;
  std::string backend = "timerfd";  // the wait source of the loop
};

// Throws std::invalid_argument for a configuration no kernel accepts.
void validate(const ExecutorConfig& c);

struct Obtained {
  std::string policy = "other";
  int priority = 0;
  std::int64_t runtime_ns = 0, deadline_ns = 0, period_ns = 0;
  std::vector<int> cpus;  // the thread's affinity after setup
  bool memory_locked = false;
  std::size_t stack_prefaulted = 0;
  int tid = 0;
  std::uint64_t fair_slice_ns = 0;  // short EEVDF slice of a SCHED_OTHER thread (0: none)
  std::vector<std::string> refused;  // one line per refused request
};

class Executor {
 public:
  // thread_start/thread_exit run on the new thread (the bindings use them to
  // keep one Python thread state for the thread's life).
  Executor(ExecutorConfig config, std::function<void()> thread_start = {}, std::function<void()> thread_exit = {},
           ErrorPolicy errors = ErrorPolicy::Continue);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const Obtained& obtained() const { return obtained_; }
  SchedulerCore& scheduler() { return sched_; }
  const ExecutorConfig& config() const { return config_; }
  // Now on the loop's clock.
  std::int64_t now_ns() const { return monotonic_ns(); }
  // Stops the loop after the call in progress and joins the thread. Idempotent.
  // Called from the loop's own thread (a callback), it only asks the loop to
  // stop; the join happens on the next stop() from another thread.
  void stop();
  // Asks the loop to stop after the call in progress, without waiting.
  void request_stop();
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  bool running() const { return running_.load(); }
  bool closed() const { return closed_.load(); }
  // Blocks until stopped (by stop(), or by the error policy) or timeout; true if stopped.
  bool wait_stopped(std::int64_t timeout_ns);
  std::string backend() const { return backend_; }

 private:
  void thread_main();
  void apply_attributes();

  ExecutorConfig config_;
  SchedulerCore sched_;
  std::unique_ptr<Waiter> waiter_;
  std::string backend_;
  Obtained obtained_;
  std::function<void()> start_hook_, exit_hook_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> running_{false};
  std::atomic<bool> closed_{false};
  bool locked_memory_ = false;
};

}  // namespace si::rt
