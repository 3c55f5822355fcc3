// The same calls as si_embed_check.pyx's timed loops, written as plain C++
// loops, so that the test compares the Cython API with C++ in one process run.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "frozen_model_rl/bandit.hpp"
#include "realtime_core/timer.hpp"
#include "vector_navigator/index.hpp"

namespace si_embed_check {

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double cxx_search_loop(const si::vn::Index& index, const float* query, const si::vn::SearchOptions& opt,
                              std::uint64_t* ids, float* scores, long iters) {
  const std::int64_t t0 = now_ns();
  for (long i = 0; i < iters; ++i) index.search(query, 1, opt, ids, scores);
  return static_cast<double>(now_ns() - t0) / static_cast<double>(iters);
}

inline double cxx_tick_loop(si::rt::Timer& timer, long iters) {
  const std::int64_t t0 = now_ns();
  for (long i = 0; i < iters; ++i) timer.tick();
  return static_cast<double>(now_ns() - t0) / static_cast<double>(iters);
}

inline double cxx_select_loop(si::bandit::Bandit& bandit, const double* x, long iters) {
  const std::int64_t t0 = now_ns();
  for (long i = 0; i < iters; ++i) bandit.select(x, false);
  return static_cast<double>(now_ns() - t0) / static_cast<double>(iters);
}

// Threads inside the library at once (the GIL is not held there).
inline std::atomic<int>& in_flight() {
  static std::atomic<int> n{0};
  return n;
}
inline std::atomic<int>& max_in_flight() {
  static std::atomic<int> n{0};
  return n;
}
inline void enter() {
  const int now = ++in_flight();
  int seen = max_in_flight().load();
  while (now > seen && !max_in_flight().compare_exchange_weak(seen, now)) {
  }
}
inline void leave() { --in_flight(); }

}  // namespace si_embed_check
