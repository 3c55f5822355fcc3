#include "gpu_accelerator/cpu_models.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/parallel.hpp"
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

// Below this many queries packing the keys costs more than it saves.
constexpr std::size_t kMinQueriesForPacking = 4;

// Logistic function without overflow for any z (exp of a non-positive argument only).
template <class T>
T sigmoid(T z) {
  const T e = std::exp(-std::fabs(z));
  return z >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// valence, arousal, dominance of the three output pre-activations (float for the
// ordinary path, double for rows recomputed after an overflow).
template <class T>
void write_outputs(T z0, T z1, T z2, float* o) {
  o[0] = static_cast<float>(std::tanh(z0));
  o[1] = static_cast<float>(sigmoid(z1));
  o[2] = static_cast<float>(sigmoid(z2));
}

// 1 when x is NaN or infinite (all exponent bits set); branch-free, so loops vectorise.
inline std::uint32_t non_finite_bit(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
}

// Squared norms in this range make float dot products safe: no partial sum can
// overflow (|q.k| <= |q||k| <= 2^100), and the products lost to underflow
// (< 2^-126 each) are negligible next to |q||k| >= 2^-60. Rows outside it are
// rescaled by a power of two first (exact), see RowNorm.
constexpr float kSafeNormSqLo = 0x1p-60f;
constexpr float kSafeNormSqHi = 0x1p100f;

// A row's 1/||row|| for the float path, or the power of two that brings it into
// the safe range (scale != 1) and the inverse norm of the scaled row.
struct RowNorm {
  float inv = 0.0f;
  double scale = 1.0;
};

RowNorm row_norm(const simd::VectorKernels& vk, const float* row, std::size_t dim) {
  const float s = vk.dot(row, row, dim);
  if (s >= kSafeNormSqLo && s <= kSafeNormSqHi) return {1.0f / std::sqrt(s), 1.0};
  // In double every float square fits (3.4e38^2 and 1.4e-45^2 are normal doubles).
  double d = 0.0;
  for (std::size_t i = 0; i < dim; ++i) d += static_cast<double>(row[i]) * row[i];
  if (!(d > 0.0)) return {0.0f, 1.0};  // a zero row: similarity 0 with everything
  int e;
  std::frexp(std::sqrt(d), &e);  // sqrt(d) in [2^(e-1), 2^e)
  const double scale = std::ldexp(1.0, -e);
  return {static_cast<float>(1.0 / (std::sqrt(d) * scale)), scale};
}

// The rows of src that need it multiplied by their scale (in double, so that
// a scale beyond float's range is fine), the rest copied.
void rescale_rows(const float* src, std::size_t rows, std::size_t dim, const RowNorm* norms, float* dst) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* a = src + r * dim;
    float* b = dst + r * dim;
    const double sc = norms[r].scale;
    if (sc == 1.0) {
      std::copy(a, a + dim, b);
    } else {
      for (std::size_t i = 0; i < dim; ++i) b[i] = static_cast<float>(a[i] * sc);
    }
  }
}

bool any_rescaled(const RowNorm* norms, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (norms[i].scale != 1.0) return true;
  return false;
}

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
  const auto hw = static_cast<unsigned>(si::hardware_threads());
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
    w1t_.resize(w_.in * kKeyBlock);
    simd::pack_columns(w_.w1.data(), w_.hidden, w_.in, kKeyBlock, w1t_.data());
  }
}

void SentimentHeadCpu::forward_row_f64(const float* x, float* o) const {
  const std::size_t in = w_.in, hid = w_.hidden;
  double z[3] = {w_.b2[0], w_.b2[1], w_.b2[2]};
  for (std::size_t j = 0; j < hid; ++j) {
    double pre = w_.b1[j];
    const float* w = w_.w1.data() + j * in;
    for (std::size_t i = 0; i < in; ++i) pre += static_cast<double>(w[i]) * x[i];
    const double h = std::max(0.0, pre);
    for (int c = 0; c < 3; ++c) z[c] += static_cast<double>(w_.w2[c * hid + j]) * h;
  }
  write_outputs(z[0], z[1], z[2], o);
}

void SentimentHeadCpu::forward(const float* x, std::size_t batch, float* out,
                               simd::Level level, unsigned threads) const {
  const auto& k = simd::vector_kernels(level);
  const std::size_t in = w_.in, hid = w_.hidden;
  if (threads == 0) threads = auto_threads(2.0 * batch * hid * (in + 3));
  auto finish_row = [&](float* h, std::size_t r) {
    // A non-finite pre-activation means a float partial sum overflowed (the
    // inputs and weights are finite): that row is recomputed in double, where
    // nothing a float network can produce overflows.
    std::uint32_t non_finite = 0;
    for (std::size_t j = 0; j < hid; ++j) {
      const float pre = h[j] + w_.b1[j];
      non_finite |= non_finite_bit(pre);
      h[j] = std::max(0.0f, pre);
    }
    float z[3];
    k.dot_rows(h, w_.w2.data(), 3, hid, hid, z);
    for (int c = 0; c < 3; ++c) {
      z[c] += w_.b2[c];
      non_finite |= non_finite_bit(z[c]);
    }
    if (non_finite) return forward_row_f64(x + r * in, out + r * 3);
    write_outputs(z[0], z[1], z[2], out + r * 3);
  };
  // Tasks of kTile rows; layer 1 of a tile at once (x_tile @ w1^T, vectorised
  // over hidden units) when w1 is packed, else row by row.
  constexpr std::size_t kTile = 32;
  const std::size_t tiles = (batch + kTile - 1) / kTile;
  std::vector<std::vector<float>> scratch(std::min<std::size_t>(tiles, si::resolve_threads(static_cast<int>(threads))));
  si::parallel_for(tiles, static_cast<int>(threads), [&](std::size_t t, std::size_t worker) {
    const std::size_t r0 = t * kTile, rows = std::min(kTile, batch - r0);
    std::vector<float>& h = scratch[worker];
    if (!w1t_.empty()) {
      h.resize(kTile * kKeyBlock);
      k.qk_block(x + r0 * in, rows, in, w1t_.data(), hid, h.data(), kKeyBlock);
      for (std::size_t r = 0; r < rows; ++r) finish_row(h.data() + r * kKeyBlock, r0 + r);
    } else {
      h.resize(hid);
      for (std::size_t r = r0; r < r0 + rows; ++r) {
        k.dot_rows(x + r * in, w_.w1.data(), hid, in, in, h.data());
        finish_row(h.data(), r);
      }
    }
  });
}

void cosine_matrix(const float* q, std::size_t m, const float* k, std::size_t n, std::size_t dim,
                   float* out, simd::Level level, unsigned threads) {
  const auto& vk = simd::vector_kernels(level);
  if (m == 0 || n == 0) return;
  if (threads == 0) threads = auto_threads(2.0 * m * n * dim);
  std::vector<RowNorm> qnorm(m), knorm(n);
  for (std::size_t i = 0; i < m; ++i) qnorm[i] = row_norm(vk, q + i * dim, dim);
  // Rows too small or too large for float dot products are used rescaled by a
  // power of two (cosine is scale-invariant); ordinary inputs are not copied.
  std::vector<float> q_rescaled;
  if (any_rescaled(qnorm.data(), m)) {
    q_rescaled.resize(m * dim);
    rescale_rows(q, m, dim, qnorm.data(), q_rescaled.data());
    q = q_rescaled.data();
  }
  // Keys in blocks of kKeyBlock that stay in L2 while every query passes over
  // them. With several queries, each block is packed once (dim x block) so
  // that the micro-kernel vectorises over keys; one query uses row dot products.
  const bool packed = m >= kMinQueriesForPacking;
  const std::size_t blocks = (n + kKeyBlock - 1) / kKeyBlock;
  struct Scratch {
    std::vector<float> kt, k_rescaled;
  };
  std::vector<Scratch> scratch(std::min<std::size_t>(blocks, si::resolve_threads(static_cast<int>(threads))));
  si::parallel_for(blocks, static_cast<int>(threads), [&](std::size_t blk, std::size_t worker) {
    Scratch& s = scratch[worker];
    const std::size_t j0 = blk * kKeyBlock, j1 = std::min(n, j0 + kKeyBlock), w = j1 - j0;
    for (std::size_t j = j0; j < j1; ++j) knorm[j] = row_norm(vk, k + j * dim, dim);
    const float* base = k + j0 * dim;
    if (any_rescaled(knorm.data() + j0, w)) {
      s.k_rescaled.resize(w * dim);
      rescale_rows(base, w, dim, knorm.data() + j0, s.k_rescaled.data());
      base = s.k_rescaled.data();
    }
    if (packed) {
      s.kt.resize(dim * kKeyBlock);
      simd::pack_columns(base, w, dim, kKeyBlock, s.kt.data());
      vk.qk_block(q, m, dim, s.kt.data(), w, out + j0, n);
    } else {
      for (std::size_t i = 0; i < m; ++i) vk.dot_rows(q + i * dim, base, w, dim, dim, out + i * n + j0);
    }
    for (std::size_t i = 0; i < m; ++i) {
      float* o = out + i * n + j0;
      const float qi = qnorm[i].inv;
      // (o * qi) * kinv: o * qi <= |k| <= 2^50, so no intermediate overflows.
      for (std::size_t j = 0; j < w; ++j) o[j] = std::clamp(o[j] * qi * knorm[j0 + j].inv, -1.0f, 1.0f);
    }
  });
}

}  // namespace si::gpu
