#include "common/platform.hpp"

#include <cerrno>
#include <cstring>
#include <thread>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

// Old kernel headers (manylinux images) lack the io_uring numbers; 425 is the
// same on every architecture since Linux 5.1's unified system call table.
#if defined(__linux__) && !defined(__NR_io_uring_setup)
#define __NR_io_uring_setup 425
#endif

namespace si::platform {
namespace {

Probe refused(int err, const std::string& what) {
  return Probe{false, err, what + ": " + std::strerror(err)};
}

}  // namespace

Probe probe_io_uring() {
#if defined(__linux__) && defined(__NR_io_uring_setup)
  // struct io_uring_params is 120 bytes; the kernel fills it in.
  alignas(8) unsigned char params[120] = {};
  const long fd = ::syscall(__NR_io_uring_setup, 4u, params);
  if (fd < 0) return refused(errno, "io_uring_setup");
  ::close(static_cast<int>(fd));
  return Probe{true, 0, "io_uring_setup succeeded"};
#else
  return Probe{false, ENOSYS, "io_uring is Linux-only"};
#endif
}

Probe probe_sched_fifo(int priority) {
#if defined(__linux__)
  Probe result;
  std::thread t([&] {
    sched_param sp{};
    sp.sched_priority = priority;
    const int rc = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &sp);
    if (rc != 0) {
      result = refused(rc, "pthread_setschedparam(SCHED_FIFO, " + std::to_string(priority) + ")");
    } else {
      result = Probe{true, 0, "SCHED_FIFO priority " + std::to_string(priority) + " granted"};
    }
  });
  t.join();
  return result;
#else
  return Probe{false, ENOSYS, "SCHED_FIFO probe is Linux-only"};
#endif
}

Probe probe_mlock() {
#if defined(__linux__)
  const long page = ::sysconf(_SC_PAGESIZE);
  void* p = ::mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return refused(errno, "mmap");
  Probe result{true, 0, "mlock of one page succeeded"};
  if (::mlock(p, static_cast<size_t>(page)) != 0) {
    result = refused(errno, "mlock");
  } else {
    ::munlock(p, static_cast<size_t>(page));
  }
  ::munmap(p, static_cast<size_t>(page));
  return result;
#else
  return Probe{false, ENOSYS, "mlock probe is Linux-only"};
#endif
}

std::int64_t timer_slack_ns() {
#if defined(__linux__)
  const int v = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  return v < 0 ? -1 : v;
#else
  return -1;
#endif
}

}  // namespace si::platform
