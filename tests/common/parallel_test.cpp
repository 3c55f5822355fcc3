// si::parallel_for (cpp/common/parallel.hpp), the one parallel loop of every component.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "common/parallel.hpp"

TEST(ParallelFor, CoversEveryTaskOnceWithWorkersInRange) {
  for (int threads : {0, 1, 2, 3, 8, 100}) {
    std::vector<std::atomic<int>> hits(37);
    const std::size_t workers = std::min<std::size_t>(si::resolve_threads(threads), hits.size());
    std::atomic<bool> worker_in_range{true};
    si::parallel_for(hits.size(), threads, [&](std::size_t t, std::size_t w) {
      hits[t]++;
      if (w >= workers) worker_in_range = false;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1) << threads;
    EXPECT_TRUE(worker_in_range.load()) << threads;
  }
}

TEST(ParallelFor, RethrowsTheFirstError) {
  EXPECT_THROW(si::parallel_for(10, 4,
                                [](std::size_t t, std::size_t) {
                                  if (t > 0) throw std::runtime_error("worker");
                                }),
               std::runtime_error);
  EXPECT_THROW(si::check_thread_count(-1), std::invalid_argument);
}
