#include "vector_navigator/filter.hpp"

#include <cmath>

namespace si::vn {

void LabelPostings::add(std::uint32_t slot, std::int64_t label) {
  if (slot >= pos_.size()) pos_.resize(static_cast<std::size_t>(slot) + 1, 0);
  auto& list = lists_[label];
  pos_[slot] = static_cast<std::uint32_t>(list.size());
  list.push_back(slot);
}

void LabelPostings::erase(std::uint32_t slot, std::int64_t label) {
  auto it = lists_.find(label);
  if (it == lists_.end()) return;
  auto& list = it->second;
  const std::uint32_t p = pos_[slot];
  if (p >= list.size() || list[p] != slot) return;  // not listed (a deleted row)
  const std::uint32_t last = list.back();
  list[p] = last;
  pos_[last] = p;
  list.pop_back();
  if (list.empty()) lists_.erase(it);
}

void LabelPostings::move(std::uint32_t from, std::uint32_t to, std::int64_t label) {
  auto it = lists_.find(label);
  if (it == lists_.end()) return;
  const std::uint32_t p = pos_[from];
  if (p >= it->second.size() || it->second[p] != from) return;
  if (to >= pos_.size()) pos_.resize(static_cast<std::size_t>(to) + 1, 0);
  it->second[p] = to;
  pos_[to] = p;
}

std::size_t LabelPostings::memory_bytes() const {
  std::size_t b = pos_.capacity() * sizeof(std::uint32_t) + lists_.bucket_count() * sizeof(void*);
  for (const auto& kv : lists_) b += 48 + kv.second.capacity() * sizeof(std::uint32_t);
  return b;
}

double FilterPlanModel::walk_cost(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0) {
  if (passing == 0 || live == 0) return 0;
  const double p = static_cast<double>(passing) / static_cast<double>(live);
  return static_cast<double>(ef) * static_cast<double>(m0) / kWalkVisitDivisor / std::sqrt(p);
}

bool FilterPlanModel::scan_is_cheaper(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0) {
  return static_cast<double>(passing) * kGatherCost <= walk_cost(passing, live, ef, m0);
}

}  // namespace si::vn
