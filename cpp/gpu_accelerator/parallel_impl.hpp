// Implementation of si::gpu::parallel_chunks (template, so header-only).
#pragma once

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace si::gpu {

template <class Fn>
void parallel_chunks(std::size_t count, unsigned threads, Fn&& fn) {
  if (count == 0) return;
  std::size_t t = std::max<std::size_t>(1, std::min<std::size_t>(threads, count));
  if (t == 1) {
    fn(std::size_t{0}, count);
    return;
  }
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(t);
  const std::size_t per = (count + t - 1) / t;
  for (std::size_t i = 1; i < t; ++i) {
    std::size_t b = i * per, e = std::min(count, b + per);
    if (b >= e) break;
    pool.emplace_back([&, i, b, e] {
      try {
        fn(b, e);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  try {
    fn(std::size_t{0}, std::min(count, per));
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace si::gpu
