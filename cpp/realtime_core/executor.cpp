#include "realtime_core/executor.hpp"

#include <alloca.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/errors.hpp"
#include "realtime_core/sched_attr.hpp"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace si::rt {
namespace {

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
// Old kernel headers (manylinux) lack these system call numbers.
#if !defined(SYS_sched_setattr) && defined(__x86_64__)
#define SYS_sched_setattr 314
#define SYS_sched_getattr 315
#elif !defined(SYS_sched_setattr) && defined(__aarch64__)
#define SYS_sched_setattr 274
#define SYS_sched_getattr 275
#endif

std::mutex& mlock_mutex() {
  static std::mutex m;
  return m;
}
int& mlock_users() {
  static int n = 0;
  return n;
}

__attribute__((noinline)) std::size_t prefault_stack(std::size_t bytes) {
  if (bytes == 0) return 0;
  auto* p = static_cast<volatile unsigned char*>(alloca(bytes));
  for (std::size_t i = 0; i < bytes; i += 4096) p[i] = 0;
  p[bytes - 1] = 0;
  return bytes;
}

std::string err_line(const std::string& what, int err) { return what + ": " + std::strerror(err); }

}  // namespace

void validate(const ExecutorConfig& c) {
  if (c.policy == "fifo" || c.policy == "rr") {
    if (c.priority < 1 || c.priority > 99)
      throw std::invalid_argument("priority for policy '" + c.policy + "' must be in 1..99, got " +
                                  std::to_string(c.priority));
  } else if (c.policy == "other" || c.policy == "deadline") {
    if (c.priority != 0)
      throw std::invalid_argument("policy '" + c.policy + "' takes no priority (got " + std::to_string(c.priority) +
                                  "); use fifo or rr for a priority");
  } else {
    throw std::invalid_argument("unknown scheduling policy '" + c.policy + "': use fifo, rr, deadline or other");
  }
  if (c.policy == "deadline") {
    if (c.runtime_ns < 1024)
      throw std::invalid_argument("SCHED_DEADLINE runtime must be >= 1024 ns, got " + std::to_string(c.runtime_ns));
    if (!(c.runtime_ns <= c.deadline_ns && c.deadline_ns <= c.period_ns))
      throw std::invalid_argument("SCHED_DEADLINE needs runtime <= deadline <= period, got runtime=" +
                                  std::to_string(c.runtime_ns) + " deadline=" + std::to_string(c.deadline_ns) +
                                  " period=" + std::to_string(c.period_ns));
  } else if (c.runtime_ns || c.deadline_ns || c.period_ns) {
    throw std::invalid_argument("runtime/deadline/period are for policy 'deadline' only");
  }
#if defined(__linux__)
  const long ncpu = ::sysconf(_SC_NPROCESSORS_CONF);
  for (int cpu : c.cpus)
    if (cpu < 0 || cpu >= CPU_SETSIZE || (ncpu > 0 && cpu >= ncpu))
      throw std::invalid_argument("cpu " + std::to_string(cpu) + " does not exist (this machine has " +
                                  std::to_string(ncpu) + ")");
#endif
  if (c.prefault_stack_bytes > 4 * 1024 * 1024)
    throw std::invalid_argument("prefault_stack_bytes must be <= 4 MiB");
}

Executor::Executor(ExecutorConfig config, std::function<void()> start, std::function<void()> exit, ErrorPolicy errors)
    : config_(std::move(config)), sched_(errors), start_hook_(std::move(start)), exit_hook_(std::move(exit)) {
  validate(config_);
  if (config_.backend == "auto") {
    std::string why;
    waiter_ = make_auto_waiter(why);
  } else {
    waiter_ = make_waiter(config_.backend);
  }
  backend_ = waiter_->name();
  Waiter* w = waiter_.get();
  sched_.set_notifier([w] { w->interrupt(); });
  thread_ = std::thread([this] { thread_main(); });
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [this] { return started_; });
}

Executor::~Executor() { stop(); }

void Executor::apply_attributes() {
#if defined(__linux__)
  obtained_.tid = static_cast<int>(::syscall(SYS_gettid));
  // Affinity first: SCHED_DEADLINE refuses threads with a restricted affinity,
  // which is then reported as refused.
  if (!config_.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : config_.cpus) CPU_SET(c, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0)
      obtained_.refused.push_back(err_line("sched_setaffinity", errno));
  }
  if (config_.lock_memory) {
    std::lock_guard<std::mutex> g(mlock_mutex());
    if (mlock_users() > 0 || ::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0 ||
        ::mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
      ++mlock_users();
      locked_memory_ = true;
      obtained_.memory_locked = true;
    } else {
      obtained_.refused.push_back(err_line("mlockall", errno));
    }
  }
  obtained_.stack_prefaulted = prefault_stack(config_.prefault_stack_bytes);
  const std::string& p = config_.policy;
  if (p == "fifo" || p == "rr") {
    sched_param sp{};
    sp.sched_priority = config_.priority;
    const int rc = ::pthread_setschedparam(::pthread_self(), p == "fifo" ? SCHED_FIFO : SCHED_RR, &sp);
    if (rc != 0)
      obtained_.refused.push_back(err_line("pthread_setschedparam(SCHED_" + std::string(p == "fifo" ? "FIFO" : "RR") +
                                               ", " + std::to_string(config_.priority) + ")",
                                           rc));
  } else if (p == "deadline") {
    SchedAttr a{};
    a.size = sizeof a;
    a.sched_policy = SCHED_DEADLINE;
    a.sched_runtime = static_cast<std::uint64_t>(config_.runtime_ns);
    a.sched_deadline = static_cast<std::uint64_t>(config_.deadline_ns);
    a.sched_period = static_cast<std::uint64_t>(config_.period_ns);
#if defined(SYS_sched_setattr)
    if (::syscall(SYS_sched_setattr, 0, &a, 0) != 0) obtained_.refused.push_back(err_line("sched_setattr(SCHED_DEADLINE)", errno));
#else
    obtained_.refused.push_back("sched_setattr(SCHED_DEADLINE): not available in this build");
#endif
  }
  if (p == "other") obtained_.fair_slice_ns = request_short_slice();  // see WakeupSliceGuard
  // Report what the thread actually has.
  SchedAttr got{};
#if defined(SYS_sched_getattr)
  const bool have_attr = ::syscall(SYS_sched_getattr, 0, &got, sizeof got, 0) == 0;
#else
  const bool have_attr = false;
#endif
  if (!have_attr) {  // fall back to the POSIX calls
    int pol = 0;
    sched_param sp{};
    if (::pthread_getschedparam(::pthread_self(), &pol, &sp) == 0) {
      got.sched_policy = static_cast<std::uint32_t>(pol);
      got.sched_priority = static_cast<std::uint32_t>(sp.sched_priority);
    }
  }
  {
    switch (got.sched_policy) {
      case SCHED_FIFO: obtained_.policy = "fifo"; break;
      case SCHED_RR: obtained_.policy = "rr"; break;
      case SCHED_DEADLINE: obtained_.policy = "deadline"; break;
      case SCHED_OTHER: obtained_.policy = "other"; break;
      default: obtained_.policy = "policy-" + std::to_string(got.sched_policy);
    }
    obtained_.priority = static_cast<int>(got.sched_priority);
    if (got.sched_policy == SCHED_DEADLINE) {
      obtained_.runtime_ns = static_cast<std::int64_t>(got.sched_runtime);
      obtained_.deadline_ns = static_cast<std::int64_t>(got.sched_deadline);
      obtained_.period_ns = static_cast<std::int64_t>(got.sched_period);
    }
  }
  cpu_set_t now;
  CPU_ZERO(&now);
  if (::sched_getaffinity(0, sizeof now, &now) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &now)) obtained_.cpus.push_back(c);
#endif
}

void Executor::thread_main() {
  apply_attributes();
  if (start_hook_) start_hook_();
  running_.store(true);
  {
    std::lock_guard<std::mutex> g(mu_);
    started_ = true;
  }
  cv_.notify_all();
  // An exception here (a failing backend) would reach std::terminate: it
  // stops the loop instead and is counted as an error.
  try {
    while (!sched_.stopping()) sched_.step(*waiter_);
  } catch (...) {
    sched_.record_failure(std::current_exception());
  }
  running_.store(false);
  if (exit_hook_) exit_hook_();
  {
    std::lock_guard<std::mutex> g(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

bool Executor::wait_stopped(std::int64_t timeout_ns) {
  std::unique_lock<std::mutex> lk(mu_);
  if (timeout_ns < 0) {
    cv_.wait(lk, [this] { return stopped_; });
    return true;
  }
  return cv_.wait_for(lk, std::chrono::nanoseconds(timeout_ns), [this] { return stopped_; });
}

void Executor::request_stop() {
  sched_.stop();
  if (!closed_.load()) waiter_->interrupt();  // once closed, stop() has interrupted and joined
}

void Executor::stop() {
  if (on_loop_thread()) {
    request_stop();
    return;
  }
  if (closed_.exchange(true)) return;
  sched_.stop();
  waiter_->interrupt();
  if (thread_.joinable()) thread_.join();
  sched_.set_notifier({});
  waiter_.reset();  // releases the backend's file descriptors
  if (locked_memory_) {
    std::lock_guard<std::mutex> g(mlock_mutex());
    if (--mlock_users() == 0) ::munlockall();
    locked_memory_ = false;
  }
}

}  // namespace si::rt
