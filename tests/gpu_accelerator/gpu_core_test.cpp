// C++ unit tests of gpu_accelerator's CPU side: the sentiment head and cosine
// against double-precision references on every SIMD level, and the graph state
// machine.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/cpu_features.hpp"
#include "common/errors.hpp"
#include "gpu_accelerator/cpu_models.hpp"
#include "gpu_accelerator/graph_lifecycle.hpp"
#include "test_support.hpp"

using si::testing::randn;

namespace {

using si::gpu::GraphLifecycle;

TEST(GpuCoreModels, SentimentMatchesDoubleOnEveryLevel) {
  const std::size_t in = 19, hid = 45, batch = 70;
  si::gpu::SentimentWeights w;
  w.in = in;
  w.hidden = hid;
  w.w1 = randn(hid * in, 1);
  w.b1 = randn(hid, 2);
  w.w2 = randn(3 * hid, 3);
  w.b2 = randn(3, 4);
  for (auto& x : w.w1) x *= 0.2f;
  for (auto& x : w.w2) x *= 0.2f;
  const auto x = randn(batch * in, 5);
  si::gpu::SentimentHeadCpu head(w);
  for (auto level : si::simd::available_levels()) {
    std::vector<float> out(batch * 3);
    head.forward(x.data(), batch, out.data(), level, 2);
    for (std::size_t r = 0; r < batch; ++r) {
      std::vector<double> h(hid);
      for (std::size_t j = 0; j < hid; ++j) {
        double s = w.b1[j];
        for (std::size_t i = 0; i < in; ++i) s += double(w.w1[j * in + i]) * x[r * in + i];
        h[j] = s > 0 ? s : 0;
      }
      double z[3];
      for (int o = 0; o < 3; ++o) {
        z[o] = w.b2[o];
        for (std::size_t j = 0; j < hid; ++j) z[o] += double(w.w2[o * hid + j]) * h[j];
      }
      const double ref[3] = {std::tanh(z[0]), 1 / (1 + std::exp(-z[1])), 1 / (1 + std::exp(-z[2]))};
      for (int o = 0; o < 3; ++o)
        EXPECT_NEAR(out[r * 3 + o], ref[o], 1e-5 * std::abs(ref[o]) + 1e-6)
            << si::simd::level_name(level) << " row " << r;
    }
  }
}

TEST(GpuCoreModels, SentimentWeightsValidation) {
  si::gpu::SentimentWeights w;
  w.in = 2;
  w.hidden = 2;
  w.w1 = {1, 2, 3, 4};
  w.b1 = {0, 0};
  w.w2 = {1, 1, 1, 1, 1, 1};
  w.b2 = {0, 0};
  EXPECT_THROW(si::gpu::SentimentHeadCpu{w}, std::invalid_argument);  // b2 too short
  w.b2 = {0, 0, 0};
  w.w1[3] = std::nanf("");
  EXPECT_THROW(si::gpu::SentimentHeadCpu{w}, std::invalid_argument);
  w.w1[3] = 4;
  EXPECT_NO_THROW(si::gpu::SentimentHeadCpu{w});
}

TEST(GpuCoreModels, CosineMatchesDoubleOnEveryLevel) {
  for (std::size_t m : {1u, 3u, 4u, 7u}) {
    const std::size_t n = 300, dim = 33;
    auto q = randn(m * dim, 10 + static_cast<unsigned>(m));
    auto k = randn(n * dim, 20);
    for (std::size_t d = 0; d < dim; ++d) k[5 * dim + d] = 0.0f;  // a zero key
    for (auto level : si::simd::available_levels()) {
      std::vector<float> out(m * n);
      si::gpu::cosine_matrix(q.data(), m, k.data(), n, dim, out.data(), level, 2);
      for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
          double dot = 0, qq = 0, kk = 0;
          for (std::size_t d = 0; d < dim; ++d) {
            dot += double(q[i * dim + d]) * k[j * dim + d];
            qq += double(q[i * dim + d]) * q[i * dim + d];
            kk += double(k[j * dim + d]) * k[j * dim + d];
          }
          const double ref = (qq > 0 && kk > 0) ? dot / std::sqrt(qq * kk) : 0.0;
          EXPECT_NEAR(out[i * n + j], ref, 1e-5) << si::simd::level_name(level) << " m=" << m;
        }
    }
  }
}

TEST(GpuCoreModels, FirstNonFinite) {
  std::vector<float> v(5000, 1.0f);
  EXPECT_EQ(si::gpu::first_non_finite(v.data(), v.size()), v.size());
  v[4321] = -INFINITY;
  v[4400] = NAN;
  EXPECT_EQ(si::gpu::first_non_finite(v.data(), v.size()), 4321u);
}

TEST(GpuCoreGraph, LifecycleTransitionsAndMisuse) {
  GraphLifecycle g;
  EXPECT_THROW(g.check_launch(), std::logic_error);
  EXPECT_THROW(g.check_instantiate(), std::logic_error);
  g.check_begin_capture();
  g.on_begin_capture();
  EXPECT_THROW(g.check_begin_capture(), std::logic_error);
  g.on_end_capture(false);
  EXPECT_EQ(g.state(), GraphLifecycle::State::empty);
  g.on_begin_capture();
  g.on_end_capture(true);
  g.check_instantiate();
  g.on_instantiate();
  g.check_launch();
  g.on_launch();
  EXPECT_EQ(g.launches(), 1u);
  g.on_begin_capture();
  g.on_end_capture(true);
  EXPECT_TRUE(g.exec_stale());
  EXPECT_THROW(g.check_launch(), std::logic_error);
  g.check_update();
  g.on_update(true);
  EXPECT_EQ(g.updates_in_place(), 1u);
  g.on_close();
  EXPECT_THROW(g.check_launch(), si::Closed);
}

}  // namespace
