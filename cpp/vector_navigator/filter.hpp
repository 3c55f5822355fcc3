// Filtered search support: per-label posting lists, the passing set of a
// filter, and the plan (gathered exact scan vs filter-aware graph walk).
//
// The posting lists map each label to the live slots that carry it, in no
// particular order; a per-slot position makes add, erase and slot moves O(1).
// Deleted (tombstoned) rows are not in any list, so the sum of the lists named
// by a filter is exactly the number of live rows that pass its label part.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace si::vn {

class LabelPostings {
 public:
  // Adds a live slot under its label; `slot` may be beyond the current size.
  void add(std::uint32_t slot, std::int64_t label);
  // Takes a slot out of its label's list (the caller passes the slot's label).
  void erase(std::uint32_t slot, std::int64_t label);
  // The row in slot `from` now lives in slot `to` (same label); `to` is not listed.
  void move(std::uint32_t from, std::uint32_t to, std::int64_t label);
  // Empties every list and lists `n` slots whose `live(s)` holds under labels[s].
  template <class Live>
  void rebuild(const std::int64_t* labels, std::size_t n, Live live) {
    lists_.clear();
    pos_.assign(n, 0);
    for (std::size_t s = 0; s < n; ++s)
      if (live(s)) add(static_cast<std::uint32_t>(s), labels[s]);
  }
  void clear() {
    lists_.clear();
    pos_.clear();
  }
  // The live slots labelled `label` (nullptr when none).
  const std::vector<std::uint32_t>* find(std::int64_t label) const {
    auto it = lists_.find(label);
    return it == lists_.end() ? nullptr : &it->second;
  }
  std::size_t memory_bytes() const;

 private:
  std::unordered_map<std::int64_t, std::vector<std::uint32_t>> lists_;
  std::vector<std::uint32_t> pos_;  // slot -> its position in its label's list
};

// The rows a filter lets through, built once per search call (all queries of
// a batch share it): `slots` lists them (live rows only, no repeats);
// `bitmap` (slot -> 0/1) is filled only when the plan walks the graph.
struct PassingSet {
  std::vector<std::uint32_t> slots;
  std::vector<std::uint8_t> bitmap;
};

// The plan's cost model, in units of one distance computation.
//   scan: every passing row once, streamed with prefetch (gathered rows cost
//         about a sequential row's distance: `kGatherCost`).
//   walk: the unfiltered walk visits about ef * M0 / kWalkVisitDivisor nodes;
//         a filter passing a fraction p of the rows makes the walk go on until
//         ef passing rows are found, which grows the visits by ~1 / sqrt(p)
//         (measured on clustered 384-d data, see docs/vector_navigator.md).
struct FilterPlanModel {
  static constexpr double kGatherCost = 1.0;
  static constexpr double kWalkVisitDivisor = 1.0;
  // True when an exact scan of `passing` rows is cheaper than a walk with
  // this ef over an index of `live` rows with M0 level-0 links.
  static bool scan_is_cheaper(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0);
  static double walk_cost(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0);
};

}  // namespace si::vn
