// superinstance.vector_navigator core: a vector index with exact (flat) or
// approximate (HNSW) search, payload-aware scoring inside the search loop
// (VAD sentiment, time decay, label / id filters) and atomic persistence.
//
// Scores are "higher is better": cosine and ip give the (normalised) dot
// product, l2 gives the negative squared Euclidean distance, a custom metric
// gives whatever the user's function returns (a similarity).
//
// Thread safety: every public method may be called from several threads;
// searches share a reader lock, add/remove/save/close take it exclusively.
// After close() (which frees the vectors, graph and map) every method that
// reads or changes the data throws si::Closed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "vector_navigator/filter.hpp"
#include "vector_navigator/huge_pages.hpp"
#include "vector_navigator/vn_kernels.hpp"

namespace si::io {
class MappedFile;
}

namespace si::vn {

enum class Metric : std::uint32_t { cosine = 0, ip = 1, l2 = 2, custom = 3 };
enum class Kind : std::uint32_t { flat = 0, hnsw = 1 };
// Storage of the vectors that flat scans and HNSW walks read: float32, IEEE
// half, or int8 with one float scale per vector (symmetric, scale = max|x| / 127).
enum class DType : std::uint32_t { f32 = 0, f16 = 1, i8 = 2 };

// A user similarity (higher = more similar), called without the GIL.
using CustomFn = float (*)(const float*, const float*, std::size_t);

inline constexpr std::uint64_t kNoId = ~std::uint64_t{0};
// Version 2 added the attachment (an opaque byte string, the Navigator's
// basins); version-1 files still load, with an empty attachment.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr const char* kFileKind = "vecnav-index";

// Largest ef (search or construction) accepted: the candidate lists never
// grow beyond the index, so this only refuses nonsense.
inline constexpr std::size_t kMaxEf = std::size_t{1} << 31;

struct HnswParams {
  std::size_t M = 16;
  std::size_t ef_construction = 200;
  std::size_t ef_search = 64;
  std::uint64_t seed = 0x5eed;
};

// Optional per-vector payload for add(); each pointer may be null.
struct Payload {
  const float* vad = nullptr;         // n x 3: valence [-1,1], arousal [0,1], dominance [0,1]
  const double* timestamps = nullptr; // n, seconds (e.g. Unix time)
  const std::int64_t* labels = nullptr;  // n, integer labels (filters, basins)
};

struct SearchOptions {
  std::size_t k = 10;
  int threads = 1;
  bool use_sentiment = false;
  float sentiment[3] = {0, 0, 0};
  float sentiment_weight = 0;
  bool use_decay = false;
  double decay_rate = 0;  // per hour
  double now = 0;         // seconds, same clock as the timestamps
  // Filters: rows whose label is one of `labels` and/or whose id is one of
  // `ids`; with both, a row must pass both (ids not held are skipped).
  bool filter_labels = false;
  std::vector<std::int64_t> labels;
  bool filter_ids = false;
  std::vector<std::uint64_t> ids;
  // Rows whose timestamp t satisfies time_lo <= t <= time_hi (rows without a
  // timestamp never pass; either end may be infinite). All filters given must hold.
  bool filter_time = false;
  double time_lo = 0, time_hi = 0;
  std::size_t ef = 0;    // HNSW: 0 = the index's ef_search
  bool exact = false;    // HNSW index: force the exact scan
};

// sentiment_similarity = 1 - sqrt(((dv/2)^2 + da^2 + dd^2) / 3), in [0, 1].
float sentiment_similarity(const float* a, const float* b);

class Hnsw;

class Index {
 public:
  // Per-slot flags (index.cpp and index_io.cpp read them; saved in the file as they are).
  static constexpr std::uint8_t kHasVad = 1, kHasTs = 2, kDeleted = 4;

  // dtype f16 / i8: built-in metrics only; flat scans and HNSW walks read the
  // codes. keep_f32 also keeps the float32 vectors, used to re-rank the
  // quantized candidates exactly.
  // keep_f32 with dtype f32 is refused ("rerank applies to dtype 'f16' or 'i8'").
  Index(std::size_t dim, Metric metric, Kind kind, HnswParams hp = {}, CustomFn fn = nullptr,
        DType dtype = DType::f32, bool keep_f32 = false, std::size_t rerank = 4);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Adds n vectors. ids == nullptr assigns ids (returned through assigned).
  // Validates everything first: on error nothing is stored.
  void add(const float* vectors, std::size_t n, const std::uint64_t* ids, const Payload& payload,
           int threads, std::vector<std::uint64_t>* assigned);
  // The checks of add() without storing anything (the facade's chunked add
  // checks the whole batch before its first chunk).
  void check_add(const float* vectors, std::size_t n, const std::uint64_t* ids, const Payload& payload,
                 int threads) const;
  // Removes ids; UnknownId (nothing removed) if any is not held or repeats.
  void remove(const std::uint64_t* ids, std::size_t n);
  // Sets labels of existing ids (basins); UnknownId if any is not held.
  void set_labels(const std::uint64_t* ids, const std::int64_t* labels, std::size_t n);

  // out_ids / out_scores: nq x k, best first; padded with kNoId / -inf when
  // fewer than k vectors pass the filter.
  void search(const float* queries, std::size_t nq, const SearchOptions& opt, std::uint64_t* out_ids,
              float* out_scores) const;

  // The plan search() would choose for this filter: "none" (nothing passes),
  // "scan" (exact scan of the passing rows) or "walk" (filter-aware graph
  // walk); `passing` gets the number of live rows that pass.
  std::string filter_plan(const SearchOptions& opt, std::size_t& passing) const;

  // Throws invalid_argument unless 1 <= k <= size() (so that the caller can
  // size nq x k outputs); search() checks again under its lock.
  void check_k(std::size_t k) const;

  // Frees the vectors, graph, id map and any file mapping; idempotent.
  void close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  std::size_t size() const;
  std::size_t dim() const { return dim_; }
  Metric metric() const { return metric_; }
  Kind kind() const { return kind_; }
  const HnswParams& hnsw_params() const { return hp_; }
  DType dtype() const { return dtype_; }
  bool keeps_f32() const { return has_f32_; }
  std::size_t rerank_factor() const { return rerank_; }
  std::size_t vector_bytes() const;  // bytes of stored vector data (codes, scales, f32)
  void set_ef_search(std::size_t ef);
  bool read_only() const { return mapped_ != nullptr; }
  bool contains(std::uint64_t id) const;
  // Original vectors (cosine: stored unit vector times the original norm).
  void get(const std::uint64_t* ids, std::size_t n, float* out) const;
  void get_payload(const std::uint64_t* ids, std::size_t n, float* vad, std::uint8_t* has_vad,
                   double* ts, std::int64_t* labels) const;
  std::vector<std::uint64_t> ids() const;
  std::size_t deleted_count() const;
  std::size_t memory_bytes() const;
  // HNSW graph statistics (for tests): max level, number of level-0 links.
  std::vector<std::size_t> graph_stats() const;

  // Writes the index and `attachment` (nullptr: the attachment it was loaded with).
  void save(const std::string& path, const std::string* attachment = nullptr) const;
  const std::string& attachment() const { return attachment_; }
  static std::unique_ptr<Index> load(const std::string& path, bool mmap, CustomFn fn);

 private:
  // Slots of ids, all looked up before any is used; UnknownId names the first missing one.
  // Callers hold mu_.
  std::vector<std::uint32_t> slots_of(const std::uint64_t* ids, std::size_t n, const char* what) const;
  friend class Hnsw;
  // load()'s parser of a verified payload [p, end); `mapped` is the mapping when opened with mmap.
  static std::unique_ptr<Index> parse(const unsigned char* p, const unsigned char* end, std::uint32_t version,
                                      std::unique_ptr<io::MappedFile> mapped, CustomFn fn, const std::string& path);
  Index(std::size_t dim, Metric metric, Kind kind, HnswParams hp, CustomFn fn, DType dtype, bool keep_f32,
        std::size_t rerank, bool);

  const float* row(std::size_t slot) const { return vdata_ + slot * dim_; }
  float pair_sim(const float* q, std::size_t slot) const;  // raw similarity (no payload), f32 rows
  float quant_sim(const float* q, float qsq, std::size_t slot) const;  // from the quantized row
  float best_sim(const float* q, float qsq, std::size_t slot) const {
    return has_f32_ ? pair_sim(q, slot) : quant_sim(q, qsq, slot);
  }
  // What the HNSW graph is built and walked on: the codes when the index is
  // quantized (f32 rows, if kept, only re-rank the walk's candidates).
  bool walks_codes() const { return dtype_ != DType::f32; }
  float walk_sim(const float* q, float qsq, std::size_t slot) const {
    return walks_codes() ? quant_sim(q, qsq, slot) : pair_sim(q, slot);
  }
  const void* walk_row(std::size_t slot) const;  // address of the row walk_sim reads (prefetch)
  // The row walk_sim reads, as floats (f32: the row itself, else decoded into
  // buf), and its squared norm.
  const float* walk_vector(std::size_t slot, std::vector<float>& buf, float& sq) const;
  void move_slot(std::size_t from, std::size_t to);  // copies every per-slot array
  // Resizes every per-slot array to n slots (new ones: no payload, label -1)
  // and refreshes the row pointers; nslots_ is the caller's.
  void resize_slots_locked(std::size_t n);
  void require_writable(const char* op) const;
  void require_open(const char* op) const;
  void check_k_locked(std::size_t k) const;
  // add()'s validation: the cosine norms (double) and the ids to store.
  struct AddPlan {
    std::vector<double> norms;
    std::vector<std::uint64_t> ids;
  };
  AddPlan plan_add_locked(const float* vectors, std::size_t n, const std::uint64_t* ids, const Payload& payload,
                          int threads) const;
  void check_vectors_locked(const float* vectors, std::size_t n, std::vector<double>& norms) const;
  std::vector<std::uint64_t> check_ids_locked(const std::uint64_t* ids, std::size_t n) const;
  void store_row_locked(std::size_t slot, const float* v, double norm, std::vector<float>& tmp);
  void compact_locked(int threads);
  void rebuild_graph_locked(std::size_t from, int threads);
  void scan_locked(const float* q, std::size_t nq, const SearchOptions& opt,
                   const std::vector<std::uint8_t>* allowed, std::uint64_t* out_ids, float* out_scores) const;
  // filtered_search.cpp: calls emit(slot) for each passing row (live, no
  // repeats), read from the posting lists, the id map or the time index,
  // whichever names fewest rows; returns how many were emitted.
  template <class Emit>
  std::size_t for_each_passing_locked(const SearchOptions& opt, Emit&& emit) const;
  // At least the number of passing rows, from the sizes of the sources (no pass over rows).
  std::size_t passing_bound_locked(const SearchOptions& opt) const;
  void build_passing_locked(const SearchOptions& opt, PassingSet& pass) const;
  std::size_t time_range_count(double lo, double hi) const;
  void refresh_time_index_locked() const;  // by_time_ after the last change; caller holds time_mu_
  // Exact scan of only the listed rows, each query on its own (parallel over queries).
  void gathered_scan_locked(const float* q, std::size_t nq, const SearchOptions& opt,
                            const std::vector<std::uint32_t>& slots, std::uint64_t* out_ids, float* out_scores) const;
  // The plan: gathered scan when FilterPlanModel says so, else the filter-aware walk.
  void filtered_search_locked(const float* q, std::size_t nq, const SearchOptions& opt, std::uint64_t* out_ids,
                              float* out_scores) const;
  // Whether the plan walks the graph for `passing` rows under these options.
  bool plan_walks_locked(const SearchOptions& opt, std::size_t passing) const;
  void check_filter_values(const SearchOptions& opt) const;
  // Slots with a timestamp in [lo, hi] (the sorted time index, rebuilt after a change).
  void time_range_slots(double lo, double hi, std::vector<std::uint32_t>& out) const;
  void rebuild_postings_locked();

  std::size_t dim_;
  Metric metric_;
  Kind kind_;
  HnswParams hp_;
  CustomFn fn_;
  float (*dot_)(const float*, const float*, std::size_t) = nullptr;   // active SIMD level,
  float (*l2sq_)(const float*, const float*, std::size_t) = nullptr;  // looked up once
  decltype(VnKernels::dot_f16_rows) dot_f16_ = nullptr;
  decltype(VnKernels::dot_i8_rows) dot_i8_ = nullptr;

  DType dtype_ = DType::f32;
  bool has_f32_ = true;
  std::size_t rerank_ = 4;
  std::vector<float> vec_;      // owned rows (unless mapped)
  const float* vdata_ = nullptr;
  std::vector<std::uint16_t> h16_;  // f16 codes
  std::vector<std::int8_t> q8_;     // i8 codes
  GrowingAdvice vec_advice_, h16_advice_, q8_advice_;  // huge pages for the three
  std::vector<float> qscale_;       // i8 scale per row
  std::vector<float> qsq_;          // squared norm of the dequantized row (l2)
  const std::uint16_t* hdata_ = nullptr;
  const std::int8_t* cdata_ = nullptr;
  std::vector<float> norm_;     // original L2 norm per slot
  std::vector<std::uint64_t> ids_;
  std::vector<float> vad_;      // 3 per slot
  std::vector<double> ts_;
  std::vector<std::int64_t> label_;
  std::vector<std::uint8_t> flags_;  // kHasVad | kHasTs | kDeleted per slot
  std::unordered_map<std::uint64_t, std::uint32_t> slot_of_;
  LabelPostings postings_;  // label -> live slots (filter.hpp)
  mutable FilterBitsCache filter_bits_;  // passing-row bitmaps of label filters used again
  // (timestamp, slot) of live rows with a timestamp, sorted; rebuilt lazily
  // by the first time-filtered search after a change (time_dirty_, set by
  // writers under the exclusive lock, read and cleared under time_mu_).
  mutable std::mutex time_mu_;
  mutable bool time_dirty_ = true;
  mutable std::vector<std::pair<double, std::uint32_t>> by_time_;
  std::size_t nslots_ = 0;
  std::size_t deleted_ = 0;
  std::uint64_t next_id_ = 0;
  std::unique_ptr<Hnsw> hnsw_;
  std::unique_ptr<io::MappedFile> mapped_;
  std::string attachment_;  // saved with the index, opaque here (the Navigator's basins)
  std::atomic<bool> closed_{false};
  mutable std::shared_mutex mu_;
};

const char* metric_name(Metric m);
const char* kind_name(Kind k);

}  // namespace si::vn
