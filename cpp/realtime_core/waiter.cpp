#include "realtime_core/waiter.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

#include "common/errors.hpp"
#include "realtime_core/io_uring_abi.hpp"
#include "realtime_core/sched_attr.hpp"

#if defined(__linux__)
#include <poll.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SI_CPU_RELAX() _mm_pause()
#else
#define SI_CPU_RELAX() ((void)0)
#endif

namespace si::rt {
namespace {

// Sleeping backends wait in slices of at most this long, so that close() (an
// interrupt) is seen within it; the last slice is an absolute wait to the
// deadline itself, so slicing does not change the wake-up time.
constexpr std::int64_t kSliceNs = 50'000'000;

timespec to_timespec(std::int64_t ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

std::string errno_text(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

// One absolute CLOCK_MONOTONIC sleep, retried on EINTR.
void nanosleep_abs(std::int64_t target_ns) {
  const timespec ts = to_timespec(target_ns);
  int rc;
  do {
    rc = ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  } while (rc == EINTR);
  if (rc != 0) throw IoError(rc, errno_text("clock_nanosleep", rc));
}

// ------------------------------------------------------------ clock_nanosleep
class NanosleepWaiter : public Waiter {
 public:
  std::string name() const override { return "clock_nanosleep"; }
  bool wait_until(std::int64_t deadline) override {
    TimerSlackGuard slack(1);
    for (;;) {
      if (take_interrupt()) return false;
      const std::int64_t now = monotonic_ns();
      if (now >= deadline) return true;
      nanosleep_abs(std::min(deadline, now + kSliceNs));
    }
  }
};

// ------------------------------------------------------------ timerfd
class TimerfdWaiter : public Waiter {
 public:
  TimerfdWaiter() {
    tfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (tfd_ < 0) throw BackendUnavailable("timerfd refused: " + errno_text("timerfd_create", errno));
    efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) {
      const int err = errno;
      ::close(tfd_);
      throw BackendUnavailable("timerfd refused: " + errno_text("eventfd", err));
    }
  }
  ~TimerfdWaiter() override {
    ::close(tfd_);
    ::close(efd_);
  }
  std::string name() const override { return "timerfd"; }
  void interrupt() override {
    interrupted_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(efd_, &one, sizeof one);
  }
  bool wait_until(std::int64_t deadline) override {
    for (;;) {
      if (take_interrupt()) {
        drain(efd_);
        return false;
      }
      if (monotonic_ns() >= deadline) return true;
      itimerspec its{};
      its.it_value = to_timespec(deadline);
      if (::timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &its, nullptr) != 0)
        throw IoError(errno, errno_text("timerfd_settime", errno));
      pollfd fds[2] = {{tfd_, POLLIN, 0}, {efd_, POLLIN, 0}};
      const int rc = ::poll(fds, 2, -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        throw IoError(errno, errno_text("poll(timerfd)", errno));
      }
      if (fds[0].revents & POLLIN) {
        std::uint64_t expirations = 0;
        if (::read(tfd_, &expirations, sizeof expirations) == sizeof expirations) last_expirations_ = expirations;
      }
      // Loop: re-checks the interrupt flag and the clock.
    }
  }
  std::string info() const override { return "last_expirations=" + std::to_string(last_expirations_); }

 private:
  static void drain(int fd) {
    std::uint64_t v;
    while (::read(fd, &v, sizeof v) == sizeof v) {
    }
  }
  int tfd_ = -1, efd_ = -1;
  std::uint64_t last_expirations_ = 0;
};

// ------------------------------------------------------------ io_uring (raw)
namespace ur = si::rt::uring;

long sys_io_uring_setup(unsigned entries, ur::Params* p) { return ::syscall(ur::kSysSetup, entries, p); }
long sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return ::syscall(ur::kSysEnter, fd, to_submit, min_complete, flags, nullptr, 0);
}

class IoUringWaiter : public Waiter {
 public:
  IoUringWaiter() {
    ur::Params p{};
    const long fd = sys_io_uring_setup(4, &p);
    if (fd < 0) throw BackendUnavailable("io_uring refused: " + errno_text("io_uring_setup", errno));
    fd_ = static_cast<int>(fd);
    sq_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cq_size_ = p.cq_off.cqes + p.cq_entries * sizeof(ur::Cqe);
    single_mmap_ = (p.features & ur::kFeatSingleMmap) != 0;
    if (single_mmap_) sq_size_ = cq_size_ = std::max(sq_size_, cq_size_);
    sq_ptr_ = ::mmap(nullptr, sq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, static_cast<off_t>(ur::kOffSqRing));
    if (sq_ptr_ == MAP_FAILED) fail("mmap(sq ring)");
    if (single_mmap_) {
      cq_ptr_ = sq_ptr_;
    } else {
      cq_ptr_ = ::mmap(nullptr, cq_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, static_cast<off_t>(ur::kOffCqRing));
      if (cq_ptr_ == MAP_FAILED) fail("mmap(cq ring)");
    }
    sqes_size_ = p.sq_entries * sizeof(ur::Sqe);
    sqes_ = static_cast<ur::Sqe*>(
        ::mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, static_cast<off_t>(ur::kOffSqes)));
    if (sqes_ == MAP_FAILED) {
      sqes_ = nullptr;
      fail("mmap(sqes)");
    }
    auto* sq = static_cast<char*>(sq_ptr_);
    auto* cq = static_cast<char*>(cq_ptr_);
    sq_head_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
    sq_tail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
    sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
    sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
    cq_head_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
    cq_tail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
    cq_mask_ = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
    cqes_ = reinterpret_cast<ur::Cqe*>(cq + p.cq_off.cqes);
    // Self-test: an absolute timeout already in the past must complete with
    // -ETIME; this catches kernels or filters that allow setup but not the op.
    try {
      const int res = timeout_abs(monotonic_ns());
      if (res != -ETIME) {
        release();
        throw BackendUnavailable("io_uring refused: IORING_OP_TIMEOUT self-test returned " + std::to_string(res) +
                                 (res < 0 ? std::string(" (") + std::strerror(-res) + ")" : std::string()));
      }
    } catch (const IoError& e) {
      release();
      throw BackendUnavailable(std::string("io_uring refused: ") + e.what());
    }
  }
  ~IoUringWaiter() override { release(); }
  std::string name() const override { return "io_uring"; }
  bool wait_until(std::int64_t deadline) override {
    for (;;) {
      if (take_interrupt()) return false;
      const std::int64_t now = monotonic_ns();
      if (now >= deadline) return true;
      const int res = timeout_abs(std::min(deadline, now + kSliceNs));
      if (res != -ETIME && res != 0 && res != -EINTR)
        throw IoError(-res, errno_text("IORING_OP_TIMEOUT", -res));
    }
  }

 private:
  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    release();
    throw BackendUnavailable("io_uring refused: " + errno_text(what, err));
  }
  void release() {
    if (sqes_) ::munmap(sqes_, sqes_size_);
    if (cq_ptr_ && cq_ptr_ != MAP_FAILED && cq_ptr_ != sq_ptr_) ::munmap(cq_ptr_, cq_size_);
    if (sq_ptr_ && sq_ptr_ != MAP_FAILED) ::munmap(sq_ptr_, sq_size_);
    if (fd_ >= 0) ::close(fd_);
    sqes_ = nullptr;
    sq_ptr_ = cq_ptr_ = nullptr;
    fd_ = -1;
  }
  // Submits one single-shot absolute timeout and waits for its completion;
  // returns the CQE's res (-ETIME when the deadline passed).
  int timeout_abs(std::int64_t target_ns) {
    ts_.tv_sec = target_ns / 1'000'000'000;
    ts_.tv_nsec = target_ns % 1'000'000'000;
    const std::uint64_t tag = ++seq_;
    const unsigned tail = __atomic_load_n(sq_tail_, __ATOMIC_ACQUIRE);
    const unsigned idx = tail & sq_mask_;
    ur::Sqe* sqe = &sqes_[idx];
    std::memset(sqe, 0, sizeof *sqe);
    sqe->opcode = ur::kOpTimeout;
    sqe->fd = -1;
    sqe->addr = reinterpret_cast<std::uint64_t>(&ts_);
    sqe->len = 1;
    sqe->off = 0;  // count 0: a pure timeout, not "after N completions"
    sqe->op_flags = ur::kTimeoutAbs;
    sqe->user_data = tag;
    sq_array_[idx] = idx;
    __atomic_store_n(sq_tail_, tail + 1, __ATOMIC_RELEASE);
    for (;;) {
      // SQEs not yet consumed by the kernel (it advances the SQ head).
      const unsigned pending = (tail + 1) - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
      const long rc = sys_io_uring_enter(fd_, pending, 1, ur::kEnterGetEvents);
      if (rc < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY)
        throw IoError(errno, errno_text("io_uring_enter", errno));
      unsigned head = __atomic_load_n(cq_head_, __ATOMIC_RELAXED);
      const unsigned ctail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
      int result = 1;
      bool found = false;
      while (head != ctail) {
        const ur::Cqe& c = cqes_[head & cq_mask_];
        if (c.user_data == tag) {
          result = c.res;
          found = true;
        }
        ++head;
      }
      __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
      if (found) return result;
    }
  }

  int fd_ = -1;
  bool single_mmap_ = false;
  void* sq_ptr_ = nullptr;
  void* cq_ptr_ = nullptr;
  ur::Sqe* sqes_ = nullptr;
  std::size_t sq_size_ = 0, cq_size_ = 0, sqes_size_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  ur::Cqe* cqes_ = nullptr;
  ur::KernelTimespec ts_{};
  std::uint64_t seq_ = 0;
};

// ------------------------------------------------------------ hybrid
constexpr std::int64_t kHybridMinMargin = 5'000;
constexpr std::int64_t kHybridMaxMargin = 500'000;

std::int64_t calibrate_margin() {
  // Measure how late a short absolute sleep wakes (with 1 ns slack).
  TimerSlackGuard slack(1);
  std::vector<std::int64_t> over;
  for (int i = 0; i < 16; ++i) {
    const std::int64_t target = monotonic_ns() + 200'000;
    nanosleep_abs(target);
    over.push_back(std::max<std::int64_t>(0, monotonic_ns() - target));
  }
  std::sort(over.begin(), over.end());
  const std::int64_t high = over[over.size() - 2];  // second largest: robust to one stall
  return std::clamp<std::int64_t>(high + high / 4 + 2'000, kHybridMinMargin, kHybridMaxMargin);
}

class HybridWaiter : public Waiter {
 public:
  HybridWaiter() : tuner_(calibrate_margin(), kHybridMinMargin, kHybridMaxMargin) {}
  std::string name() const override { return "hybrid"; }
  bool wait_until(std::int64_t deadline) override {
    std::int64_t now = monotonic_ns();
    // Spin at most half of the time left, so that a noisy machine (large
    // overshoots, hence a large margin) cannot turn the timer into a busy loop.
    const std::int64_t left = deadline - now;
    const std::int64_t target = deadline - std::min(tuner_.margin(), left > 0 ? left / 2 : 0);
    if (now < target) {
      TimerSlackGuard slack(1);
      while (now < target) {
        if (take_interrupt()) return false;
        nanosleep_abs(std::min(target, now + kSliceNs));
        now = monotonic_ns();
      }
      tuner_.add(now - target);
    }
    while (now < deadline) {
      if (interrupted_.load(std::memory_order_relaxed) && take_interrupt()) return false;
      SI_CPU_RELAX();
      now = monotonic_ns();
    }
    return true;
  }
  std::string info() const override {
    return "margin_ns=" + std::to_string(tuner_.margin()) + "\nretunes=" + std::to_string(tuner_.retunes());
  }

 private:
  MarginTuner tuner_;
};

// ------------------------------------------------------------ virtual
class VirtualWaiter : public Waiter {
 public:
  explicit VirtualWaiter(std::shared_ptr<VirtualClock> c) : clock_(std::move(c)) {}
  std::string name() const override { return "virtual"; }
  std::int64_t now_ns() override { return clock_->now(); }
  bool wait_until(std::int64_t deadline) override {
    if (take_interrupt()) return false;
    clock_->sleep_until(deadline);
    return true;
  }
  bool real_time() const override { return false; }

 private:
  std::shared_ptr<VirtualClock> clock_;
};

std::mutex& refusal_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::string>& refusals() {
  static std::map<std::string, std::string> r;
  return r;
}

}  // namespace

std::int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// ------------------------------------------------------------ VirtualClock
namespace {
// a + b for a, b >= 0, refused past INT64_MAX (the clock never wraps).
std::int64_t clock_sum(std::int64_t a, std::int64_t b, const char* what) {
  if (b > INT64_MAX - a)
    throw std::overflow_error(std::string("VirtualClock.") + what + ": the clock would pass 2**63-1 ns (now " +
                              std::to_string(a) + " + " + std::to_string(b) + ")");
  return a + b;
}
}  // namespace

VirtualClock::VirtualClock(std::int64_t start_ns) : now_(start_ns) {
  if (start_ns < 0) throw std::invalid_argument("VirtualClock: start_ns must be >= 0, got " + std::to_string(start_ns));
}

std::int64_t VirtualClock::now() const {
  std::lock_guard<std::mutex> g(mu_);
  return now_;
}
void VirtualClock::advance(std::int64_t ns) {
  if (ns < 0) throw std::invalid_argument("VirtualClock.advance: ns must be >= 0, got " + std::to_string(ns));
  std::lock_guard<std::mutex> g(mu_);
  now_ = clock_sum(now_, ns, "advance");
}
void VirtualClock::set(std::int64_t t) {
  std::lock_guard<std::mutex> g(mu_);
  if (t < now_) throw std::invalid_argument("VirtualClock.set: time cannot go backwards");
  now_ = t;
}
void VirtualClock::set_wake_latency(std::int64_t ns) {
  if (ns < 0) throw std::invalid_argument("wake latency must be >= 0");
  std::lock_guard<std::mutex> g(mu_);
  latency_ = ns;
  script_.clear();
}
void VirtualClock::set_wake_script(std::vector<std::int64_t> latencies) {
  for (auto v : latencies)
    if (v < 0) throw std::invalid_argument("wake latencies must be >= 0");
  std::lock_guard<std::mutex> g(mu_);
  script_ = std::move(latencies);
  script_pos_ = 0;
}
std::int64_t VirtualClock::sleep_until(std::int64_t deadline) {
  std::lock_guard<std::mutex> g(mu_);
  std::int64_t lat = latency_;
  if (!script_.empty()) lat = script_[script_pos_ % script_.size()];
  now_ = clock_sum(std::max(now_, deadline), lat, "wait");  // throws before anything changed
  if (!script_.empty()) ++script_pos_;
  ++waits_;
  return now_;
}
std::uint64_t VirtualClock::waits() const {
  std::lock_guard<std::mutex> g(mu_);
  return waits_;
}

std::unique_ptr<Waiter> make_virtual_waiter(std::shared_ptr<VirtualClock> clock) {
  if (!clock) throw std::invalid_argument("virtual clock is null");
  return std::make_unique<VirtualWaiter>(std::move(clock));
}

// ------------------------------------------------------------ MarginTuner
MarginTuner::MarginTuner(std::int64_t initial_ns, std::int64_t min_ns, std::int64_t max_ns, std::size_t window,
                         std::size_t retune_every)
    : margin_(std::clamp(initial_ns, min_ns, max_ns)),
      min_(min_ns),
      max_(max_ns),
      ring_(window, 0),
      window_(window),
      retune_every_(retune_every) {
  if (min_ns < 0 || max_ns < min_ns || window == 0 || retune_every == 0)
    throw std::invalid_argument("MarginTuner: bad bounds");
}

void MarginTuner::add(std::int64_t overshoot_ns) {
  ring_[pos_] = std::max<std::int64_t>(0, overshoot_ns);
  pos_ = (pos_ + 1) % window_;
  filled_ = std::min(filled_ + 1, window_);
  if (++since_ >= retune_every_) retune();
}

std::int64_t MarginTuner::window_p99() const {
  if (filled_ == 0) return 0;
  std::vector<std::int64_t> v(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(filled_));
  const std::size_t rank = (filled_ * 99 + 99) / 100;  // ceil(0.99 * n)
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
  return v[rank - 1];
}

void MarginTuner::retune() {
  since_ = 0;
  const std::int64_t p99 = window_p99();
  margin_ = std::clamp<std::int64_t>(p99 + p99 / 4 + 2'000, min_, max_);
  ++retunes_;
}

// ------------------------------------------------------------ registry
const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = {"clock_nanosleep", "timerfd", "io_uring", "hybrid"};
  return names;
}
const std::vector<std::string>& auto_order() {
  static const std::vector<std::string> order = {"clock_nanosleep", "timerfd", "io_uring"};
  return order;
}

void set_simulated_refusal(const std::string& name, const std::string& reason) {
  std::lock_guard<std::mutex> g(refusal_mutex());
  if (reason.empty())
    refusals().erase(name);
  else
    refusals()[name] = reason;
}
void clear_simulated_refusals() {
  std::lock_guard<std::mutex> g(refusal_mutex());
  refusals().clear();
}

std::unique_ptr<Waiter> make_waiter(const std::string& name) {
  const auto& names = backend_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw std::invalid_argument("unknown timer waiter '" + name +
                                "': use auto, clock_nanosleep, timerfd, io_uring or hybrid");
  {
    std::lock_guard<std::mutex> g(refusal_mutex());
    auto it = refusals().find(name);
    if (it != refusals().end()) throw BackendUnavailable(name + " refused: " + it->second);
  }
#if defined(__linux__)
  if (name == "clock_nanosleep") return std::make_unique<NanosleepWaiter>();
  if (name == "timerfd") return std::make_unique<TimerfdWaiter>();
  if (name == "io_uring") return std::make_unique<IoUringWaiter>();
  if (name == "hybrid") return std::make_unique<HybridWaiter>();
#endif
  throw BackendUnavailable(name + " refused: not supported on this platform");
}

std::unique_ptr<Waiter> make_auto_waiter(std::string& why) {
  std::string refused;
  for (const auto& n : auto_order()) {
    try {
      auto w = make_waiter(n);
      why = "auto chose " + n + " (first working of clock_nanosleep, timerfd, io_uring)";
      if (!refused.empty()) why += "; refused: " + refused;
      return w;
    } catch (const BackendUnavailable& e) {
      if (!refused.empty()) refused += "; ";
      refused += e.what();
    }
  }
  throw BackendUnavailable("no timer waiter works here: " + refused);
}

std::vector<BackendProbe> probe_backends() {
  std::vector<BackendProbe> out;
  for (const auto& n : backend_names()) {
    BackendProbe p{n, false, {}};
    try {
      auto w = make_waiter(n);
      p.ok = true;
      p.detail = "available";
      const std::string info = w->info();
      if (!info.empty()) p.detail += " (" + info + ")";
    } catch (const std::exception& e) {
      p.detail = e.what();
    }
    out.push_back(std::move(p));
  }
  return out;
}

// ------------------------------------------------------------ TimerSlackGuard
TimerSlackGuard::TimerSlackGuard(long slack_ns) {
#if defined(__linux__)
  const int old = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  if (old >= 0 && old != slack_ns && ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack_ns), 0, 0, 0) == 0)
    old_ = old;
#else
  (void)slack_ns;
#endif
}
TimerSlackGuard::~TimerSlackGuard() {
#if defined(__linux__)
  if (old_ >= 0) ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(old_), 0, 0, 0);
#endif
}

// ------------------------------------------------------------ WakeupSliceGuard
namespace {
constexpr std::uint64_t kResetOnFork = 0x01;  // SCHED_FLAG_RESET_ON_FORK

// The calling thread's attributes, if it runs under a fair policy.
bool fair_attr(SchedAttr& a) {
#if defined(__linux__) && defined(SYS_sched_getattr)
  a = SchedAttr{};
  if (::syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) return false;
  return a.sched_policy == SCHED_OTHER || a.sched_policy == SCHED_BATCH;
#else
  (void)a;
  return false;
#endif
}

bool set_runtime(SchedAttr a, std::uint64_t runtime_ns) {
#if defined(__linux__) && defined(SYS_sched_setattr)
  a.size = sizeof a;
  a.sched_flags &= kResetOnFork;  // keep only what getattr reported that setattr takes back as is
  a.sched_runtime = runtime_ns;
  return ::syscall(SYS_sched_setattr, 0, &a, 0) == 0;
#else
  (void)a;
  (void)runtime_ns;
  return false;
#endif
}
}  // namespace

WakeupSliceGuard::WakeupSliceGuard(std::uint64_t slice_ns) {
  if (!fair_attr(saved_) || (saved_.sched_runtime != 0 && saved_.sched_runtime <= slice_ns)) return;
  active_ = set_runtime(saved_, slice_ns);
}

WakeupSliceGuard::~WakeupSliceGuard() {
  if (active_) set_runtime(saved_, saved_.sched_runtime);  // no second sched_getattr on the hot path
}

std::uint64_t request_short_slice(std::uint64_t slice_ns) {
  SchedAttr a;
  if (!fair_attr(a)) return 0;
  if (a.sched_runtime != 0 && a.sched_runtime <= slice_ns) return a.sched_runtime;
  if (!set_runtime(a, slice_ns)) return 0;
  return fair_attr(a) ? a.sched_runtime : 0;
}

}  // namespace si::rt
