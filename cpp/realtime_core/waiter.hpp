// Wait sources ("backends") of the timers and the executor: each one waits
// until an absolute CLOCK_MONOTONIC deadline in nanoseconds.
//
//   clock_nanosleep  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME); the
//                    thread's timer slack is set to 1 ns for the sleep and
//                    restored afterwards.
//   timerfd          timerfd_settime(TFD_TIMER_ABSTIME) + poll/read of the
//                    expiration count; interruptible at once through an eventfd.
//   io_uring         raw io_uring_setup/io_uring_enter with mmap'd rings and a
//                    single-shot IORING_OP_TIMEOUT, IORING_TIMEOUT_ABS, count 0
//                    (never multishot: it re-arms relatively and drifts).
//   hybrid           clock_nanosleep to (deadline - margin), then spin on the
//                    clock; the margin is calibrated at start from the sleep's
//                    overshoot and re-tuned from a moving P99 (MarginTuner),
//                    within [5 us, 500 us] and at most half the time left.
//   virtual          a VirtualClock: waiting advances simulated time, for
//                    deterministic tests of everything above the wait.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "realtime_core/sched_attr.hpp"

namespace si::rt {

// CLOCK_MONOTONIC in nanoseconds (the clock of Python's time.monotonic_ns()).
std::int64_t monotonic_ns();

class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual std::string name() const = 0;
  virtual std::int64_t now_ns() { return monotonic_ns(); }
  // Returns once now_ns() >= deadline_ns (true), or early when interrupt() was
  // called (false; the interrupt is consumed).
  virtual bool wait_until(std::int64_t deadline_ns) = 0;
  // Thread-safe: makes a current or the next wait_until return false.
  virtual void interrupt() { interrupted_.store(true, std::memory_order_release); }
  // Whether the backend is a real clock (false for the virtual clock).
  virtual bool real_time() const { return true; }
  // Backend-specific facts (margin of hybrid, ...): "key=value" lines.
  virtual std::string info() const { return {}; }

 protected:
  bool take_interrupt() { return interrupted_.exchange(false, std::memory_order_acq_rel); }
  std::atomic<bool> interrupted_{false};
};

// Simulated time for tests. wait_until(d) jumps to max(now, d) plus a wake
// latency (constant, or taken in turn from a script, cycling). advance()
// simulates work. Shared by reference between a test and the timers it drives.
// Time stays within [0, INT64_MAX] like CLOCK_MONOTONIC: a move past the end
// throws std::overflow_error and leaves the clock where it was.
class VirtualClock {
 public:
  explicit VirtualClock(std::int64_t start_ns = 0);
  std::int64_t now() const;
  void advance(std::int64_t ns);  // ns >= 0
  void set(std::int64_t t);       // t >= now
  void set_wake_latency(std::int64_t ns);
  void set_wake_script(std::vector<std::int64_t> latencies);
  // Used by the waiter: moves to max(now, deadline) + latency; returns the new now.
  std::int64_t sleep_until(std::int64_t deadline);
  std::uint64_t waits() const;

 private:
  mutable std::mutex mu_;
  std::int64_t now_;
  std::int64_t latency_ = 0;
  std::vector<std::int64_t> script_;
  std::size_t script_pos_ = 0;
  std::uint64_t waits_ = 0;
};

std::unique_ptr<Waiter> make_virtual_waiter(std::shared_ptr<VirtualClock> clock);

// The hybrid backend's margin: calibrated from a first batch of overshoot
// samples, then re-tuned every `retune_every` samples to
// clamp(P99(last `window` overshoots) * 1.25 + 2 us, min, max).
class MarginTuner {
 public:
  MarginTuner(std::int64_t initial_ns, std::int64_t min_ns, std::int64_t max_ns,
              std::size_t window = 256, std::size_t retune_every = 32);
  void add(std::int64_t overshoot_ns);
  std::int64_t margin() const { return margin_; }
  std::int64_t min_margin() const { return min_; }
  std::int64_t max_margin() const { return max_; }
  std::uint64_t retunes() const { return retunes_; }
  // P99 (nearest rank) of the samples in the window; 0 when empty.
  std::int64_t window_p99() const;
  void retune();

 private:
  std::int64_t margin_, min_, max_;
  std::vector<std::int64_t> ring_;
  std::size_t window_, retune_every_, pos_ = 0, filled_ = 0, since_ = 0;
  std::uint64_t retunes_ = 0;
};

// Names accepted by make_waiter(), in the order `auto` tries them.
const std::vector<std::string>& backend_names();
const std::vector<std::string>& auto_order();

// Creates a backend by name; throws si::BackendUnavailable (with the reason)
// when the platform refuses it, std::invalid_argument for an unknown name.
std::unique_ptr<Waiter> make_waiter(const std::string& name);
// `auto`: the first backend of auto_order() that works; `why` receives the
// choice and the reasons of the refused ones.
std::unique_ptr<Waiter> make_auto_waiter(std::string& why);

// Test hook standing in for a platform that refuses a backend: while set,
// make_waiter(name) throws BackendUnavailable with this reason. An empty
// reason clears it.
void set_simulated_refusal(const std::string& name, const std::string& reason);
void clear_simulated_refusals();

// Result of trying to create each backend, for platform reports.
struct BackendProbe {
  std::string name;
  bool ok = false;
  std::string detail;
};
std::vector<BackendProbe> probe_backends();

// RAII: sets the calling thread's timer slack (prctl PR_SET_TIMERSLACK) and
// restores the previous value.
class TimerSlackGuard {
 public:
  explicit TimerSlackGuard(long slack_ns);
  ~TimerSlackGuard();
  TimerSlackGuard(const TimerSlackGuard&) = delete;
  TimerSlackGuard& operator=(const TimerSlackGuard&) = delete;

 private:
  long old_ = -1;
};

// RAII: asks the fair scheduler (EEVDF, Linux >= 6.12) for a short time slice
// for the calling SCHED_OTHER / SCHED_BATCH thread while it waits, and restores
// the previous request. A thread that asked for a shorter slice gets an earlier
// virtual deadline when it wakes, so it preempts a CPU-bound task instead of
// waiting for that task's slice to end: on the loaded development VM this cut
// the P99 wake-up lateness of a loop doing 20 us of work per 1 kHz tick from
// about 2.7 ms to 0.6 ms. A no-op for real-time policies, on kernels without
// custom slices and where the kernel refuses.
class WakeupSliceGuard {
 public:
  static constexpr std::uint64_t kShortestSliceNs = 100'000;  // the kernel's lower bound
  explicit WakeupSliceGuard(std::uint64_t slice_ns = kShortestSliceNs);
  ~WakeupSliceGuard();
  WakeupSliceGuard(const WakeupSliceGuard&) = delete;
  WakeupSliceGuard& operator=(const WakeupSliceGuard&) = delete;
  bool active() const { return active_; }

 private:
  SchedAttr saved_{};  // the thread's attributes before the guard
  bool active_ = false;
};

// Asks for a short fair-scheduler slice for the calling thread for good (the
// executor's own SCHED_OTHER thread). Returns the slice obtained, 0 if none.
std::uint64_t request_short_slice(std::uint64_t slice_ns = WakeupSliceGuard::kShortestSliceNs);

}  // namespace si::rt
