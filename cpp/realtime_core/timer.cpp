#include "realtime_core/timer.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/errors.hpp"

#if defined(__linux__)
#include <sys/timerfd.h>
#include <unistd.h>
#endif

namespace si::rt {

MissedPolicy parse_missed_policy(const std::string& name) {
  if (name == "skip") return MissedPolicy::Skip;
  if (name == "burst") return MissedPolicy::Burst;
  if (name == "delay") return MissedPolicy::Delay;
  throw std::invalid_argument("unknown missed-tick policy '" + name + "': use skip, burst or delay");
}

const char* missed_policy_name(MissedPolicy p) {
  switch (p) {
    case MissedPolicy::Skip: return "skip";
    case MissedPolicy::Burst: return "burst";
    case MissedPolicy::Delay: return "delay";
  }
  return "?";
}

// ------------------------------------------------------------ TimerCore
TimerCore::TimerCore(Period period, std::int64_t start_ns, MissedPolicy policy)
    : grid_(period, start_ns), policy_(policy) {}

Tick TimerCore::complete(std::int64_t woke) {
  Tick t;
  t.index = next_;
  t.deadline_ns = grid_.deadline(next_);
  t.woke_ns = woke;
  t.lateness_ns = woke - t.deadline_ns;
  // Deadlines after this one that have already passed.
  const std::uint64_t first_future = grid_.first_after(woke, next_ + 1);
  const std::uint64_t behind = first_future - (next_ + 1);
  switch (policy_) {
    case MissedPolicy::Skip:
      t.missed = behind;
      next_ = first_future;
      break;
    case MissedPolicy::Burst:
      next_ = next_ + 1;
      break;
    case MissedPolicy::Delay:
      if (behind > 0) grid_.reanchor(next_, woke);  // deadline(k+1) = woke + period
      next_ = next_ + 1;
      break;
  }
  if (stats_.count == 0) {
    stats_.first_deadline_ns = t.deadline_ns;
    stats_.first_index = t.index;
  }
  stats_.last_deadline_ns = t.deadline_ns;
  stats_.last_index = t.index;
  stats_.lateness.record(t.lateness_ns > 0 ? t.lateness_ns : 0);
  ++stats_.count;
  stats_.missed += t.missed;
  if (behind > 0) ++stats_.overruns;
  if (publisher_) publish(t);
  return t;
}

void TimerCore::set_publisher(std::shared_ptr<RateStateWriter> w) {
  publisher_ = std::move(w);
  if (!publisher_) return;
  const auto next = next_deadline_if_representable();
  publisher_->announce(grid_.period(), next ? *next : INT64_MAX);
}

void TimerCore::publish(const Tick& t) {
  const auto next = next_deadline_if_representable();
  publisher_->publish(t, stats_, grid_.period(), next ? *next : INT64_MAX);
}

void TimerCore::set_period(Period p) { grid_.reanchor(next_, grid_.deadline(next_), p); }

void TimerCore::reset_stats() { stats_ = TimerStats{}; }

// ------------------------------------------------------------ Timer
namespace {
std::int64_t default_start(Waiter& w, const Period& p) { return one_period_after(w.now_ns(), p); }
}  // namespace

Timer::Timer(Period period, std::optional<std::int64_t> start_ns, MissedPolicy policy, std::unique_ptr<Waiter> waiter,
             std::string note)
    : core_(period, start_ns ? *start_ns : default_start(*waiter, period), policy),
      waiter_(std::move(waiter)),
      note_(std::move(note)) {
  if (start_ns && *start_ns < 0) throw std::invalid_argument("start_ns must be >= 0");
  backend_ = waiter_->name();
  real_time_ = waiter_->real_time();
}

Timer::~Timer() { close(); }

void Timer::check_open() const {
  if (closed()) throw Closed("Timer is closed");
}

Tick Timer::tick() {
  std::lock_guard<std::mutex> serial(tick_mu_);
  check_open();
  std::int64_t deadline;
  {
    std::lock_guard<std::mutex> g(state_mu_);
    deadline = core_.next_deadline();
  }
  std::int64_t woke;
  {
    WakeupSliceGuard slice;  // wake up ahead of CPU-bound tasks (SCHED_OTHER)
    // A set_period() during the wait keeps this deadline (it is the anchor).
    while (!waiter_->wait_until(deadline)) {
      check_open();  // interrupted by close(), or spuriously: wait again
    }
    woke = waiter_->now_ns();
  }
  std::lock_guard<std::mutex> g(state_mu_);
  return core_.complete(woke);
}

std::optional<Tick> Timer::tick_slice(std::int64_t max_block_ns, std::int64_t slice_ns) {
  std::lock_guard<std::mutex> serial(tick_mu_);
  check_open();
  std::int64_t deadline;
  {
    std::lock_guard<std::mutex> g(state_mu_);
    deadline = core_.next_deadline();
  }
  if (real_time_) {
    const std::int64_t now = waiter_->now_ns();
    if (deadline - now > max_block_ns) {
      waiter_->wait_until(now + slice_ns);
      check_open();
      return std::nullopt;
    }
  }
  std::int64_t woke;
  {
    WakeupSliceGuard slice;
    while (!waiter_->wait_until(deadline)) check_open();
    woke = waiter_->now_ns();
  }
  std::lock_guard<std::mutex> g(state_mu_);
  return core_.complete(woke);
}

void Timer::set_period(Period p) {
  check_open();
  std::lock_guard<std::mutex> g(state_mu_);
  core_.set_period(p);
}

void Timer::set_policy(MissedPolicy p) {
  check_open();
  std::lock_guard<std::mutex> g(state_mu_);
  core_.set_policy(p);
}

void Timer::publish(const std::string& name) {
  auto w = std::make_shared<RateStateWriter>(name);  // outside the lock: system calls
  check_open();
  std::lock_guard<std::mutex> g(state_mu_);
  core_.set_publisher(std::move(w));
}

void Timer::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  if (waiter_) waiter_->interrupt();
  std::lock_guard<std::mutex> serial(tick_mu_);  // waits for a tick() in flight
  std::lock_guard<std::mutex> g(state_mu_);
  waiter_.reset();  // releases the backend's file descriptors and rings
  if (core_.publisher()) core_.publisher()->close();  // readers see state closed
#if defined(__linux__)
  if (async_fd_ >= 0) ::close(async_fd_);
#endif
  async_fd_ = -1;
}

TimerStats Timer::stats() const {
  std::lock_guard<std::mutex> g(state_mu_);
  return core_.stats();
}
void Timer::reset_stats() {
  std::lock_guard<std::mutex> g(state_mu_);
  core_.reset_stats();
}
Period Timer::period() const {
  std::lock_guard<std::mutex> g(state_mu_);
  return core_.grid().period();
}
MissedPolicy Timer::policy() const {
  std::lock_guard<std::mutex> g(state_mu_);
  return core_.policy();
}
std::int64_t Timer::next_deadline() const {
  std::lock_guard<std::mutex> g(state_mu_);
  return core_.next_deadline();
}
std::uint64_t Timer::next_index() const {
  std::lock_guard<std::mutex> g(state_mu_);
  return core_.next_index();
}
std::int64_t Timer::now_ns() const {
  std::lock_guard<std::mutex> g(state_mu_);
  return waiter_ ? waiter_->now_ns() : monotonic_ns();
}
std::string Timer::backend_info() const {
  std::lock_guard<std::mutex> g(state_mu_);
  return waiter_ ? waiter_->info() : std::string();
}

int Timer::async_fd() {
  std::lock_guard<std::mutex> g(state_mu_);
  check_open();
  if (!real_time_) throw std::invalid_argument("a timer on a virtual clock has no pollable file descriptor");
#if defined(__linux__)
  if (async_fd_ < 0) {
    async_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (async_fd_ < 0) throw BackendUnavailable(std::string("timerfd_create: ") + std::strerror(errno));
  }
  return async_fd_;
#else
  throw BackendUnavailable("timerfd is Linux-only");
#endif
}

std::int64_t Timer::async_arm() {
  std::lock_guard<std::mutex> g(state_mu_);
  check_open();
  if (async_fd_ < 0) throw std::logic_error("async_fd() first");
  const std::int64_t d = core_.next_deadline();
#if defined(__linux__)
  itimerspec its{};
  // A deadline already past fires at once (TFD_TIMER_ABSTIME with a past value).
  its.it_value.tv_sec = d / 1'000'000'000;
  its.it_value.tv_nsec = d % 1'000'000'000;
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  if (::timerfd_settime(async_fd_, TFD_TIMER_ABSTIME, &its, nullptr) != 0)
    throw IoError(errno, std::string("timerfd_settime: ") + std::strerror(errno));
#endif
  return d;
}

std::optional<Tick> Timer::async_try_complete() {
  std::lock_guard<std::mutex> g(state_mu_);
  check_open();
  const std::int64_t now = monotonic_ns();
#if defined(__linux__)
  std::uint64_t expirations = 0;
  [[maybe_unused]] auto n = ::read(async_fd_, &expirations, sizeof expirations);  // EAGAIN is fine
#endif
  if (now < core_.next_deadline()) return std::nullopt;
  return core_.complete(now);
}

}  // namespace si::rt
