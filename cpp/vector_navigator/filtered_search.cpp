// Filtered search: the passing set of a filter (posting lists, id map, time
// index), the plan between an exact scan of only the passing rows and the
// filter-aware HNSW walk, and the gathered scan. See docs/vector_navigator.md
// ("Filtered search") for the cost model and why the walk is built this way.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "vector_navigator/filter.hpp"
#include "vector_navigator/hnsw.hpp"
#include "vector_navigator/index.hpp"
#include "vector_navigator/parallel.hpp"
#include "vector_navigator/search_parts.hpp"
#include "vector_navigator/topk.hpp"

namespace si::vn {
namespace {

using TimeEntry = std::pair<double, std::uint32_t>;

std::vector<std::int64_t> sorted_unique(std::vector<std::int64_t> v) {
  if (!std::is_sorted(v.begin(), v.end())) std::sort(v.begin(), v.end());  // a filter's labels usually come sorted
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// Every nq x k result slot set to "nothing passed".
void write_empty(std::size_t nq, std::size_t k, std::uint64_t* out_ids, float* out_scores) {
  std::fill(out_ids, out_ids + nq * k, kNoId);
  std::fill(out_scores, out_scores + nq * k, -std::numeric_limits<float>::infinity());
}

// The filter's labels sorted and unique, and a membership test.
struct LabelSet {
  std::vector<std::int64_t> labs;
  bool any = false;
  explicit LabelSet(const SearchOptions& opt) : any(opt.filter_labels) {
    if (any) labs = sorted_unique(opt.labels);
  }
  bool ok(std::int64_t label) const { return !any || std::binary_search(labs.begin(), labs.end(), label); }
};

}  // namespace

void Index::check_filter_values(const SearchOptions& opt) const {
  if (!opt.filter_time) return;
  if (std::isnan(opt.time_lo) || std::isnan(opt.time_hi))
    throw std::invalid_argument("search: the time filter's range has a NaN end");
  if (opt.time_lo > opt.time_hi)
    throw std::invalid_argument("search: the time filter's range is reversed (t0 = " + std::to_string(opt.time_lo) +
                                " > t1 = " + std::to_string(opt.time_hi) + ")");
}

bool Index::plan_walks_locked(const SearchOptions& opt, std::size_t passing) const {
  if (!hnsw_ || opt.exact) return false;
  const bool rerank = walks_codes() && has_f32_;
  const std::size_t ef = std::max({opt.ef ? opt.ef : hp_.ef_search, opt.k, rerank ? rerank_ * opt.k : 0});
  return !FilterPlanModel::scan_is_cheaper(passing, nslots_ - deleted_, ef, 2 * hp_.M);
}

std::string Index::filter_plan(const SearchOptions& opt, std::size_t& passing) const {
  require_open("filter_plan");
  check_filter_values(opt);
  std::shared_lock<std::shared_mutex> lock(mu_);
  require_open("filter_plan");
  if (!opt.filter_labels && !opt.filter_ids && !opt.filter_time) {  // no filter: every live row
    passing = nslots_ - deleted_;
    return passing == 0 ? "none" : (hnsw_ && !opt.exact) ? "walk" : "scan";
  }
  passing = for_each_passing_locked(opt, [](std::uint32_t) {});
  if (passing == 0) return "none";
  // search() decides on the bound (sizes of the sources), not the count
  return plan_walks_locked(opt, passing_bound_locked(opt)) ? "walk" : "scan";
}

void Index::refresh_time_index_locked() const {
  if (!time_dirty_) return;
  by_time_.clear();
  for (std::size_t s = 0; s < nslots_; ++s)
    if ((flags_[s] & kHasTs) && !(flags_[s] & kDeleted)) by_time_.emplace_back(ts_[s], static_cast<std::uint32_t>(s));
  std::sort(by_time_.begin(), by_time_.end());
  time_dirty_ = false;
}

void Index::time_range_slots(double lo, double hi, std::vector<std::uint32_t>& out) const {
  std::lock_guard<std::mutex> g(time_mu_);
  refresh_time_index_locked();
  const auto a = std::lower_bound(by_time_.begin(), by_time_.end(), TimeEntry{lo, 0});
  const auto b = std::upper_bound(a, by_time_.end(), TimeEntry{hi, ~std::uint32_t{0}});
  out.reserve(out.size() + static_cast<std::size_t>(b - a));
  for (auto it = a; it != b; ++it) out.push_back(it->second);
}

std::size_t Index::time_range_count(double lo, double hi) const {
  std::lock_guard<std::mutex> g(time_mu_);
  refresh_time_index_locked();
  const auto a = std::lower_bound(by_time_.begin(), by_time_.end(), TimeEntry{lo, 0});
  const auto b = std::upper_bound(a, by_time_.end(), TimeEntry{hi, ~std::uint32_t{0}});
  return static_cast<std::size_t>(b - a);
}

std::size_t Index::passing_bound_locked(const SearchOptions& opt) const {
  std::size_t bound = nslots_ - deleted_;
  if (opt.filter_ids) bound = std::min(bound, opt.ids.size());
  if (opt.filter_labels) {
    const LabelSet ls(opt);
    std::size_t rows = 0;
    for (std::int64_t lab : ls.labs)
      if (const auto* list = postings_.find(lab)) rows += list->size();
    bound = std::min(bound, rows);
  }
  if (opt.filter_time) bound = std::min(bound, time_range_count(opt.time_lo, opt.time_hi));
  return bound;
}

template <class Emit>
std::size_t Index::for_each_passing_locked(const SearchOptions& opt, Emit&& emit) const {
  const LabelSet ls(opt);
  const auto time_ok = [&](std::uint32_t s) {
    return !opt.filter_time || ((flags_[s] & kHasTs) && ts_[s] >= opt.time_lo && ts_[s] <= opt.time_hi);
  };
  std::size_t count = 0;
  if (opt.filter_ids) {  // the ids named: the smallest source a filter can have
    std::vector<std::uint32_t> found;
    found.reserve(opt.ids.size());
    for (std::uint64_t id : opt.ids) {
      auto it = slot_of_.find(id);
      if (it != slot_of_.end() && ls.ok(label_[it->second]) && time_ok(it->second)) found.push_back(it->second);
    }
    std::sort(found.begin(), found.end());  // an id named twice counts once
    found.erase(std::unique(found.begin(), found.end()), found.end());
    for (std::uint32_t s : found) emit(s);
    return found.size();
  }
  if (opt.filter_labels) {
    std::size_t label_rows = 0;
    for (std::int64_t lab : ls.labs)
      if (const auto* list = postings_.find(lab)) label_rows += list->size();
    // Labels and a time range: start from the time range when it names fewer rows.
    if (!opt.filter_time || label_rows <= time_range_count(opt.time_lo, opt.time_hi)) {
      for (std::int64_t lab : ls.labs)
        if (const auto* list = postings_.find(lab))
          for (std::uint32_t s : *list)
            if (time_ok(s)) {
              emit(s);
              ++count;
            }
      return count;
    }
  }
  std::vector<std::uint32_t> in_range;
  time_range_slots(opt.time_lo, opt.time_hi, in_range);
  for (std::uint32_t s : in_range)
    if (ls.ok(label_[s])) {
      emit(s);
      ++count;
    }
  return count;
}

void Index::build_passing_locked(const SearchOptions& opt, PassingSet& pass) const {
  pass.slots.clear();
  pass.slots.reserve(passing_bound_locked(opt));
  for_each_passing_locked(opt, [&](std::uint32_t s) { pass.slots.push_back(s); });
}

void Index::gathered_scan_locked(const float* q, std::size_t nq, const SearchOptions& opt,
                                 const std::vector<std::uint32_t>& slots, std::uint64_t* out_ids,
                                 float* out_scores) const {
  const std::size_t k = opt.k;
  const Scorer sc{opt, vad_.data(), ts_.data(), flags_.data(), 1.0f - opt.sentiment_weight, opt.sentiment_weight};
  const bool plain = !opt.use_sentiment && !opt.use_decay;
  // f32 rows under cosine / ip: the SIMD dot kernel directly (no dispatch per row).
  const bool f32dot = has_f32_ && (metric_ == Metric::cosine || metric_ == Metric::ip);
  const std::size_t row_bytes = has_f32_ ? dim_ * 4 : dtype_ == DType::f16 ? dim_ * 2 : dim_;
  const std::uint32_t* sl = slots.data();
  const std::size_t n = slots.size();
  parallel_for(nq, opt.threads, [&](std::size_t qi, std::size_t) {
    TopK t;
    t.reset(k);
    const float* qq = q + qi * dim_;
    float qsq = 0;  // quantized l2 needs |q|^2
    if (!has_f32_ && metric_ == Metric::l2)
      for (std::size_t j = 0; j < dim_; ++j) qsq += qq[j] * qq[j];
    // Rows are gathered in list order; fetch a few rows ahead so that the
    // SIMD distance never waits on memory (rows are ~1.5 KiB at 384-d f32).
    constexpr std::size_t kAhead = 4;
    const auto fetch = [&](std::uint32_t s) {
      const char* r = has_f32_ ? reinterpret_cast<const char*>(row(s)) : static_cast<const char*>(walk_row(s));
      for (std::size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(r + b);
    };
    for (std::size_t i = 0; i < std::min(kAhead, n); ++i) fetch(sl[i]);
    float thr = t.threshold();
    for (std::size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) fetch(sl[i + kAhead]);
      const std::uint32_t s = sl[i];
      float v = f32dot ? dot_(qq, row(s), dim_) : best_sim(qq, qsq, s);
      if (!plain) v = sc.finish(v, s);
      if (v < thr) continue;
      t.push(v, s);
      thr = t.threshold();
    }
    write_out(t, k, ids_, out_ids + qi * k, out_scores + qi * k);
  });
}

void Index::filtered_search_locked(const float* q, std::size_t nq, const SearchOptions& opt, std::uint64_t* out_ids,
                                   float* out_scores) const {
  const std::size_t live = nslots_ - deleted_, k = opt.k;
  // The plan from the sizes of the sources (a bound on the passing rows, exact
  // for a single kind of predicate), before touching any row; everything below
  // is built once for the whole batch. A label filter whose bitmap was built
  // (it came before) has its count there: no lookup per label.
  const bool labels_only = opt.filter_labels && !opt.filter_ids && !opt.filter_time;
  const std::vector<std::int64_t> labels = opt.filter_labels ? sorted_unique(opt.labels) : std::vector<std::int64_t>{};
  std::shared_ptr<const SlotBits> label_bits =  // held while the walks read it
      labels_only ? filter_bits_.built(labels, postings_.generation()) : nullptr;
  const std::size_t bound = label_bits ? label_bits->count : passing_bound_locked(opt);
  PassingSet pass;
  if (bound == 0) {
    write_empty(nq, k, out_ids, out_scores);
    return;
  }
  if (!plan_walks_locked(opt, bound)) {
    build_passing_locked(opt, pass);
    if (pass.slots.empty()) {
      write_empty(nq, k, out_ids, out_scores);
      return;
    }
    // A batch over a large share of the rows: the sequential (panel) scan with a
    // bitmap reads rows in order and reuses each for many queries.
    if (nq >= 8 && pass.slots.size() * 4 > live) {
      pass.bitmap.assign(nslots_, 0);
      for (std::uint32_t s : pass.slots) pass.bitmap[s] = 1;
      scan_locked(q, nq, opt, &pass.bitmap, out_ids, out_scores);
      return;
    }
    gathered_scan_locked(q, nq, opt, pass.slots, out_ids, out_scores);
    return;
  }
  // The walk asks each node it meets (WalkFilter): an id filter through a
  // bitmap set from the ids named; labels and time from the row itself, so
  // that a broad filter costs the walk no pass over its passing rows.
  WalkFilter wf;
  const WalkFilter* filter = nullptr;
  std::size_t passing = bound;  // exact for a label or a time filter alone; else an upper bound
  if (opt.filter_ids) {
    pass.bitmap.assign(nslots_, 0);
    std::uint8_t* bm = pass.bitmap.data();
    passing = for_each_passing_locked(opt, [bm](std::uint32_t s) { bm[s] = 1; });
    wf.bitmap = bm;
    filter = &wf;
  } else if (bound < live || opt.filter_time) {
    if (opt.filter_labels) {
      if (labels_only && !label_bits)  // from a bitmap when the filter comes again, or for a batch
        label_bits = filter_bits_.get(labels, postings_.generation(), nq > 1, [&] {
          SlotBits bits;
          bits.words.assign((nslots_ + 63) / 64, 0);
          for (std::int64_t lab : labels)
            if (const auto* list = postings_.find(lab)) {
              for (std::uint32_t s : *list) bits.words[s >> 6] |= std::uint64_t{1} << (s & 63);
              bits.count += list->size();
            }
          return bits;
        });
      if (label_bits) {  // (labels only: the bitmap answers alone)
        wf.bits = label_bits->words.data();
      } else {  // each row's label, looked up in a table or the sorted list
        wf.row_labels = label_.data();
        wf.label_list = labels;
        const auto& ll = wf.label_list;
        const std::uint64_t span = static_cast<std::uint64_t>(ll.back()) - static_cast<std::uint64_t>(ll.front()) + 1;
        if (span <= (std::uint64_t{1} << 20) && span <= 64 * ll.size() + 4096) {  // a table costs O(span)
          wf.label_min = ll.front();
          wf.label_table.assign(static_cast<std::size_t>(span), 0);
          for (std::int64_t l : ll)
            wf.label_table[static_cast<std::size_t>(static_cast<std::uint64_t>(l) - static_cast<std::uint64_t>(ll.front()))] = 1;
        }
      }
    }
    if (opt.filter_time) {
      wf.ts = ts_.data();
      wf.flags = flags_.data();
      wf.lo = opt.time_lo;
      wf.hi = opt.time_hi;
    }
    filter = &wf;
  }
  if (passing == 0) {
    write_empty(nq, k, out_ids, out_scores);
    return;
  }
  wf.pass_fraction = static_cast<double>(passing) / static_cast<double>(live);
  const bool rerank = walks_codes() && has_f32_;
  const std::size_t ef = std::max({opt.ef ? opt.ef : hp_.ef_search, k, rerank ? rerank_ * k : 0});
  const Scorer sc{opt, vad_.data(), ts_.data(), flags_.data(), 1.0f - opt.sentiment_weight, opt.sentiment_weight};
  const std::size_t want = std::min(k, passing);
  // ef counts passing rows on the walk. (Scaling it down by sqrt(p) saved
  // 20-30% at p = 1/2 but cost recall on anti-correlated labels: 0.90-0.92 at
  // 100k, below the 0.95 goal; measured 2026-12-02.)
  const std::size_t ef_walk = ef;
  std::once_flag listed;  // the passing rows as a list, only if a walk falls short
  parallel_for(nq, opt.threads, [&](std::size_t qi, std::size_t) {
    std::vector<std::pair<float, std::uint32_t>> cands;
    const float* qq = q + qi * dim_;
    hnsw_->search_filtered(qq, ef_walk, filter, cands);
    if (cands.size() < want) {  // the walk did not reach k passing rows: scan them exactly
      std::call_once(listed, [&] { build_passing_locked(opt, pass); });
      SearchOptions one = opt;
      one.threads = 1;
      gathered_scan_locked(qq, 1, one, pass.slots, out_ids + qi * k, out_scores + qi * k);
      return;
    }
    TopK t;
    t.reset(k);
    for (const auto& c : cands) t.push(sc.finish(rerank ? pair_sim(qq, c.second) : -c.first, c.second), c.second);
    write_out(t, k, ids_, out_ids + qi * k, out_scores + qi * k);
  });
}

}  // namespace si::vn
