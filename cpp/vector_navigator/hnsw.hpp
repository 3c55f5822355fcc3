// Our HNSW graph (Malkov & Yashunin 2018) over an Index's rows: level-0 links
// in one flat array (2*M per node), upper levels per node; concurrent
// insertion with striped per-node locks; neighbour selection by the paper's
// heuristic. Deleted rows stay as routing nodes and are skipped in results;
// the Index compacts (rebuilds) when they outnumber the live rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "vector_navigator/huge_pages.hpp"

namespace si {
class ByteWriter;
}  // namespace si

namespace si::vn {

class Index;
struct WalkFilter;

class Hnsw {
 public:
  Hnsw(const Index& index, std::size_t M, std::uint64_t seed);

  // Grows the structures to n nodes (no concurrent inserts may run).
  void resize(std::size_t n);
  // Inserts nodes [from, to) on `threads` workers.
  void insert_range(std::size_t from, std::size_t to, std::size_t ef_construction, int threads);
  // Up to ef (distance, node) pairs nearest to q, best first, keeping only
  // nodes that are live and (when allowed != nullptr) allowed[node] != 0.
  void search(const float* q, std::size_t ef, const std::uint8_t* allowed,
              std::vector<std::pair<float, std::uint32_t>>& out) const;

  // The filtered walk (allowed != nullptr): descends the upper levels as
  // search() does, then walks level 0 on the subgraph of allowed nodes, in the
  // manner of ACORN-1 (Patel et al., SIGMOD 2024): distances are computed
  // for allowed nodes only; a failing neighbour is not scored but its own
  // neighbours may be (two-hop expansion), so the allowed subgraph stays
  // connected. Two regimes, chosen per query from its first expansions:
  //  - dense (the query's region passes about as often as the rows overall:
  //    labels independent of or correlated with it): two hops only from a
  //    node with fewer than M0/4 passing neighbours, through at most
  //    kDenseHopsPerNode of its failing ones;
  //  - sparse (the region passes less than 1/kSparseFactor as often:
  //    anti-correlated labels, where the nearest passing rows lie across
  //    failing ones): ACORN-1's full two-hop expansion, and the first
  //    kSparseRouteShare * M0 failing neighbours are scored and queued
  //    (routed: never returned), so that the walk leaves the query's failing
  //    region towards every passing region beside it, not one or two.
  // A walk that runs out of candidates before it holds ef allowed nodes (its
  // entry lies in a failing region more than two hops across) is stranded:
  // from then on it also scores the failing neighbours of the nodes it
  // expands and queues them nearest first, never returning them, and
  // chooses its regime again where it lands; it stops routing after as many
  // routed nodes as a quarter of the passing rows (the caller scans those
  // rows if the walk still holds fewer than k).
  // Returns up to ef allowed live nodes, best first.
  // `filter` == nullptr: the plain search.
  void search_filtered(const float* q, std::size_t ef, const WalkFilter* filter,
                       std::vector<std::pair<float, std::uint32_t>>& out) const;

  // The filtered walk's regime choice, dense-regime budget and sparse routing (measured at
  // 100k x 384, docs/vector_navigator.md "Filtered search").
  static constexpr std::size_t kRegimeExpansions = 4;
  static constexpr double kSparseFactor = 2.0;
  static constexpr std::size_t kDenseHopsPerNode = 4;
  static constexpr double kSparseRouteShare = 0.5;

  std::size_t size() const { return levels_.size(); }
  int max_level() const { return max_level_; }
  std::size_t link_count0() const;
  std::size_t memory_bytes() const;  // levels, links and locks, as allocated

  // Serialisation (see Index::save): flat arrays.
  void serialize(ByteWriter& out) const;
  // Parses from [p, end); returns bytes read; throws CorruptFile.
  std::size_t deserialize(const unsigned char* p, const unsigned char* end, std::size_t nodes);

 private:
  using Cand = std::pair<float, std::uint32_t>;
  // Per-worker state, reused across searches so that a search allocates
  // nothing: visited marks (16-bit epochs, as hnswlib: half the cache
  // footprint of 32-bit ones; cleared every 65535 searches), the two heaps,
  // the copied link list, and buffers for rows decoded from f16 / i8 codes
  // when a stored row plays the query (insertion).
  struct Visited {
    std::vector<std::uint16_t> tag;
    std::uint16_t epoch = 0;
    std::vector<Cand> top, cand, chosen, res, nbc;
    std::vector<std::uint32_t> links;
    std::vector<std::uint32_t> nbc_ids;  // the filtered walk's failing neighbours
    std::vector<std::uint8_t> passes;     // and the filter's outcome for one link list
    std::vector<std::uint16_t> routed;    // failing nodes the filtered walk routed through (== epoch)
    std::vector<std::uint32_t> expanded;  // nodes the filtered walk expanded before it was stranded
    std::vector<float> node_vec, nb_vec, cand_vec;
    void prepare(std::size_t n);
  };

  // -similarity of q to the node's walked row (qsq = |q|^2, used by quantized l2).
  float dist(const float* q, float qsq, std::uint32_t node) const;
  // f32 rows with a built-in metric: dist = sign * kernel(q, row), the SIMD
  // kernel fetched once (a 384-d dot is ~30 ns, so the per-call dtype and
  // metric dispatch of Index::walk_sim was a visible share); else nullptr.
  float (*f32_kernel_)(const float*, const float*, std::size_t) = nullptr;
  float f32_sign_ = -1.0f;
  const std::uint32_t* links(std::uint32_t node, int level) const;
  std::uint32_t* links(std::uint32_t node, int level);
  std::size_t cap(int level) const { return level == 0 ? M0_ : M_; }
  int random_level(std::uint32_t node) const;
  void advise_level0();  // huge pages for the level-0 link lists
  void insert(std::uint32_t node, std::size_t efc, Visited& vis);
  // Greedy walk through levels from_level .. above_level + 1 towards q; returns the closest
  // node found (its distance in curd). `locking`: take each node's lock (during inserts).
  std::uint32_t greedy_descend(const float* q, float qsq, std::uint32_t cur, float& curd, int from_level,
                               int above_level, bool locking) const;
  // ef nearest at one level from the entry points, best first (locks when `locking`).
  void search_layer(const float* q, float qsq, std::uint32_t ep, std::size_t ef, int level, Visited& vis,
                    std::vector<Cand>& result, bool locking, const std::uint8_t* allowed,
                    bool filter_results) const;
  // Level 0 of search_filtered.
  void search_layer_filtered(const float* q, float qsq, std::uint32_t ep, std::size_t ef, Visited& vis,
                             std::vector<Cand>& result, const WalkFilter& filter) const;
  void select_neighbors(std::vector<Cand>& cands, std::size_t m, Visited& vis, std::vector<float>& buf) const;
  std::mutex& lock_of(std::uint32_t node) const { return stripes_[node & (kStripes - 1)]; }

  static constexpr std::size_t kStripes = 4096;
  const Index& index_;
  std::size_t M_, M0_;
  double level_mult_;
  std::uint64_t seed_;
  std::vector<std::uint8_t> levels_;
  std::vector<std::uint32_t> l0_;                    // (M0 + 1) per node, [0] = count
  GrowingAdvice l0_advice_;                          // huge pages for l0_
  std::vector<std::vector<std::uint32_t>> upper_;   // level * (M + 1) per node
  std::uint32_t entry_ = 0;
  int max_level_ = -1;
  mutable std::unique_ptr<std::mutex[]> stripes_;
  mutable std::mutex entry_mu_;
};

}  // namespace si::vn
