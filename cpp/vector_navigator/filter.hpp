// Filtered search support: per-label posting lists, the passing set of a
// filter, and the plan (gathered exact scan vs filter-aware graph walk).
//
// The posting lists map each label to the live slots that carry it, in no
// particular order; a per-slot position makes add, erase and slot moves O(1).
// Deleted (tombstoned) rows are not in any list, so the sum of the lists named
// by a filter is exactly the number of live rows that pass its label part.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
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
    ++generation_;
    for (std::size_t s = 0; s < n; ++s)
      if (live(s)) add(static_cast<std::uint32_t>(s), labels[s]);
  }
  void clear() {
    lists_.clear();
    pos_.clear();
    ++generation_;
  }
  // Changes with every add, erase, move, rebuild and clear: a bitmap built
  // from the lists is current while the generation it was built at is.
  std::uint64_t generation() const { return generation_; }
  // The live slots labelled `label` (nullptr when none).
  const std::vector<std::uint32_t>* find(std::int64_t label) const {
    auto it = lists_.find(label);
    return it == lists_.end() ? nullptr : &it->second;
  }
  std::size_t memory_bytes() const;

 private:
  std::unordered_map<std::int64_t, std::vector<std::uint32_t>> lists_;
  std::vector<std::uint32_t> pos_;  // slot -> its position in its label's list
  std::uint64_t generation_ = 0;
};

// One bit per slot: the rows a label filter passes, and how many they are.
struct SlotBits {
  std::vector<std::uint64_t> words;
  std::size_t count = 0;
};

// The passing-row bitmaps of recently used label filters. The walk asks a
// node's filter outcome for every neighbour it meets; from a row's label that
// is a cache miss per node (the labels of 100k rows do not stay cached beside
// the vectors), from a bitmap (n/8 bytes) it is not. A bitmap costs a pass
// over the passing rows, so it is built when a filter comes again (a basin,
// a tenant, a scope) or for a batch, and kept while the labels are unchanged.
class FilterBitsCache {
 public:
  // The bitmap of `labels` (sorted, unique) at `generation`, built by
  // `build()` when this filter was asked for before or `now`; else nullptr
  // (and the filter is remembered).
  template <class Build>
  std::shared_ptr<const SlotBits> get(const std::vector<std::int64_t>& labels, std::uint64_t generation, bool now,
                                      Build&& build) {
    {
      std::lock_guard<std::mutex> g(mu_);
      Entry* e = find(labels, generation);
      if (e && e->bits) return e->bits;
      if (!e && !now) {
        remember(labels, generation, nullptr);
        return nullptr;
      }
    }
    auto bits = std::make_shared<const SlotBits>(build());
    std::lock_guard<std::mutex> g(mu_);
    remember(labels, generation, bits);
    return bits;
  }
  // The bitmap of `labels` at `generation` if one was built, else nullptr.
  std::shared_ptr<const SlotBits> built(const std::vector<std::int64_t>& labels, std::uint64_t generation) {
    std::lock_guard<std::mutex> g(mu_);
    Entry* e = find(labels, generation);
    return e ? e->bits : nullptr;
  }
  std::size_t memory_bytes() const;
  // Enough for the basins of a navigator or a service's tenants; n/8 bytes each
  // (4 MB for 32 filters over 1M rows).
  static constexpr std::size_t kEntries = 32;

 private:
  struct Entry {
    std::uint64_t key = 0;  // a hash of the labels: most entries are told apart without reading them
    std::vector<std::int64_t> labels;
    std::uint64_t generation = 0;
    std::shared_ptr<const SlotBits> bits;  // nullptr: asked for once, not built
    std::uint64_t last_use = 0;
  };
  Entry* find(const std::vector<std::int64_t>& labels, std::uint64_t generation);
  void remember(const std::vector<std::int64_t>& labels, std::uint64_t generation,
                std::shared_ptr<const SlotBits> bits);
  mutable std::mutex mu_;
  std::vector<Entry> entries_;  // at most kEntries, least recently used replaced
  std::uint64_t clock_ = 0;
};

// The rows a filter lets through, built once per search call (all queries of
// a batch share it): `slots` lists them (live rows only, no repeats);
// `bitmap` (slot -> 0/1) is filled only when the plan walks the graph.
struct PassingSet {
  std::vector<std::uint32_t> slots;
  std::vector<std::uint8_t> bitmap;
};

// What the filter-aware walk asks of each node it meets: answered from a
// bitmap when one was built (an id filter: proportional to the ids named),
// else from the row's label and timestamp, so that a walk over a broad filter
// needs no pass over the passing rows. Labels are looked up in a table over
// [label_min, label_min + span) when the named labels are that close
// together (basins, tenants), else by binary search.
struct WalkFilter {
  const std::uint8_t* bitmap = nullptr;
  const std::uint64_t* bits = nullptr;  // a label filter's SlotBits, when cached
  const std::int64_t* row_labels = nullptr;  // nullptr: no label condition
  std::vector<std::uint8_t> label_table;
  std::int64_t label_min = 0;
  std::vector<std::int64_t> label_list;  // sorted, when there is no table
  const double* ts = nullptr;            // nullptr: no time condition
  const std::uint8_t* flags = nullptr;
  double lo = 0, hi = 0;
  double pass_fraction = 1.0;  // of the live rows (an upper bound when not exact)
  bool pass(std::uint32_t n) const {
    if (bitmap) return bitmap[n] != 0;
    if (bits) return (bits[n >> 6] >> (n & 63)) & 1u;
    if (row_labels) {
      const std::int64_t l = row_labels[n];
      if (!label_table.empty()) {
        const std::uint64_t off = static_cast<std::uint64_t>(l) - static_cast<std::uint64_t>(label_min);
        if (off >= label_table.size() || !label_table[off]) return false;
      } else if (!std::binary_search(label_list.begin(), label_list.end(), l)) {
        return false;
      }
    }
    if (ts) return (flags[n] & 2u) && ts[n] >= lo && ts[n] <= hi;  // 2 = Index::kHasTs
    return true;
  }
  // pass() of n nodes into out[0, n). For a label table (the common case)
  // no branch depends on a row's outcome, so the rows' label loads overlap
  // instead of waiting one after another behind mispredicted branches (about
  // half of them at 50% pass); this was the filtered walk's largest cost.
  void pass_many(const std::uint32_t* nodes, std::size_t n, std::uint8_t* out) const {
    if (bits) {
      for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<std::uint8_t>((bits[nodes[j] >> 6] >> (nodes[j] & 63)) & 1u);
      return;
    }
    if (!bitmap && row_labels && !label_table.empty() && !ts) {
      const std::uint64_t span = label_table.size();
      const std::uint8_t* table = label_table.data();
      for (std::size_t j = 0; j < n; ++j) {
        const std::uint64_t off = static_cast<std::uint64_t>(row_labels[nodes[j]]) - static_cast<std::uint64_t>(label_min);
        const bool in = off < span;
        out[j] = static_cast<std::uint8_t>(table[in ? off : 0] & static_cast<std::uint8_t>(in));
      }
      return;
    }
    for (std::size_t j = 0; j < n; ++j) out[j] = pass(nodes[j]);
  }
};

// The plan's cost model, in units of one passing row scanned.
//   scan: every passing row once, streamed with prefetch (gathered rows cost
//         about a sequential row's distance: `kGatherCost`).
//   walk: about kWalkCost * ef * M0 rows' worth, whatever share p of the rows
//         passes, down to p_min = kMinPassingLinks / M0 (about one passing
//         neighbour per node); below it the two-hop walk's recall falls (random
//         labels at 100k x 384, M0 = 32: 0.953 at 4% pass, 0.940 at 3%, 0.921
//         at 2%), so its cost is scaled by (p_min / p)^2 and the exact scan
//         takes over. Measured by forcing each plan on 100k x 384 (see
//         docs/vector_navigator.md "Filtered search").
struct FilterPlanModel {
  static constexpr double kGatherCost = 1.0;
  static constexpr double kWalkCost = 1.25;
  static constexpr double kMinPassingLinks = 1.25;
  // True when an exact scan of `passing` rows is cheaper than a walk with
  // this ef over an index of `live` rows with M0 level-0 links.
  static bool scan_is_cheaper(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0);
  static double walk_cost(std::size_t passing, std::size_t live, std::size_t ef, std::size_t m0);
};

}  // namespace si::vn
