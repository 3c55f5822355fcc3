#include "gpu_accelerator/cpu_models.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/vector_kernels.hpp"

namespace si::gpu {
namespace {

void check_size(const std::vector<float>& v, std::size_t want, const char* name) {
  if (v.size() != want)
    throw std::invalid_argument(std::string("sentiment head: ") + name + " has " +
                                std::to_string(v.size()) + " values, expected " +
                                std::to_string(want));
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw std::invalid_argument(std::string("sentiment head: ") + name +
                                  " holds a non-finite value (NaN or inf) at flat index " +
                                  std::to_string(i));
}

inline float sigmoid(float z) { return 1.0f / (1.0f + std::exp(-z)); }

}  // namespace

void SentimentWeights::validate() const {
  if (in == 0 || hidden == 0)
    throw std::invalid_argument("sentiment head: in_features and hidden must be positive");
  check_size(w1, hidden * in, "w1");
  check_size(b1, hidden, "b1");
  check_size(w2, 3 * hidden, "w2");
  check_size(b2, 3, "b2");
}

unsigned auto_threads(double work_flops) {
  // A thread costs tens of microseconds to start; below ~2 MFLOP one is best.
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  if (work_flops < 2e6) return 1;
  return std::min<unsigned>(hw, static_cast<unsigned>(work_flops / 1e6));
}

std::size_t first_non_finite(const float* p, std::size_t n) {
  // Branch-free over blocks (x - x is 0 for finite x, NaN otherwise), exact search after.
  constexpr std::size_t kB = 256;
  for (std::size_t b = 0; b < n; b += kB) {
    const std::size_t e = std::min(n, b + kB);
    float acc = 0.0f;
    for (std::size_t i = b; i < e; ++i) acc += p[i] - p[i];
    if (acc != 0.0f || acc != acc)
      for (std::size_t i = b; i < e; ++i)
        if (!std::isfinite(p[i])) return i;
  }
  return n;
}

SentimentHeadCpu::SentimentHeadCpu(SentimentWeights w) : w_(std::move(w)) { w_.validate(); }

void SentimentHeadCpu::forward(const float* x, std::size_t batch, float* out,
                               simd::Level level, unsigned threads) const {
  const auto& k = simd::vector_kernels(level);
  const std::size_t in = w_.in, hid = w_.hidden;
  if (threads == 0) threads = auto_threads(2.0 * batch * hid * (in + 3));
  parallel_chunks(batch, threads, [&](std::size_t b, std::size_t e) {
    std::vector<float> h(hid);
    float z[3];
    for (std::size_t r = b; r < e; ++r) {
      k.dot_rows(x + r * in, w_.w1.data(), hid, in, in, h.data());
      for (std::size_t j = 0; j < hid; ++j) h[j] = std::max(0.0f, h[j] + w_.b1[j]);
      k.dot_rows(h.data(), w_.w2.data(), 3, hid, hid, z);
      float* o = out + r * 3;
      o[0] = std::tanh(z[0] + w_.b2[0]);
      o[1] = sigmoid(z[1] + w_.b2[1]);
      o[2] = sigmoid(z[2] + w_.b2[2]);
    }
  });
}

void cosine_matrix(const float* q, std::size_t m, const float* k, std::size_t n, std::size_t dim,
                   float* out, simd::Level level, unsigned threads) {
  const auto& vk = simd::vector_kernels(level);
  if (m == 0 || n == 0) return;
  if (threads == 0) threads = auto_threads(2.0 * m * n * dim);
  std::vector<float> qinv(m), kinv(n);
  auto inv_norm = [&](const float* row) {
    float s = vk.dot(row, row, dim);
    return s > 0.0f ? 1.0f / std::sqrt(s) : 0.0f;
  };
  for (std::size_t i = 0; i < m; ++i) qinv[i] = inv_norm(q + i * dim);
  // Key blocks small enough to stay in L2 while every query passes over them.
  constexpr std::size_t kBlock = 128;
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  parallel_chunks(blocks, threads, [&](std::size_t b, std::size_t e) {
    for (std::size_t blk = b; blk < e; ++blk) {
      const std::size_t j0 = blk * kBlock, j1 = std::min(n, j0 + kBlock);
      for (std::size_t j = j0; j < j1; ++j) kinv[j] = inv_norm(k + j * dim);
      for (std::size_t i = 0; i < m; ++i) {
        float* o = out + i * n + j0;
        vk.dot_rows(q + i * dim, k + j0 * dim, j1 - j0, dim, dim, o);
        const float qi = qinv[i];
        for (std::size_t j = j0; j < j1; ++j)
          o[j - j0] = std::clamp(o[j - j0] * qi * kinv[j], -1.0f, 1.0f);
      }
    }
  });
}

}  // namespace si::gpu
