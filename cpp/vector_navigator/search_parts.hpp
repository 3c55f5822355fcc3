// Pieces every search path shares (index.cpp, filtered_search.cpp): the
// payload-aware score and writing a top-k out, best first.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "vector_navigator/index.hpp"
#include "vector_navigator/topk.hpp"

namespace si::vn {

struct Scorer {
  const SearchOptions& opt;
  const float* vad;
  const double* ts;
  const std::uint8_t* flags;
  float w1, w;
  float finish(float sim, std::size_t s) const {
    if (opt.use_sentiment) {
      const float ss = (flags[s] & Index::kHasVad) ? sentiment_similarity(opt.sentiment, vad + 3 * s) : 0.0f;
      sim = w1 * sim + w * ss;
    }
    if (opt.use_decay && (flags[s] & Index::kHasTs)) {
      double h = (opt.now - ts[s]) / 3600.0;
      if (h < 0) h = 0;
      sim = static_cast<float>(sim * std::exp(-opt.decay_rate * h));
    }
    return sim;
  }
};

inline void write_out(TopK& t, std::size_t k, const std::vector<std::uint64_t>& ids, std::uint64_t* out_ids,
                      float* out_scores) {
  std::sort(t.h.begin(), t.h.end(), TopK::cmp);
  for (std::size_t j = 0; j < k; ++j) {
    if (j < t.h.size()) {
      out_ids[j] = ids[t.h[j].second];
      out_scores[j] = t.h[j].first;
    } else {
      out_ids[j] = kNoId;
      out_scores[j] = -std::numeric_limits<float>::infinity();
    }
  }
}

}  // namespace si::vn
