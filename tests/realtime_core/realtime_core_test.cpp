// Deterministic tests of the realtime core: grid arithmetic, missed-tick
// policies, rate changes, the hybrid margin tuner and the EDF scheduler, all
// on a virtual clock (no sleeping).
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "common/errors.hpp"
#include "realtime_core/executor.hpp"
#include "realtime_core/grid.hpp"
#include "realtime_core/scheduler.hpp"
#include "realtime_core/timer.hpp"
#include "realtime_core/waiter.hpp"

using namespace si::rt;

TEST(Grid, ThreeHertzHasNoDrift) {
  Grid g(Period::from_rate_hz(3.0), 1000);
  // Exact: deadline k = 1000 + floor(k * 1e9 / 3).
  for (std::uint64_t k : {0ull, 1ull, 2ull, 3ull, 299ull, 300ull, 3'000'000ull, 3'000'000'000ull}) {
    const __int128 expect = 1000 + static_cast<__int128>(k) * 1'000'000'000 / 3;
    EXPECT_EQ(g.deadline(k), static_cast<std::int64_t>(expect)) << k;
  }
  // A rounded period (333333333 ns) would be 1 s late after 3e9 ticks; the grid is exact.
  EXPECT_EQ(g.deadline(3'000'000'000ull), 1000 + 1'000'000'000'000'000'000ll);
}

// The grid ends at INT64_MAX: deadlines past it are refused, never wrapped or
// saturated (a saturated deadline made first_after and the scheduler spin).
TEST(Grid, DeadlinesPastTheEndOfTheClockAreRefused) {
  const std::int64_t end = INT64_MAX;
  Grid g(Period::from_ns(1000), end - 1500);
  EXPECT_EQ(g.deadline(1), end - 500);
  EXPECT_TRUE(g.representable(1));
  EXPECT_FALSE(g.representable(2));
  EXPECT_THROW(g.deadline(2), std::overflow_error);
  EXPECT_EQ(g.first_after(end, 0), 2u);  // exact in 128 bits, found without a loop over k
  EXPECT_THROW(g.deadline(UINT64_MAX), std::overflow_error);
  EXPECT_THROW(Grid(Period::from_ns(1000), -1), std::invalid_argument);

  TimerCore c(Period::from_ns(1000), end, MissedPolicy::Skip);
  const Tick t = c.complete(end);
  EXPECT_EQ(t.deadline_ns, end);
  EXPECT_FALSE(c.next_deadline_if_representable());
  EXPECT_THROW(c.next_deadline(), std::overflow_error);
  EXPECT_THROW(c.complete(end), std::overflow_error);
  EXPECT_EQ(c.stats().count, 1u);  // the refused completion changed nothing
}

TEST(VirtualClock, StaysWithinTheInt64Clock) {
  VirtualClock clock(INT64_MAX - 10);
  EXPECT_THROW(clock.advance(11), std::overflow_error);
  EXPECT_EQ(clock.now(), INT64_MAX - 10);
  clock.set_wake_latency(20);
  EXPECT_THROW(clock.sleep_until(INT64_MAX - 15), std::overflow_error);
  EXPECT_EQ(clock.now(), INT64_MAX - 10);
  EXPECT_EQ(clock.waits(), 0u);
  EXPECT_THROW(VirtualClock(-1), std::invalid_argument);
}

TEST(Grid, FractionsOfRates) {
  std::int64_t p, q;
  best_fraction(0.1, 1'000'000, p, q);
  EXPECT_EQ(p, 1);
  EXPECT_EQ(q, 10);
  best_fraction(2.5, 1'000'000, p, q);
  EXPECT_EQ(p, 5);
  EXPECT_EQ(q, 2);
  best_fraction(1000.0 / 3.0, 1'000'000, p, q);
  EXPECT_EQ(p, 1000);
  EXPECT_EQ(q, 3);
  const Period per = Period::from_rate_hz(1000.0 / 3.0);
  EXPECT_EQ(per.num, 3'000'000);
  EXPECT_EQ(per.den, 1);
  EXPECT_EQ(Period::from_rate_hz(3.0).rounded_ns(), 333'333'333);
  EXPECT_EQ(Period::from_rate_hz(1e6).rounded_ns(), 1000);
  EXPECT_EQ(Period::from_rate_hz(1e-6).rounded_ns(), 1'000'000'000'000'000);
}

TEST(Grid, RejectsBadRates) {
  EXPECT_THROW(Period::from_rate_hz(0.0), std::invalid_argument);
  EXPECT_THROW(Period::from_rate_hz(-1.0), std::invalid_argument);
  EXPECT_THROW(Period::from_rate_hz(std::nan("")), std::invalid_argument);
  EXPECT_THROW(Period::from_rate_hz(1e6 * 1.001), std::invalid_argument);
  EXPECT_THROW(Period::from_rate_hz(0.9e-6), std::invalid_argument);
  EXPECT_THROW(Period::from_ns(999), std::invalid_argument);
  EXPECT_THROW(Period::from_rate_fraction(3'000'001, 3), std::invalid_argument);
}

TEST(Grid, FirstAfterMatchesLinearScan) {
  Grid g(Period::from_rate_fraction(7, 3), 12345);  // period 3e9/7 ns
  for (std::int64_t t = 0; t < 20'000'000'000; t += 77'777'777) {
    std::uint64_t k = 0;
    while (g.deadline(k) <= t) ++k;
    EXPECT_EQ(g.first_after(t, 0), k) << t;
  }
}

static Tick tick_at(TimerCore& c, std::int64_t woke) { return c.complete(woke); }

TEST(TimerCore, OnTimeTicksFollowGrid) {
  TimerCore c(Period::from_ns(1'000'000), 5'000'000, MissedPolicy::Skip);
  for (int k = 0; k < 10; ++k) {
    const Tick t = tick_at(c, c.next_deadline() + 100);
    EXPECT_EQ(t.index, static_cast<std::uint64_t>(k));
    EXPECT_EQ(t.deadline_ns, 5'000'000 + k * 1'000'000);
    EXPECT_EQ(t.lateness_ns, 100);
    EXPECT_EQ(t.missed, 0u);
  }
  EXPECT_EQ(c.stats().count, 10u);
  EXPECT_EQ(c.stats().missed, 0u);
  EXPECT_EQ(c.stats().overruns, 0u);
}

TEST(TimerCore, SkipDropsPassedDeadlines) {
  TimerCore c(Period::from_ns(1000), 0, MissedPolicy::Skip);
  Tick t = tick_at(c, 3500);  // deadlines 1000, 2000, 3000 passed too
  EXPECT_EQ(t.index, 0u);
  EXPECT_EQ(t.lateness_ns, 3500);
  EXPECT_EQ(t.missed, 3u);
  EXPECT_EQ(c.next_index(), 4u);
  EXPECT_EQ(c.next_deadline(), 4000);
  t = tick_at(c, 4000);
  EXPECT_EQ(t.index, 4u);
  EXPECT_EQ(t.lateness_ns, 0);
  EXPECT_EQ(c.stats().missed, 3u);
  EXPECT_EQ(c.stats().overruns, 1u);
}

TEST(TimerCore, BurstCatchesUp) {
  TimerCore c(Period::from_ns(1000), 0, MissedPolicy::Burst);
  std::vector<std::int64_t> deadlines;
  for (int i = 0; i < 5; ++i) deadlines.push_back(tick_at(c, 3500).deadline_ns);  // all late, fired at once
  EXPECT_EQ(deadlines, (std::vector<std::int64_t>{0, 1000, 2000, 3000, 4000}));
  EXPECT_EQ(c.stats().missed, 0u);
  EXPECT_EQ(c.stats().overruns, 3u);  // ticks 0, 1, 2 were delivered at or after their successor
  EXPECT_EQ(c.next_deadline(), 5000);
}

TEST(TimerCore, DelayReanchorsAtWakeup) {
  TimerCore c(Period::from_ns(1000), 0, MissedPolicy::Delay);
  Tick t = tick_at(c, 3500);
  EXPECT_EQ(t.index, 0u);
  EXPECT_EQ(t.missed, 0u);
  EXPECT_EQ(c.next_deadline(), 4500);
  t = tick_at(c, 4500);
  EXPECT_EQ(t.index, 1u);
  EXPECT_EQ(t.lateness_ns, 0);
  EXPECT_EQ(c.next_deadline(), 5500);
  // A small lateness (less than a period) does not move the grid.
  tick_at(c, 5600);
  EXPECT_EQ(c.next_deadline(), 6500);
}

TEST(TimerCore, SetPeriodKeepsNextDeadline) {
  TimerCore c(Period::from_ns(10'000), 0, MissedPolicy::Skip);
  tick_at(c, 0);
  tick_at(c, 10'000);
  EXPECT_EQ(c.next_deadline(), 20'000);
  c.set_period(Period::from_ns(3'000));
  EXPECT_EQ(c.next_deadline(), 20'000);
  tick_at(c, 20'000);
  EXPECT_EQ(c.next_deadline(), 23'000);
  tick_at(c, 23'000);
  EXPECT_EQ(c.next_deadline(), 26'000);
  c.set_period(Period::from_rate_hz(3.0));  // exact thirds from the anchor at 26 us
  EXPECT_EQ(c.next_deadline(), 26'000);
  tick_at(c, 26'000);
  tick_at(c, c.next_deadline());
  tick_at(c, c.next_deadline());
  EXPECT_EQ(c.next_deadline(), 26'000 + 1'000'000'000);
}

TEST(TimerCore, NegativeLatenessIsClampedInStats) {
  TimerCore c(Period::from_ns(1000), 1000, MissedPolicy::Skip);
  const Tick t = tick_at(c, 900);
  EXPECT_EQ(t.lateness_ns, -100);
  EXPECT_EQ(c.stats().lateness.max(), 0);
}

TEST(Timer, VirtualClockTicksExactly) {
  auto clock = std::make_shared<VirtualClock>(0);
  clock->set_wake_latency(50);
  Timer t(Period::from_rate_hz(3.0), 0, MissedPolicy::Skip, make_virtual_waiter(clock));
  for (int k = 0; k < 9; ++k) {
    const Tick tk = t.tick();
    EXPECT_EQ(tk.deadline_ns, static_cast<std::int64_t>(static_cast<__int128>(k) * 1'000'000'000 / 3));
    EXPECT_EQ(tk.lateness_ns, 50);
  }
  EXPECT_EQ(clock->now(), 8'000'000'000 / 3 + 50);  // tick 8 woke at floor(8e9/3) + 50
  t.close();
  EXPECT_THROW(t.tick(), si::Closed);
}

TEST(MarginTuner, TracksMovingP99WithinBounds) {
  MarginTuner m(100'000, 5'000, 2'000'000, 100, 10);
  EXPECT_EQ(m.margin(), 100'000);
  for (int i = 0; i < 99; ++i) m.add(10'000);
  m.add(40'000);  // 100 samples: P99 (rank 99) = 10 us
  EXPECT_EQ(m.window_p99(), 10'000);
  EXPECT_EQ(m.margin(), 10'000 + 2'500 + 2'000);
  for (int i = 0; i < 100; ++i) m.add(50'000'000);  // huge overshoots: clamped to max
  EXPECT_EQ(m.margin(), 2'000'000);
  for (int i = 0; i < 100; ++i) m.add(0);
  EXPECT_EQ(m.margin(), 5'000);  // clamped to min
  EXPECT_GE(m.retunes(), 30u);
}

TEST(Scheduler, EdfOrderAndCountsOnVirtualClock) {
  auto clock = std::make_shared<VirtualClock>(0);
  auto w = make_virtual_waiter(clock);
  SchedulerCore s;
  std::vector<std::pair<int, std::int64_t>> log;
  auto body = [&](int which) {
    return [&, which](const Tick& t) {
      log.emplace_back(which, t.deadline_ns);
      return true;
    };
  };
  const auto a = s.add("2Hz", Period::from_rate_hz(2), 0, MissedPolicy::Skip, body(2));
  const auto b = s.add("10Hz", Period::from_rate_hz(10), 0, MissedPolicy::Skip, body(10));
  const auto c = s.add("30Hz", Period::from_rate_hz(30), 0, MissedPolicy::Skip, body(30));
  s.run_until(*w, 1'000'000'000 - 1);  // deadlines in [0, 1 s)
  EXPECT_EQ(s.stats(a).timer.count, 2u);
  EXPECT_EQ(s.stats(b).timer.count, 10u);
  EXPECT_EQ(s.stats(c).timer.count, 30u);
  for (std::size_t i = 1; i < log.size(); ++i) EXPECT_LE(log[i - 1].second, log[i].second);  // EDF
  EXPECT_EQ(s.stats(c).timer.lateness.max(), 0);
  s.remove(b);
  EXPECT_THROW(s.remove(b), si::UnknownId);
  EXPECT_THROW(s.stats(b), si::UnknownId);
}

TEST(Scheduler, OverrunsAndErrors) {
  auto clock = std::make_shared<VirtualClock>(0);
  auto w = make_virtual_waiter(clock);
  SchedulerCore s;
  int calls = 0;
  const auto id = s.add("slow", Period::from_ns(1'000'000), 0, MissedPolicy::Skip, [&](const Tick&) {
    ++calls;
    clock->advance(calls % 2 ? 2'500'000 : 100'000);  // every other call overruns by 1.5 periods
    if (calls == 3) throw std::runtime_error("boom");
    return true;
  });
  s.run_until(*w, 10'000'000);
  const TaskStats st = s.stats(id);
  EXPECT_EQ(st.errors, 1u);
  EXPECT_EQ(s.total_errors(), 1u);
  EXPECT_EQ(s.take_exceptions().size(), 1u);
  // Deadline k at k ms. Call 1 (k=0) runs to 2.5 ms; call 2 (k=1) starts late at 2.5 and
  // skips deadline 2, runs to 2.6; call 3 (k=3) runs to 5.5 and throws; call 4 (k=4) skips 5;
  // call 5 (k=6) runs to 8.5; call 6 (k=7) skips 8; call 7 (k=9) runs to 11.5 and ends the run.
  EXPECT_EQ(calls, 7);
  EXPECT_EQ(st.overruns, 4u);       // calls 1, 3, 5, 7 ran 2.5 periods
  EXPECT_EQ(st.timer.missed, 3u);   // deadlines 2, 5, 8
  EXPECT_EQ(st.timer.overruns, 3u); // calls 2, 4, 6 started at or after their successor's deadline
  EXPECT_EQ(st.timer.last_index, 9u);
}

TEST(Executor, ValidatesConfiguration) {
  ExecutorConfig c;
  c.policy = "fifo";
  c.priority = 0;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c.priority = 100;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c.priority = 99;
  EXPECT_NO_THROW(validate(c));
  c = ExecutorConfig{};
  c.policy = "deadline";
  c.runtime_ns = 1'000'000;
  c.deadline_ns = 500'000;  // the original design's invalid example
  c.period_ns = 2'000'000;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c.deadline_ns = 1'500'000;
  EXPECT_NO_THROW(validate(c));
  c.period_ns = 1'000'000;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c = ExecutorConfig{};
  c.policy = "batch";
  EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(Backends, EachWorkingBackendWaitsUntilTheDeadline) {
  for (const auto& name : backend_names()) {
    std::unique_ptr<Waiter> w;
    try {
      w = make_waiter(name);
    } catch (const si::BackendUnavailable&) {
      continue;  // refused here: covered by the refusal tests
    }
    const std::int64_t start = monotonic_ns();
    for (int i = 1; i <= 20; ++i) {
      const std::int64_t d = start + i * 500'000;
      ASSERT_TRUE(w->wait_until(d)) << name;
      EXPECT_GE(monotonic_ns(), d) << name;
    }
    w->interrupt();
    EXPECT_FALSE(w->wait_until(monotonic_ns() + 10'000'000'000)) << name;  // interrupt is seen
  }
}

TEST(Backends, SimulatedRefusalAndAuto) {
  set_simulated_refusal("clock_nanosleep", "test");
  EXPECT_THROW(make_waiter("clock_nanosleep"), si::BackendUnavailable);
  std::string why;
  auto w = make_auto_waiter(why);
  EXPECT_EQ(w->name(), "timerfd");
  EXPECT_NE(why.find("clock_nanosleep refused: test"), std::string::npos);
  clear_simulated_refusals();
  EXPECT_THROW(make_waiter("sundial"), std::invalid_argument);
}

TEST(Executor, RunsTasksAndStops) {
  ExecutorConfig c;
  c.lock_memory = false;
  Executor ex(c);
  std::atomic<int> calls{0};
  const auto id = ex.scheduler().add("t", Period::from_ns(1'000'000), monotonic_ns() + 1'000'000, MissedPolicy::Skip,
                                     [&](const Tick&) {
                                       ++calls;
                                       return true;
                                     });
  std::atomic<bool> posted{false};
  ex.scheduler().post([&] { posted = true; });
  while (calls < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(posted);
  EXPECT_GE(ex.scheduler().stats(id).timer.count, 20u);
  ex.stop();
  EXPECT_FALSE(ex.running());
}

// The prelude runs before the deadline, the body at or after it, and leave()
// once per entered call; the lead stays within [min, period / 4].
TEST(Scheduler, PreludeEntersBeforeTheDeadlineAndLeavesAfterTheBody) {
  SchedulerCore s;
  auto w = make_waiter("timerfd");
  constexpr int kCalls = 40;
  std::vector<std::int64_t> entered_at, called_at, deadlines;
  int leaves = 0;
  bool inside = false;
  TaskPrelude p;
  p.max_lead_ns = 300'000;
  p.enter = [&] {
    entered_at.push_back(monotonic_ns());
    inside = true;
    return true;
  };
  p.leave = [&] {
    EXPECT_TRUE(inside);
    inside = false;
    ++leaves;
  };
  const std::int64_t period = 1'000'000;
  const auto id = s.add("warm", Period::from_ns(period), monotonic_ns() + period, MissedPolicy::Skip,
                        [&](const Tick& t) {
                          called_at.push_back(monotonic_ns());
                          deadlines.push_back(t.deadline_ns);
                          EXPECT_TRUE(inside);
                          return true;
                        },
                        p);
  while (called_at.size() < kCalls) s.step(*w);
  EXPECT_EQ(leaves, kCalls);
  EXPECT_FALSE(inside);
  ASSERT_EQ(entered_at.size(), called_at.size());
  for (std::size_t i = 0; i < called_at.size(); ++i) {
    EXPECT_GE(called_at[i], deadlines[i]) << "a warmed call must never start early (call " << i << ")";
    EXPECT_LE(entered_at[i], called_at[i]);
  }
  const std::int64_t lead = s.stats(id).lead_ns;
  EXPECT_GE(lead, 5'000);
  EXPECT_LE(lead, period / 4);
}

TEST(Scheduler, PreludeIsLeftWhenTheTaskIsRemovedMeanwhile) {
  SchedulerCore s;
  auto w = make_waiter("timerfd");
  int enters = 0, leaves = 0, calls = 0;
  std::uint64_t id = 0;
  TaskPrelude p;
  p.max_lead_ns = 200'000;
  p.enter = [&] {
    ++enters;
    s.remove(id);  // removed between the wake-up and the call
    return true;
  };
  p.leave = [&] { ++leaves; };
  id = s.add("gone", Period::from_ns(1'000'000), monotonic_ns() + 1'000'000, MissedPolicy::Skip,
             [&](const Tick&) {
               ++calls;
               return true;
             },
             p);
  EXPECT_TRUE(s.step(*w));
  EXPECT_EQ(enters, 1);
  EXPECT_EQ(leaves, 1);
  EXPECT_EQ(calls, 0);
}

TEST(Scheduler, VirtualClockIgnoresThePrelude) {
  auto clock = std::make_shared<VirtualClock>(0);
  auto w = make_virtual_waiter(clock);
  SchedulerCore s;
  int enters = 0, calls = 0;
  TaskPrelude p;
  p.max_lead_ns = 100'000;
  p.enter = [&] { return ++enters > 0; };
  p.leave = [] {};
  s.add("v", Period::from_ns(1'000'000), 1'000'000, MissedPolicy::Skip,
        [&](const Tick&) {
          ++calls;
          return true;
        },
        p);
  s.run_until(*w, 10'000'000);
  EXPECT_EQ(calls, 9);  // deadlines 1..9 ms: run_until runs the calls due before its end
  EXPECT_EQ(enters, 0);
}

// The guard asks for the shortest fair slice while it lives and gives the old
// request back; where the kernel has no custom slices it does nothing.
TEST(WakeupSliceGuard, ShortensTheSliceWhileItLivesAndRestoresIt) {
  std::thread([] {
    auto runtime_now = [] {
      SchedAttr a{};
      EXPECT_EQ(::syscall(SYS_sched_getattr, 0, &a, sizeof a, 0), 0);
      return a.sched_runtime;
    };
    const std::uint64_t before = runtime_now();
    {
      WakeupSliceGuard g;
      if (!g.active()) GTEST_SKIP() << "this kernel does not take a custom fair slice";
      EXPECT_EQ(runtime_now(), WakeupSliceGuard::kShortestSliceNs);
      WakeupSliceGuard nested;  // already short: no second request
      EXPECT_FALSE(nested.active());
    }
    EXPECT_EQ(runtime_now(), before);
  }).join();
}
