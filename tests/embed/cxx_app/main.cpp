// Uses the core from C++ through the installed headers and libsuperinstance_core.a:
// a timer tick wait, an index search, bandit select/update and a latency
// histogram. Reads its inputs from a file the test wrote with numpy and prints
// JSON results that the test compares with the Python API.
//
//   cxx_app INPUT      INPUT: u32 n, dim, nq, k, n_arms, arm_dim, rounds;
//                      f32 vectors[n*dim], queries[nq*dim];
//                      f64 contexts[rounds*arm_dim], rewards[rounds*n_arms]
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/histogram.hpp"
#include "frozen_model_rl/bandit.hpp"
#include "realtime_core/timer.hpp"
#include "realtime_core/waiter.hpp"
#include "vector_navigator/index.hpp"

namespace {

template <class T>
std::vector<T> read_array(std::ifstream& in, std::size_t n) {
  std::vector<T> v(n);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
  if (!in) throw std::runtime_error("input file too short");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::ifstream in(argv[1], std::ios::binary);
  const auto h = read_array<std::uint32_t>(in, 7);
  const std::size_t n = h[0], dim = h[1], nq = h[2], k = h[3], n_arms = h[4], arm_dim = h[5], rounds = h[6];
  const auto vectors = read_array<float>(in, n * dim);
  const auto queries = read_array<float>(in, nq * dim);
  const auto contexts = read_array<double>(in, rounds * arm_dim);
  const auto rewards = read_array<double>(in, rounds * n_arms);

  // Timer: 5 ticks at 1 kHz through whichever waiter works here.
  std::string why;
  si::rt::Timer timer(si::rt::Period::from_rate_hz(1000), std::nullopt, si::rt::MissedPolicy::Skip,
                      si::rt::make_auto_waiter(why));
  std::int64_t last_deadline = 0;
  bool on_time = true;
  for (int i = 0; i < 5; ++i) {
    const si::rt::Tick t = timer.tick();
    on_time = on_time && t.woke_ns >= t.deadline_ns && t.deadline_ns > last_deadline;
    last_deadline = t.deadline_ns;
  }

  // Index: flat cosine search.
  si::vn::Index index(dim, si::vn::Metric::cosine, si::vn::Kind::flat);
  index.add(vectors.data(), n, nullptr, si::vn::Payload{}, 1, nullptr);
  si::vn::SearchOptions opt;
  opt.k = k;
  std::vector<std::uint64_t> ids(nq * k);
  std::vector<float> scores(nq * k);
  index.search(queries.data(), nq, opt, ids.data(), scores.data());

  // Bandit: LinUCB, select then update with the chosen arm's reward, every round.
  si::bandit::Config cfg;
  cfg.algo = si::bandit::Algo::LinUCB;
  cfg.n_arms = static_cast<std::uint32_t>(n_arms);
  cfg.dim = static_cast<std::uint32_t>(arm_dim);
  cfg.alpha = 0.5;
  si::bandit::Bandit bandit(cfg);
  std::vector<std::uint32_t> arms;
  for (std::size_t r = 0; r < rounds; ++r) {
    const si::bandit::Decision d = bandit.select(&contexts[r * arm_dim]);
    bandit.update(d.id, rewards[r * n_arms + d.arm]);
    arms.push_back(d.arm);
  }

  // Histogram.
  si::LatencyHistogram hist;
  for (std::int64_t v = 1; v <= 1000; ++v) hist.record(v * 1000);

  std::printf("{\"on_time\": %s, \"ids\": [", on_time ? "true" : "false");
  for (std::size_t i = 0; i < ids.size(); ++i) std::printf("%s%llu", i ? ", " : "", (unsigned long long)ids[i]);
  std::printf("], \"arms\": [");
  for (std::size_t i = 0; i < arms.size(); ++i) std::printf("%s%u", i ? ", " : "", arms[i]);
  std::printf("], \"hist_count\": %llu, \"hist_p50\": %.3f, \"hist_max\": %lld}\n",
              (unsigned long long)hist.count(), hist.percentile(50), (long long)hist.max());
  return 0;
}
