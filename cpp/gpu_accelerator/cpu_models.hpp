// CPU twins of the loop's small GPU models (float32): the sentiment head and
// batched cosine similarity. Pure C++; SIMD through common/vector_kernels.hpp
// (qk_block on packed key blocks), split over threads (si::parallel_for) when
// a call is large enough to pay for them.
// The CUDA versions (models.cu) compute the same functions.
#pragma once

#include <cstddef>
#include <vector>

#include "common/cpu_features.hpp"
#include "common/vector_kernels.hpp"

namespace si::gpu {

using simd::kKeyBlock;  // columns of a packed key block (qk_block)

// A two-layer perceptron: features (in) -> hidden (ReLU) -> 3 outputs, then
// valence = tanh(z0) in [-1, 1], arousal = sigmoid(z1), dominance = sigmoid(z2)
// in [0, 1]. Weights are row-major, PyTorch Linear layout: w1 is (hidden, in),
// w2 is (3, hidden).
struct SentimentWeights {
  std::size_t in = 0;
  std::size_t hidden = 0;
  std::vector<float> w1, b1, w2, b2;

  // Throws std::invalid_argument naming the first problem (sizes, NaN/inf).
  void validate() const;
};

class SentimentHeadCpu {
 public:
  explicit SentimentHeadCpu(SentimentWeights w);
  std::size_t in_features() const { return w_.in; }
  std::size_t hidden() const { return w_.hidden; }
  const SentimentWeights& weights() const { return w_; }
  // After close() the bindings refuse every call (ClosedError). The weights are
  // freed with the object, so that a forward() running without the GIL on
  // another thread never reads freed memory.
  void close() { closed_ = true; }
  bool closed() const { return closed_; }
  // x: (batch, in) row-major; out: (batch, 3). threads = 0 picks automatically.
  void forward(const float* x, std::size_t batch, float* out, simd::Level level,
               unsigned threads = 0) const;

 private:
  // One row in double (used when a float partial sum overflowed).
  void forward_row_f64(const float* x, float* out) const;

  SentimentWeights w_;
  std::vector<float> w1t_;  // w1 packed for qk_block, (in x kKeyBlock), when hidden <= kKeyBlock
  bool closed_ = false;
};

// out (m, n) = cosine(q_i, k_j); a zero-norm row gives 0. q: (m, dim), k: (n, dim).
void cosine_matrix(const float* q, std::size_t m, const float* k, std::size_t n, std::size_t dim,
                   float* out, simd::Level level, unsigned threads = 0);

unsigned auto_threads(double work_flops);

// Index of the first NaN or infinity in p[0, n), or n when all are finite.
std::size_t first_non_finite(const float* p, std::size_t n);

}  // namespace si::gpu
