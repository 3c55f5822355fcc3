// Drift-free periodic timers.
//
// TimerCore is the pure logic (grid, missed-tick policy, statistics) driven by
// whoever waits; Timer couples it with a Waiter and makes it thread-safe and
// closable. Missed-tick policies follow tokio's MissedTickBehavior:
//   burst  every grid deadline gets its own tick; late ones fire at once until
//          caught up (Tick.missed is always 0).
//   skip   a tick that wakes at or after the next deadline fires once, and the
//          deadlines it passed over are dropped: the next tick is the first grid
//          deadline after the wake-up (Tick.missed counts the dropped ones).
//   delay  such a tick fires once and the grid is re-anchored: the next
//          deadline is the wake-up time plus one period.
// A tick "overruns" when it is delivered at or after the following deadline
// (the caller's loop body, plus the wake-up, took a period or longer).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/histogram.hpp"
#include "realtime_core/grid.hpp"
#include "realtime_core/rate_state.hpp"
#include "realtime_core/waiter.hpp"

namespace si::rt {

enum class MissedPolicy { Skip, Burst, Delay };
MissedPolicy parse_missed_policy(const std::string& name);
const char* missed_policy_name(MissedPolicy p);

struct Tick {
  std::uint64_t index = 0;       // grid index k
  std::int64_t deadline_ns = 0;  // absolute CLOCK_MONOTONIC deadline of tick k
  std::int64_t woke_ns = 0;      // when the wait returned
  std::int64_t lateness_ns = 0;  // woke - deadline (may be negative only for the virtual clock: never)
  std::uint64_t missed = 0;      // grid deadlines dropped before the next tick (skip)
};

struct TimerStats {
  LatencyHistogram lateness;  // max(lateness, 0) of every tick
  std::uint64_t count = 0;
  std::uint64_t missed = 0;
  std::uint64_t overruns = 0;
  std::int64_t first_deadline_ns = 0;
  std::int64_t last_deadline_ns = 0;
  std::uint64_t first_index = 0;
  std::uint64_t last_index = 0;
};

class TimerCore {
 public:
  TimerCore(Period period, std::int64_t start_ns, MissedPolicy policy);

  // Throws std::overflow_error when the next deadline lies past INT64_MAX.
  std::int64_t next_deadline() const { return grid_.deadline(next_); }
  // The next deadline, or nullopt when it lies past INT64_MAX (never due).
  std::optional<std::int64_t> next_deadline_if_representable() const {
    if (!grid_.representable(next_)) return std::nullopt;
    return grid_.deadline(next_);
  }
  std::uint64_t next_index() const { return next_; }
  // Completes the pending tick as woken at `woke_ns`, applies the policy and
  // records statistics.
  Tick complete(std::int64_t woke_ns);
  // New period from the next deadline on (which stays where it is).
  void set_period(Period p);
  void set_policy(MissedPolicy p) { policy_ = p; }

  const Grid& grid() const { return grid_; }
  MissedPolicy policy() const { return policy_; }
  const TimerStats& stats() const { return stats_; }
  void reset_stats();
  // Publish the shared rate state after every completed tick (null: stop).
  void set_publisher(std::shared_ptr<RateStateWriter> w);
  const std::shared_ptr<RateStateWriter>& publisher() const { return publisher_; }

 private:
  void publish(const Tick& t);

  Grid grid_;
  MissedPolicy policy_;
  std::uint64_t next_ = 0;
  TimerStats stats_;
  std::shared_ptr<RateStateWriter> publisher_;
};

class Timer {
 public:
  // start_ns: deadline of tick 0 (default: now + one period).
  Timer(Period period, std::optional<std::int64_t> start_ns, MissedPolicy policy, std::unique_ptr<Waiter> waiter,
        std::string backend_note = {});
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Waits for the next deadline and returns its tick. Throws si::Closed when
  // the timer is (or gets) closed. Concurrent callers are served in turn.
  Tick tick();
  // Like tick(), but a wait for a deadline more than `max_block_ns` away
  // returns nullopt after about `slice_ns` (the deadline is untouched), so the
  // caller can look at signals in between. The final wait is always one
  // uninterrupted wait for the deadline itself (virtual clocks never slice).
  std::optional<Tick> tick_slice(std::int64_t max_block_ns, std::int64_t slice_ns);
  void set_period(Period p);
  void set_policy(MissedPolicy p);
  // Writes the shared rate state block `name` on every tick from now on
  // (rate_state.hpp); the block is closed and unlinked with the timer.
  void publish(const std::string& name);
  // Idempotent; wakes a blocked tick() (which throws Closed) and waits for it.
  void close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  TimerStats stats() const;
  void reset_stats();
  Period period() const;
  MissedPolicy policy() const;
  std::int64_t next_deadline() const;
  std::uint64_t next_index() const;
  std::int64_t now_ns() const;
  const std::string& backend() const { return backend_; }
  const std::string& backend_note() const { return note_; }
  std::string backend_info() const;
  bool real_time() const { return real_time_; }

  // asyncio support: a non-blocking timerfd armed at the next deadline.
  int async_fd();
  std::int64_t async_arm();
  // The tick if its deadline has passed (reads the timerfd), else nullopt.
  std::optional<Tick> async_try_complete();

 private:
  void check_open() const;

  mutable std::mutex state_mu_;  // core_
  std::mutex tick_mu_;           // one tick() at a time; held while waiting
  TimerCore core_;
  std::unique_ptr<Waiter> waiter_;
  std::string backend_, note_;
  bool real_time_ = true;
  std::atomic<bool> closed_{false};
  int async_fd_ = -1;
};

}  // namespace si::rt
