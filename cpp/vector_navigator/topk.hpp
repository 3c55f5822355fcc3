// Bounded selection of the k best (highest score) rows of a scan.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace si::vn {

// A min-heap of (score, slot): the worst kept entry at the front. Ties keep the
// lower slot, so results do not depend on the order rows are visited in.
struct TopK {
  std::size_t k = 0;
  std::vector<std::pair<float, std::uint32_t>> h;
  static bool cmp(const std::pair<float, std::uint32_t>& a, const std::pair<float, std::uint32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }
  void reset(std::size_t kk) {
    k = kk;
    h.clear();
    h.reserve(kk);
  }
  // Scores below this cannot enter (-inf until k entries are held).
  float threshold() const { return h.size() < k ? -std::numeric_limits<float>::infinity() : h.front().first; }
  void push(float s, std::uint32_t slot) {
    if (std::isnan(s)) return;
    if (h.size() < k) {
      h.emplace_back(s, slot);
      std::push_heap(h.begin(), h.end(), cmp);
    } else if (cmp({s, slot}, h.front())) {
      std::pop_heap(h.begin(), h.end(), cmp);
      h.back() = {s, slot};
      std::push_heap(h.begin(), h.end(), cmp);
    }
  }
};

}  // namespace si::vn
