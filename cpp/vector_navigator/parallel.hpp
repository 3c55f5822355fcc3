// A minimal parallel-for over task indices on short-lived std::threads
// (vector_navigator only; calls are long enough that thread start-up is noise).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace si::vn {

inline int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc ? static_cast<int>(hc) : 1;
}

// fn(task, worker) for task in [0, ntasks), on up to `threads` workers.
// The first exception thrown by any task is rethrown after all workers end.
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
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(body, w);
  body(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace si::vn
