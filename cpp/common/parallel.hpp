// The parallel-for every component uses: task indices handed out by an atomic
// counter to up to `threads` short-lived std::threads (calls are long enough
// that thread start-up is noise).
//
// Thread counts: 0 means one per hardware thread; check_thread_count() refuses
// anything above max_threads(), so that a typo cannot ask for millions of
// workers (or their per-worker scratch). If the system refuses to create a
// thread (EAGAIN: a ulimit, a container's pids limit), the workers already
// started do all the tasks: the call is slower, never aborted.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace si {

// Hardware threads, read once per process: glibc answers
// std::thread::hardware_concurrency() by reading /sys/devices/system/cpu/online,
// about 6 us a call, which a single search would pay on every call.
inline int hardware_threads() {
  static const int n = [] {
    const unsigned hc = std::thread::hardware_concurrency();
    return hc ? static_cast<int>(hc) : 1;
  }();
  return n;
}

// The largest thread count a call accepts: 256, or the hardware's count if larger.
inline int max_threads() { return std::max(256, hardware_threads()); }

// Throws std::invalid_argument (ValueError) unless 0 <= threads <= max_threads().
inline void check_thread_count(long long threads, const char* name = "threads") {
  if (threads < 0 || threads > max_threads())
    throw std::invalid_argument(std::string(name) + " must be within [0, " + std::to_string(max_threads()) +
                                "] (0: one per hardware thread), got " + std::to_string(threads));
}

// `threads` (0: one per hardware thread) as a worker count >= 1.
inline int resolve_threads(int threads) {
  if (threads > 0) return std::min(threads, max_threads());
  return hardware_threads();
}

// fn(task, worker) for task in [0, ntasks), on up to `threads` workers
// (worker < min(resolve_threads(threads), ntasks)). The first exception thrown
// by any task is rethrown after all workers end.
template <class Fn>
void parallel_for(std::size_t ntasks, int threads, Fn&& fn) {
  const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(threads)), ntasks);
  if (workers <= 1) {
    for (std::size_t t = 0; t < ntasks; ++t) fn(t, std::size_t{0});
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto body = [&](std::size_t w) {
    try {
      for (std::size_t t; (t = next.fetch_add(1)) < ntasks;) fn(t, w);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      next.store(ntasks);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) {
    try {
      pool.emplace_back(body, w);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running share the tasks
    }
  }
  body(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace si
