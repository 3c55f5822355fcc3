#include "vector_navigator/filter.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace si::vn {

void LabelPostings::add(std::uint32_t slot, std::int64_t label) {
  ++generation_;
  if (slot >= pos_.size()) pos_.resize(static_cast<std::size_t>(slot) + 1, 0);
  auto& list = lists_[label];
  pos_[slot] = static_cast<std::uint32_t>(list.size());
  list.push_back(slot);
}

void LabelPostings::erase(std::uint32_t slot, std::int64_t label) {
  ++generation_;
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
  ++generation_;
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

namespace {
std::uint64_t labels_key(const std::vector<std::int64_t>& labels) {
  std::uint64_t h = labels.size();
  for (std::int64_t l : labels) h = (h ^ static_cast<std::uint64_t>(l)) * 0x9e3779b97f4a7c15ull;
  return h;
}
}  // namespace

FilterBitsCache::Entry* FilterBitsCache::find(const std::vector<std::int64_t>& labels, std::uint64_t generation) {
  const std::uint64_t key = labels_key(labels);
  for (Entry& e : entries_)
    if (e.key == key && e.generation == generation && e.labels == labels) {
      e.last_use = ++clock_;
      return &e;
    }
  return nullptr;
}

void FilterBitsCache::remember(const std::vector<std::int64_t>& labels, std::uint64_t generation,
                               std::shared_ptr<const SlotBits> bits) {
  Entry* slot = find(labels, generation);
  if (slot) {
    if (bits) slot->bits = std::move(bits);
    return;
  }
  if (entries_.size() < kEntries) {
    slot = &entries_.emplace_back();
  } else {  // replace a stale entry, else the least recently used
    slot = &*std::min_element(entries_.begin(), entries_.end(), [&](const Entry& a, const Entry& b) {
      return std::make_pair(a.generation == generation, a.last_use) < std::make_pair(b.generation == generation, b.last_use);
    });
  }
  slot->key = labels_key(labels);
  slot->labels = labels;
  slot->generation = generation;
  slot->last_use = ++clock_;
  slot->bits = std::move(bits);
}

std::size_t FilterBitsCache::memory_bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  std::size_t b = 0;
  for (const Entry& e : entries_)
    b += e.labels.capacity() * sizeof(std::int64_t) + (e.bits ? e.bits->words.capacity() * sizeof(std::uint64_t) : 0);
  return b;
}

double FilterPlanModel::walk_cost(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0) {
  if (passing == 0 || live == 0 || m0 == 0) return 0;
  const double p = static_cast<double>(passing) / static_cast<double>(live);
  const double p_min = std::min(1.0, kMinPassingLinks / static_cast<double>(m0));
  const double sparse = p >= p_min ? 1.0 : (p_min / p) * (p_min / p);
  return kWalkCost * static_cast<double>(ef) * static_cast<double>(m0) * sparse;
}

bool FilterPlanModel::scan_is_cheaper(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0) {
  return static_cast<double>(passing) * kGatherCost <= walk_cost(passing, live, ef, m0);
}

}  // namespace si::vn
