// Probes of what this process may do for real-time work. Each probe tries the
// real operation (on a throw-away thread or page) rather than guessing from
// limits, because containers and seccomp filters override the limits.
#pragma once

#include <cstdint>
#include <string>

namespace si::platform {

struct Probe {
  bool ok = false;
  int error_number = 0;  // errno of the refusal, 0 when ok
  std::string detail;    // what was tried and what happened
};

// io_uring_setup(2) with a 4-entry ring, closed at once.
Probe probe_io_uring();
// pthread_setschedparam(SCHED_FIFO, priority) on a short-lived thread.
Probe probe_sched_fifo(int priority = 1);
// mlock(2) of one page.
Probe probe_mlock();
// The calling thread's timer slack in ns (prctl PR_GET_TIMERSLACK); -1 if unknown.
std::int64_t timer_slack_ns();

}  // namespace si::platform
