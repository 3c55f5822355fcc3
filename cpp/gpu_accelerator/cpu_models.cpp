#include "gpu_accelerator/cpu_models.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/vector_kernels.hpp"
#include "gpu_accelerator/cosine_kernels.hpp"

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

// Below this many queries the key transpose costs more than it saves.
constexpr std::size_t kMinQueriesForTranspose = 4;

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
  // A thread costs tens of microseconds to start, and a call that streams its
  // data once (one query against many keys) is bound by memory bandwidth, not
  // cores; measured on a 2-core VM, a second thread pays off from ~20 MFLOP.
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  if (work_flops < 2e7) return 1;
  return std::min<unsigned>(hw, static_cast<unsigned>(work_flops / 1e7));
}

std::size_t first_non_finite(const float* p, std::size_t n) {
  // Exponent bits all ones means NaN or infinity; an integer OR over blocks
  // vectorises, the exact position is searched only in a bad block.
  constexpr std::size_t kB = 1024;
  for (std::size_t b = 0; b < n; b += kB) {
    const std::size_t e = std::min(n, b + kB);
    std::uint32_t any = 0;
    for (std::size_t i = b; i < e; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, p + i, sizeof bits);
      any |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (any)
      for (std::size_t i = b; i < e; ++i)
        if (!std::isfinite(p[i])) return i;
  }
  return n;
}

SentimentHeadCpu::SentimentHeadCpu(SentimentWeights w) : w_(std::move(w)) {
  w_.validate();
  if (w_.hidden <= kKeyBlock) {
    w1t_.assign(w_.in * kKeyBlock, 0.0f);
    for (std::size_t j = 0; j < w_.hidden; ++j)
      for (std::size_t i = 0; i < w_.in; ++i) w1t_[i * kKeyBlock + j] = w_.w1[j * w_.in + i];
  }
}

void SentimentHeadCpu::forward(const float* x, std::size_t batch, float* out,
                               simd::Level level, unsigned threads) const {
  const auto& k = simd::vector_kernels(level);
  const std::size_t in = w_.in, hid = w_.hidden;
  if (threads == 0) threads = auto_threads(2.0 * batch * hid * (in + 3));
  const auto& ck = cosine_kernel_set().at(level);
  auto finish_row = [&](float* h, std::size_t r) {
    float z[3];
    for (std::size_t j = 0; j < hid; ++j) h[j] = std::max(0.0f, h[j] + w_.b1[j]);
    k.dot_rows(h, w_.w2.data(), 3, hid, hid, z);
    float* o = out + r * 3;
    o[0] = std::tanh(z[0] + w_.b2[0]);
    o[1] = sigmoid(z[1] + w_.b2[1]);
    o[2] = sigmoid(z[2] + w_.b2[2]);
  };
  parallel_chunks(batch, threads, [&](std::size_t b, std::size_t e) {
    if (!w1t_.empty()) {
      // Layer 1 for a tile of rows at once: x_tile @ w1^T, vectorised over hidden units.
      constexpr std::size_t kTile = 32;
      std::vector<float> h(kTile * kKeyBlock);
      for (std::size_t r0 = b; r0 < e; r0 += kTile) {
        const std::size_t rows = std::min(kTile, e - r0);
        ck.qk_block(x + r0 * in, rows, in, w1t_.data(), hid, h.data(), kKeyBlock);
        for (std::size_t r = 0; r < rows; ++r) finish_row(h.data() + r * kKeyBlock, r0 + r);
      }
    } else {
      std::vector<float> h(hid);
      for (std::size_t r = b; r < e; ++r) {
        k.dot_rows(x + r * in, w_.w1.data(), hid, in, in, h.data());
        finish_row(h.data(), r);
      }
    }
  });
}

void cosine_matrix(const float* q, std::size_t m, const float* k, std::size_t n, std::size_t dim,
                   float* out, simd::Level level, unsigned threads) {
  const auto& vk = simd::vector_kernels(level);
  const auto& ck = cosine_kernel_set().at(level);
  if (m == 0 || n == 0) return;
  if (threads == 0) threads = auto_threads(2.0 * m * n * dim);
  std::vector<float> qinv(m), kinv(n);
  auto inv_norm = [&](const float* row) {
    float s = vk.dot(row, row, dim);
    return s > 0.0f ? 1.0f / std::sqrt(s) : 0.0f;
  };
  for (std::size_t i = 0; i < m; ++i) qinv[i] = inv_norm(q + i * dim);
  // Keys in blocks of kKeyBlock that stay in L2 while every query passes over
  // them. With several queries, each block is transposed once (dim x block) so
  // that the micro-kernel vectorises over keys; one query uses row dot products.
  const bool transpose = m >= kMinQueriesForTranspose;
  const std::size_t blocks = (n + kKeyBlock - 1) / kKeyBlock;
  parallel_chunks(blocks, threads, [&](std::size_t b, std::size_t e) {
    std::vector<float> kt(transpose ? dim * kKeyBlock : 0);
    for (std::size_t blk = b; blk < e; ++blk) {
      const std::size_t j0 = blk * kKeyBlock, j1 = std::min(n, j0 + kKeyBlock), w = j1 - j0;
      for (std::size_t j = j0; j < j1; ++j) kinv[j] = inv_norm(k + j * dim);
      if (transpose) {
        if (w < kKeyBlock) std::fill(kt.begin(), kt.end(), 0.0f);
        // In strips of 16 dimensions: each source read is one cache line of a
        // key row, and the 16 destination rows stay in L1. (Reading a column
        // across 128 rows at a stride of 4*dim bytes maps to few cache sets.)
        const float* base = k + j0 * dim;
        for (std::size_t d0 = 0; d0 < dim; d0 += 16) {
          const std::size_t dn = std::min<std::size_t>(16, dim - d0);
          for (std::size_t j = 0; j < w; ++j) {
            const float* src = base + j * dim + d0;
            float* dst = kt.data() + d0 * kKeyBlock + j;
            for (std::size_t t = 0; t < dn; ++t) dst[t * kKeyBlock] = src[t];
          }
        }
        ck.qk_block(q, m, dim, kt.data(), w, out + j0, n);
      } else {
        for (std::size_t i = 0; i < m; ++i)
          vk.dot_rows(q + i * dim, k + j0 * dim, w, dim, dim, out + i * n + j0);
      }
      for (std::size_t i = 0; i < m; ++i) {
        float* o = out + i * n + j0;
        const float qi = qinv[i];
        for (std::size_t j = 0; j < w; ++j)
          o[j] = std::clamp(o[j] * qi * kinv[j0 + j], -1.0f, 1.0f);
      }
    }
  });
}

}  // namespace si::gpu
