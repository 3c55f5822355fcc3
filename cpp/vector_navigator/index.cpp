#include "vector_navigator/index.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <unordered_set>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"
#include "common/vector_kernels.hpp"
#include "vector_navigator/hnsw.hpp"
#include "vector_navigator/huge_pages.hpp"
#include "vector_navigator/flat_scan.hpp"
#include "vector_navigator/parallel.hpp"
#include "vector_navigator/search_parts.hpp"
#include "vector_navigator/topk.hpp"
#include "vector_navigator/vn_kernels.hpp"

namespace si::vn {
namespace {

std::string idstr(std::uint64_t id) { return std::to_string(id); }

}  // namespace

float sentiment_similarity(const float* a, const float* b) {
  const float dv = (a[0] - b[0]) * 0.5f, da = a[1] - b[1], dd = a[2] - b[2];
  return 1.0f - std::sqrt((dv * dv + da * da + dd * dd) * (1.0f / 3.0f));
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::cosine: return "cosine";
    case Metric::ip: return "ip";
    case Metric::l2: return "l2";
    case Metric::custom: return "custom";
  }
  return "?";
}
const char* kind_name(Kind k) { return k == Kind::flat ? "flat" : "hnsw"; }

Index::Index(std::size_t dim, Metric metric, Kind kind, HnswParams hp, CustomFn fn, DType dtype, bool keep_f32,
             std::size_t rerank)
    : Index(dim, metric, kind, hp, fn, dtype, keep_f32, rerank, true) {
  // (Only here: a loaded f32 index carries keep_f32 = true in its header.)
  if (dtype == DType::f32 && keep_f32) throw std::invalid_argument("rerank applies to dtype 'f16' or 'i8'");
}

Index::Index(std::size_t dim, Metric metric, Kind kind, HnswParams hp, CustomFn fn, DType dtype, bool keep_f32,
             std::size_t rerank, bool)
    : dim_(dim), metric_(metric), kind_(kind), hp_(hp), fn_(fn), dtype_(dtype),
      has_f32_(dtype == DType::f32 || keep_f32), rerank_(rerank) {
  dot_ = simd::vector_kernels().dot;
  l2sq_ = simd::vector_kernels().l2sq;
  dot_f16_ = vn_kernels().dot_f16_rows;
  dot_i8_ = vn_kernels().dot_i8_rows;
  if (dtype != DType::f32) {
    if (metric == Metric::custom) throw std::invalid_argument("dtype f16 / i8 needs a built-in metric");
    if (rerank < 1 || rerank > 1000) throw std::invalid_argument("rerank factor must be in [1, 1000]");
  }
  if (dim == 0 || dim > 65536) throw std::invalid_argument("dim must be in [1, 65536], got " + std::to_string(dim));
  if (metric == Metric::custom && fn == nullptr)
    throw std::invalid_argument("metric 'custom' needs a function pointer");
  if (metric != Metric::custom && fn != nullptr)
    throw std::invalid_argument("a custom function needs metric 'custom'");
  if (hp_.ef_construction < 1 || hp_.ef_construction > kMaxEf || hp_.ef_search < 1 || hp_.ef_search > kMaxEf)
    throw std::invalid_argument("ef_construction and ef_search must be in [1, " + std::to_string(kMaxEf) + "], got " +
                                std::to_string(hp_.ef_construction) + " and " + std::to_string(hp_.ef_search));
  if (hp_.M < 2 || hp_.M > 512) throw std::invalid_argument("M must be in [2, 512], got " + std::to_string(hp_.M));
  if (kind == Kind::hnsw) hnsw_ = std::make_unique<Hnsw>(*this, hp_.M, hp_.seed);
}

Index::~Index() = default;

void Index::require_open(const char* op) const {
  if (closed()) throw Closed(std::string(op) + ": Index is closed");
}

void Index::close() {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (closed()) return;
  closed_.store(true, std::memory_order_release);
  hnsw_.reset();
  // swap with empties: clear() would keep the capacity
  std::vector<float>().swap(vec_);
  std::vector<std::uint16_t>().swap(h16_);
  std::vector<std::int8_t>().swap(q8_);
  std::vector<float>().swap(qscale_);
  std::vector<float>().swap(qsq_);
  std::vector<float>().swap(norm_);
  std::vector<std::uint64_t>().swap(ids_);
  std::vector<float>().swap(vad_);
  std::vector<double>().swap(ts_);
  std::vector<std::int64_t>().swap(label_);
  std::vector<std::uint8_t>().swap(flags_);
  std::unordered_map<std::uint64_t, std::uint32_t>().swap(slot_of_);
  postings_.clear();
  {
    std::lock_guard<std::mutex> g(time_mu_);
    std::vector<std::pair<double, std::uint32_t>>().swap(by_time_);
    time_dirty_ = true;
  }
  std::string().swap(attachment_);
  vdata_ = nullptr;
  hdata_ = nullptr;
  cdata_ = nullptr;
  nslots_ = deleted_ = 0;
  mapped_.reset();  // unmaps the file
}

void Index::require_writable(const char* op) const {
  if (mapped_) throw std::invalid_argument(std::string(op) + ": this index was loaded with mmap=True and is read-only");
}

float Index::quant_sim(const float* q, float qsq, std::size_t slot) const {
  float d = 0;
  if (dtype_ == DType::f16) {
    dot_f16_(q, hdata_ + slot * dim_, 1, dim_, &d);
  } else if (dtype_ == DType::i8) {
    dot_i8_(q, cdata_ + slot * dim_, qscale_.data() + slot, 1, dim_, &d);
  } else {
    return pair_sim(q, slot);
  }
  return metric_ == Metric::l2 ? -std::max(0.0f, qsq + qsq_[slot] - 2 * d) : d;
}

const void* Index::walk_row(std::size_t slot) const {
  if (dtype_ == DType::f16) return hdata_ + slot * dim_;
  if (dtype_ == DType::i8) return cdata_ + slot * dim_;
  return row(slot);
}

const float* Index::walk_vector(std::size_t slot, std::vector<float>& buf, float& sq) const {
  if (!walks_codes()) {
    sq = 0;  // pair_sim does not use it
    return row(slot);
  }
  buf.resize(dim_);
  if (dtype_ == DType::f16) {
    // A table of all 65536 halves: HNSW insertion decodes a row per candidate,
    // and the bit-by-bit f16_to_f32 made f16 builds twice as slow as f32 ones.
    static const std::vector<float> table = [] {
      std::vector<float> t(65536);
      for (std::uint32_t h = 0; h < 65536; ++h) t[h] = f16_to_f32(static_cast<std::uint16_t>(h));
      return t;
    }();
    const std::uint16_t* h = hdata_ + slot * dim_;
    for (std::size_t j = 0; j < dim_; ++j) buf[j] = table[h[j]];
  } else {
    const std::int8_t* c = cdata_ + slot * dim_;
    const float scale = qscale_[slot];
    for (std::size_t j = 0; j < dim_; ++j) buf[j] = static_cast<float>(c[j]) * scale;
  }
  sq = qsq_[slot];
  return buf.data();
}

void Index::move_slot(std::size_t from, std::size_t to) {
  if (has_f32_) std::memmove(vec_.data() + to * dim_, vec_.data() + from * dim_, dim_ * sizeof(float));
  if (dtype_ == DType::f16) std::memmove(&h16_[to * dim_], &h16_[from * dim_], dim_ * 2);
  if (dtype_ == DType::i8) {
    std::memmove(&q8_[to * dim_], &q8_[from * dim_], dim_);
    qscale_[to] = qscale_[from];
  }
  if (dtype_ != DType::f32) qsq_[to] = qsq_[from];
  norm_[to] = norm_[from];
  ids_[to] = ids_[from];
  std::memcpy(&vad_[to * 3], &vad_[from * 3], 3 * sizeof(float));
  ts_[to] = ts_[from];
  label_[to] = label_[from];
  flags_[to] = flags_[from];
  slot_of_[ids_[to]] = static_cast<std::uint32_t>(to);
  postings_.move(static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to), label_[to]);
}

std::size_t Index::vector_bytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::size_t b = has_f32_ ? nslots_ * dim_ * 4 : 0;
  if (dtype_ == DType::f16) b += nslots_ * dim_ * 2;
  if (dtype_ == DType::i8) b += nslots_ * (dim_ + 4);
  return b;
}

float Index::pair_sim(const float* q, std::size_t slot) const {
  const float* r = row(slot);
  switch (metric_) {
    case Metric::cosine:
    case Metric::ip: return dot_(q, r, dim_);
    case Metric::l2: return -l2sq_(q, r, dim_);
    case Metric::custom: return fn_(q, r, dim_);
  }
  return 0;
}

std::size_t Index::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return nslots_ - deleted_;
}

std::size_t Index::deleted_count() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return deleted_;
}

bool Index::contains(std::uint64_t id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return slot_of_.count(id) != 0;
}

std::vector<std::uint64_t> Index::ids() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<std::uint64_t> out;
  out.reserve(nslots_ - deleted_);
  for (std::size_t s = 0; s < nslots_; ++s)
    if (!(flags_[s] & kDeleted)) out.push_back(ids_[s]);
  return out;
}

void Index::set_ef_search(std::size_t ef) {
  if (ef < 1 || ef > kMaxEf) throw std::invalid_argument("ef_search must be in [1, " + std::to_string(kMaxEf) + "], got " + std::to_string(ef));
  std::unique_lock<std::shared_mutex> lock(mu_);
  require_open("ef_search");
  hp_.ef_search = ef;
}

namespace {
template <class T>
std::size_t held(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}
}  // namespace

std::size_t Index::memory_bytes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  // Vectors by count (a mapped index holds them in its file's pages), the
  // rest by what the containers hold, the id map by its buckets and nodes.
  std::size_t b = (has_f32_ ? nslots_ * dim_ * 4 : 0) + (dtype_ == DType::f16 ? nslots_ * dim_ * 2 : 0) +
                  (dtype_ == DType::i8 ? nslots_ * dim_ : 0);
  b += held(qscale_) + held(qsq_) + held(norm_) + held(ids_) + held(vad_) + held(ts_) + held(label_) + held(flags_);
  b += slot_of_.bucket_count() * sizeof(void*) + slot_of_.size() * 32;
  b += postings_.memory_bytes() + filter_bits_.memory_bytes() + by_time_.capacity() * sizeof(by_time_[0]);
  if (hnsw_) b += hnsw_->memory_bytes();
  return b;
}

std::vector<std::size_t> Index::graph_stats() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  if (!hnsw_) return {};
  return {static_cast<std::size_t>(hnsw_->max_level() + 1), hnsw_->link_count0()};
}

std::vector<std::uint32_t> Index::slots_of(const std::uint64_t* ids, std::size_t n, const char* what) const {
  std::vector<std::uint32_t> slots(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = slot_of_.find(ids[i]);
    if (it == slot_of_.end())
      throw UnknownId(std::string(what) + "unknown id " + idstr(ids[i]) + " (nothing was changed)");
    slots[i] = it->second;
  }
  return slots;
}

void Index::get(const std::uint64_t* ids, std::size_t n, float* out) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  const std::vector<std::uint32_t> slots = slots_of(ids, n, "");
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t s = slots[i];
    const float scale = metric_ == Metric::cosine ? norm_[s] : 1.0f;
    float* o = out + i * dim_;
    if (has_f32_) {
      const float* r = row(s);
      for (std::size_t j = 0; j < dim_; ++j) o[j] = r[j] * scale;
    } else if (dtype_ == DType::f16) {
      for (std::size_t j = 0; j < dim_; ++j) o[j] = f16_to_f32(hdata_[s * dim_ + j]) * scale;
    } else {
      const float qs = qscale_[s] * scale;
      for (std::size_t j = 0; j < dim_; ++j) o[j] = static_cast<float>(cdata_[s * dim_ + j]) * qs;
    }
  }
}

void Index::get_payload(const std::uint64_t* ids, std::size_t n, float* vad, std::uint8_t* has_vad,
                        double* ts, std::int64_t* labels) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  const std::vector<std::uint32_t> slots = slots_of(ids, n, "");
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t s = slots[i];
    for (int j = 0; j < 3; ++j) vad[i * 3 + j] = vad_[s * 3 + j];
    has_vad[i] = flags_[s] & kHasVad ? 1 : 0;
    ts[i] = flags_[s] & kHasTs ? ts_[s] : std::numeric_limits<double>::quiet_NaN();
    labels[i] = label_[s];
  }
}

// ---------------------------------------------------------------- add / remove
void Index::check_vectors_locked(const float* vectors, std::size_t n, std::vector<double>& norms) const {
  const double float_max = std::numeric_limits<float>::max();
  norms.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const float* v = vectors + i * dim_;
    // The norm by scaling with the largest |x| (double): exact enough for any
    // finite float row, from denormals (1e-39) to 3e38, without under/overflow.
    double mx = 0;
    for (std::size_t j = 0; j < dim_; ++j) {
      if (!std::isfinite(v[j]))
        throw std::invalid_argument("add: vector " + std::to_string(i) + " has a NaN or infinite value at position " +
                                    std::to_string(j));
      // f16 codes hold |x| <= 65504 (cosine rows are unit length, always in range)
      if (dtype_ == DType::f16 && metric_ != Metric::cosine && std::fabs(v[j]) > 65504.0f)
        throw std::invalid_argument("add: vector " + std::to_string(i) + " has a value beyond the f16 range (|x| > 65504) at position " +
                                    std::to_string(j));
      mx = std::max(mx, std::fabs(static_cast<double>(v[j])));
    }
    double s = 0;
    if (mx > 0)
      for (std::size_t j = 0; j < dim_; ++j) {
        const double x = v[j] / mx;
        s += x * x;
      }
    norms[i] = mx * std::sqrt(s);
    if (metric_ == Metric::cosine && !(norms[i] > 0))
      throw std::invalid_argument("add: vector " + std::to_string(i) + " is all zeros (no direction under cosine)");
    // get() gives a cosine row back as unit row * norm, kept as float32.
    if (metric_ == Metric::cosine && norms[i] > float_max)
      throw std::invalid_argument("add: vector " + std::to_string(i) + " has norm " + std::to_string(norms[i]) +
                                  ", beyond float32 range (a cosine index keeps each vector's norm as float32)");
  }
}

std::vector<std::uint64_t> Index::check_ids_locked(const std::uint64_t* ids, std::size_t n) const {
  std::vector<std::uint64_t> new_ids(n);
  if (ids) {
    std::unordered_set<std::uint64_t> seen;
    seen.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
      if (ids[i] == kNoId) throw std::invalid_argument("add: id 2**64-1 is reserved (it marks missing results)");
      if (!seen.insert(ids[i]).second) throw std::invalid_argument("add: duplicate id " + idstr(ids[i]) + " in this batch");
      if (slot_of_.count(ids[i])) throw std::invalid_argument("add: id " + idstr(ids[i]) + " is already in the index");
      new_ids[i] = ids[i];
    }
    return new_ids;
  }
  // Automatic ids count up from one past the largest id ever added; NO_ID
  // (2**64-1) is never handed out and the counter never wraps.
  std::uint64_t next = next_id_;
  for (std::size_t i = 0; i < n; ++i) {
    while (next != kNoId && slot_of_.count(next)) ++next;
    if (next == kNoId)
      throw std::invalid_argument("add: the automatic ids are exhausted (ids up to 2**64-2 are taken or were "
                                  "passed before); pass ids= explicitly (nothing was added)");
    new_ids[i] = next++;
  }
  return new_ids;
}

Index::AddPlan Index::plan_add_locked(const float* vectors, std::size_t n, const std::uint64_t* ids,
                                      const Payload& payload, int threads) const {
  require_open("add");
  require_writable("add");
  check_thread_count(threads);
  if (n > 0xfffffff0ull || nslots_ + n > 0xfffffff0ull)
    throw std::invalid_argument("add: index would exceed 2**32 - 16 vectors");
  AddPlan plan;
  check_vectors_locked(vectors, n, plan.norms);
  plan.ids = check_ids_locked(ids, n);
  if (payload.vad) {
    for (std::size_t i = 0; i < n; ++i) {
      const float* t = payload.vad + 3 * i;
      const bool all_nan = std::isnan(t[0]) && std::isnan(t[1]) && std::isnan(t[2]);
      if (all_nan) continue;
      if (!(t[0] >= -1 && t[0] <= 1) || !(t[1] >= 0 && t[1] <= 1) || !(t[2] >= 0 && t[2] <= 1))
        throw std::invalid_argument("add: sentiment of vector " + std::to_string(i) +
                                    " out of range (valence in [-1,1], arousal and dominance in [0,1]; all NaN = none)");
    }
  }
  if (payload.timestamps)
    for (std::size_t i = 0; i < n; ++i)
      if (std::isinf(payload.timestamps[i]))
        throw std::invalid_argument("add: timestamp of vector " + std::to_string(i) + " is infinite (NaN = none)");
  return plan;
}

void Index::check_add(const float* vectors, std::size_t n, const std::uint64_t* ids, const Payload& payload,
                      int threads) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  plan_add_locked(vectors, n, ids, payload, threads);
}

void Index::store_row_locked(std::size_t s, const float* v, double norm, std::vector<float>& tmp) {
  float* dst = has_f32_ ? vec_.data() + s * dim_ : tmp.data();
  if (metric_ == Metric::cosine) {
    // Divide in double: 1 / norm overflows float for norms below ~3e-39.
    for (std::size_t j = 0; j < dim_; ++j) dst[j] = static_cast<float>(v[j] / norm);
  } else {
    std::memcpy(dst, v, dim_ * sizeof(float));
  }
  if (dtype_ == DType::f16) {
    double sq = 0;
    for (std::size_t j = 0; j < dim_; ++j) {
      const std::uint16_t h = f32_to_f16(dst[j]);
      h16_[s * dim_ + j] = h;
      const double d = f16_to_f32(h);
      sq += d * d;
    }
    qsq_[s] = static_cast<float>(sq);
  } else if (dtype_ == DType::i8) {
    float mx = 0;
    for (std::size_t j = 0; j < dim_; ++j) mx = std::max(mx, std::fabs(dst[j]));
    const float fscale = mx > 0 ? mx / 127.0f : 1.0f;
    // The codes divide by the float scale, as always; when that scale is
    // denormal or zero (rows below ~1e-36, ip / l2 only) the division is
    // done in double by the exact mx / 127, so that no code becomes inf / NaN.
    const bool tiny = fscale < std::numeric_limits<float>::min();
    const double dscale = static_cast<double>(mx) / 127.0;
    double sq = 0;
    for (std::size_t j = 0; j < dim_; ++j) {
      const float r = tiny ? static_cast<float>(std::nearbyint(dst[j] / dscale)) : std::nearbyint(dst[j] / fscale);
      const float c = std::max(-127.0f, std::min(127.0f, r));
      q8_[s * dim_ + j] = static_cast<std::int8_t>(c);
      sq += static_cast<double>(c * fscale) * (c * fscale);
    }
    qscale_[s] = fscale;
    qsq_[s] = static_cast<float>(sq);
  }
}

void Index::add(const float* vectors, std::size_t n, const std::uint64_t* ids, const Payload& payload,
                int threads, std::vector<std::uint64_t>* assigned) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  // Validate everything before storing anything.
  AddPlan plan = plan_add_locked(vectors, n, ids, payload, threads);
  if (n == 0) {
    if (assigned) assigned->clear();
    return;
  }
  std::vector<std::uint64_t>& new_ids = plan.ids;

  // Store.
  const std::size_t old = nslots_, total = old + n;
  resize_slots_locked(total);
  std::vector<float> tmp(dim_);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t s = old + i;
    store_row_locked(s, vectors + i * dim_, plan.norms[i], tmp);
    norm_[s] = static_cast<float>(plan.norms[i]);
    ids_[s] = new_ids[i];
    std::uint8_t f = 0;
    if (payload.vad && !std::isnan(payload.vad[3 * i])) {
      std::memcpy(&vad_[s * 3], payload.vad + 3 * i, 3 * sizeof(float));
      f |= kHasVad;
    } else {
      vad_[s * 3] = vad_[s * 3 + 1] = vad_[s * 3 + 2] = 0;
    }
    if (payload.timestamps && !std::isnan(payload.timestamps[i])) {
      ts_[s] = payload.timestamps[i];
      f |= kHasTs;
    } else {
      ts_[s] = 0;
    }
    label_[s] = payload.labels ? payload.labels[i] : -1;
    postings_.add(static_cast<std::uint32_t>(s), label_[s]);
    flags_[s] = f;
    slot_of_[new_ids[i]] = static_cast<std::uint32_t>(s);
    if (new_ids[i] >= next_id_) next_id_ = new_ids[i] + 1;  // at most NO_ID: then no more automatic ids
  }
  vec_advice_.update(vec_.data(), vec_.size() * sizeof(float));  // rows the scans stream through
  h16_advice_.update(h16_.data(), h16_.size() * sizeof(std::uint16_t));
  q8_advice_.update(q8_.data(), q8_.size());
  nslots_ = total;
  if (payload.timestamps) time_dirty_ = true;
  if (hnsw_) {
    hnsw_->resize(total);
    hnsw_->insert_range(old, total, hp_.ef_construction, threads);
  }
  if (assigned) *assigned = std::move(new_ids);
}

void Index::remove(const std::uint64_t* ids, std::size_t n) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  require_open("remove");
  require_writable("remove");
  std::unordered_set<std::uint64_t> seen;
  for (std::size_t i = 0; i < n; ++i) {
    if (!slot_of_.count(ids[i])) throw UnknownId("remove: unknown id " + idstr(ids[i]) + " (nothing was removed)");
    if (!seen.insert(ids[i]).second)
      throw std::invalid_argument("remove: id " + idstr(ids[i]) + " given twice (nothing was removed)");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t s = slot_of_.at(ids[i]);
    slot_of_.erase(ids[i]);
    postings_.erase(s, label_[s]);
    time_dirty_ = true;
    if (kind_ == Kind::hnsw) {  // tombstone: stays a routing node
      flags_[s] |= kDeleted;
      ++deleted_;
      continue;
    }
    const std::size_t last = nslots_ - 1;  // flat: move the last row into the hole
    if (s != last) move_slot(last, s);
    --nslots_;
  }
  if (kind_ == Kind::flat) {
    resize_slots_locked(nslots_);
  } else if (deleted_ > 0 && deleted_ * 2 > nslots_) {
    compact_locked(0);
  }
}

void Index::resize_slots_locked(std::size_t n) {
  if (has_f32_) vec_.resize(n * dim_);
  if (dtype_ == DType::f16) h16_.resize(n * dim_);
  if (dtype_ == DType::i8) {
    q8_.resize(n * dim_);
    qscale_.resize(n);
  }
  if (dtype_ != DType::f32) qsq_.resize(n);
  hdata_ = h16_.data();
  cdata_ = q8_.data();
  norm_.resize(n);
  ids_.resize(n);
  vad_.resize(n * 3, 0.0f);
  ts_.resize(n, 0.0);
  label_.resize(n, -1);
  flags_.resize(n, 0);
  vdata_ = has_f32_ ? vec_.data() : nullptr;
}

void Index::compact_locked(int threads) {
  std::size_t w = 0;
  for (std::size_t s = 0; s < nslots_; ++s) {
    if (flags_[s] & kDeleted) continue;
    if (w != s) move_slot(s, w);
    ++w;
  }
  deleted_ = 0;
  nslots_ = w;
  resize_slots_locked(w);
  rebuild_postings_locked();
  rebuild_graph_locked(0, threads);
}

void Index::rebuild_postings_locked() {
  postings_.rebuild(label_.data(), nslots_, [&](std::size_t s) { return !(flags_[s] & kDeleted); });
  time_dirty_ = true;
}

void Index::rebuild_graph_locked(std::size_t, int threads) {
  hnsw_ = std::make_unique<Hnsw>(*this, hp_.M, hp_.seed);
  hnsw_->resize(nslots_);
  hnsw_->insert_range(0, nslots_, hp_.ef_construction, threads);
}

void Index::set_labels(const std::uint64_t* ids, const std::int64_t* labels, std::size_t n) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  require_open("set_labels");
  require_writable("set_labels");
  const std::vector<std::uint32_t> slots = slots_of(ids, n, "set_labels: ");
  for (std::size_t i = 0; i < n; ++i) {
    postings_.erase(slots[i], label_[slots[i]]);
    label_[slots[i]] = labels[i];
    postings_.add(slots[i], labels[i]);
  }
}

// ---------------------------------------------------------------- search

void Index::scan_locked(const float* q, std::size_t nq, const SearchOptions& opt,
                        const std::vector<std::uint8_t>* allowed, std::uint64_t* out_ids, float* out_scores) const {
  const std::size_t k = opt.k;
  const Scorer sc{opt, vad_.data(), ts_.data(), flags_.data(), 1.0f - opt.sentiment_weight, opt.sentiment_weight};
  const bool check_deleted = deleted_ > 0;
  const std::uint8_t* allow = allowed ? allowed->data() : nullptr;

  auto sqnorm = [&](const float* v) {
    float a = 0;
    for (std::size_t j = 0; j < dim_; ++j) a += v[j] * v[j];
    return a;
  };
  const bool quant = dtype_ != DType::f32;
  const bool rerank = quant && has_f32_;
  // Quantized rows with f32 kept: collect rerank_ * k candidates, re-score them exactly.
  const std::size_t kk = rerank ? std::min<std::size_t>(k * rerank_, std::max<std::size_t>(k, nslots_)) : k;
  const bool tiled = !quant && (metric_ == Metric::cosine || metric_ == Metric::ip);
  const bool plain = !opt.use_sentiment && !opt.use_decay;
  const auto& vk = vn_kernels();
  const auto& ck = simd::vector_kernels();
  const int T = resolve_threads(opt.threads);
  // Batches on f32 rows (8 queries or more) or on f16 / i8 rows (32 or more:
  // widening them costs more), ip or cosine: the GEMM-style panel scan
  // (flat_scan.hpp), all queries of a chunk against a row range.
  const bool panels = tiled ? nq >= 8 : quant && metric_ != Metric::l2 && nq >= 32;
  // Other scans: a task owns QC queries (kept hot in L2) and streams its rows
  // in blocks of RB (about 32 KiB, L1), so each row is read from memory once
  // per QC queries. QC: the batch shared out evenly over the threads, in
  // [16, 512] queries. Panel scans keep up to 3072 queries per chunk (a
  // multiple of the kernel's query group; they stream from L3).
  const std::size_t per_thread = (nq + static_cast<std::size_t>(T) - 1) / static_cast<std::size_t>(T);
  const std::size_t PQ = vk.panel_queries;
  const std::size_t QC = panels ? (std::min<std::size_t>(nq, 3072) + PQ - 1) / PQ * PQ
                                : std::min<std::size_t>(512, std::max<std::size_t>(16, (per_thread + 15) / 16 * 16));
  // One or two queries reuse nothing: bigger blocks, less loop overhead.
  const std::size_t RB = nq <= 2 ? 256
                                 : std::max<std::size_t>(8, std::min<std::size_t>(256, (32 * 1024) / (dim_ * 4) / 4 * 4));
  const std::size_t nchunks = (nq + QC - 1) / QC;
  // Split the rows too when there are fewer query chunks than threads.
  std::size_t nranges = 1;
  if (nchunks < static_cast<std::size_t>(T)) {
    nranges = (static_cast<std::size_t>(T) * 2 + nchunks - 1) / nchunks;
    nranges = std::min(nranges, std::max<std::size_t>(1, nslots_ / 4096));
  }
  const std::size_t range_len = (nslots_ + nranges - 1) / nranges;
  std::vector<TopK> partial(nchunks * nranges * QC);
  const AlignedFloats groups = panels ? pack_query_groups(q, nq, dim_, PQ) : AlignedFloats(0);
  parallel_for(nchunks * nranges, opt.threads, [&](std::size_t task, std::size_t) {
    const std::size_t c = task / nranges, rg = task % nranges;
    const std::size_t q0 = c * QC, qn = std::min(QC, nq - q0);
    const std::size_t r0 = rg * range_len, r1 = std::min(nslots_, r0 + range_len);
    TopK* tops = &partial[task * QC];
    for (std::size_t i = 0; i < qn; ++i) tops[i].reset(kk);
    if (panels) {
      const std::uint8_t* const fl = flags_.data();
      auto keep = [&](std::size_t s) { return !((check_deleted && (fl[s] & kDeleted)) || (allow && !allow[s])); };
      auto score = [&](float v, std::size_t s) { return plain ? v : sc.finish(v, s); };
      std::vector<float> wide(quant ? vk.panel_rows * dim_ : 0);
      auto pack = [&](std::size_t s0, std::size_t nr, float* panel) {
        if (dtype_ == DType::f16) {
          vk.widen_f16(hdata_ + s0 * dim_, nr * dim_, wide.data());
        } else if (dtype_ == DType::i8) {
          for (std::size_t j = 0; j < nr; ++j)
            vk.widen_i8(cdata_ + (s0 + j) * dim_, dim_, qscale_[s0 + j], wide.data() + j * dim_);
        }
        pack_columns(quant ? wide.data() : row(s0), nr, dim_, vk.panel_rows, panel);
      };
      panel_scan_range(vk, groups.data(), q0, qn, pack, r0, r1, dim_, plain, keep, score, tops);
      return;
    }
    std::vector<float> buf(QC * RB);
    const float* qs = q + q0 * dim_;
    float qsq[512];  // QC <= 512
    if (quant && metric_ == Metric::l2)
      for (std::size_t i = 0; i < qn; ++i) qsq[i] = sqnorm(qs + i * dim_);
    for (std::size_t b0 = r0; b0 < r1; b0 += RB) {
      const std::size_t bn = std::min(RB, r1 - b0);
      if (quant) {
        for (std::size_t i = 0; i < qn; ++i) {
          float* bi = buf.data() + i * RB;
          if (dtype_ == DType::f16)
            vk.dot_f16_rows(qs + i * dim_, hdata_ + b0 * dim_, bn, dim_, bi);
          else
            vk.dot_i8_rows(qs + i * dim_, cdata_ + b0 * dim_, qscale_.data() + b0, bn, dim_, bi);
          if (metric_ == Metric::l2)
            for (std::size_t r = 0; r < bn; ++r) bi[r] = -std::max(0.0f, qsq[i] + qsq_[b0 + r] - 2 * bi[r]);
        }
      } else if (tiled) {
        vk.dot_tile(qs, qn, row(b0), bn, dim_, buf.data(), RB);
      } else if (metric_ == Metric::l2) {
        for (std::size_t i = 0; i < qn; ++i) {
          ck.l2sq_rows(qs + i * dim_, row(b0), bn, dim_, dim_, buf.data() + i * RB);
          for (std::size_t r = 0; r < bn; ++r) buf[i * RB + r] = -buf[i * RB + r];
        }
      } else {
        for (std::size_t i = 0; i < qn; ++i)
          for (std::size_t r = 0; r < bn; ++r) buf[i * RB + r] = fn_(qs + i * dim_, row(b0 + r), dim_);
      }
      // Locals, so that the hot loop keeps them in registers.
      const bool is_plain = plain, del = check_deleted;
      const std::uint8_t* const fl = flags_.data();
      const std::uint8_t* const al = allow;
      const float* const b = buf.data();
      for (std::size_t i = 0; i < qn; ++i) {
        TopK& t = tops[i];
        const float* bi = b + i * RB;
        float thr = t.threshold();
        if (is_plain) {
          for (std::size_t r = 0; r < bn; ++r) {
            const float v = bi[r];
            if (v < thr) continue;  // most rows stop here
            const std::size_t s = b0 + r;
            if ((del && (fl[s] & kDeleted)) || (al && !al[s])) continue;
            t.push(v, static_cast<std::uint32_t>(s));
            thr = t.threshold();
          }
        } else {
          for (std::size_t r = 0; r < bn; ++r) {
            const std::size_t s = b0 + r;
            const float v = sc.finish(bi[r], s);
            if (v < thr) continue;
            if ((del && (fl[s] & kDeleted)) || (al && !al[s])) continue;
            t.push(v, static_cast<std::uint32_t>(s));
            thr = t.threshold();
          }
        }
      }
    }
  });
  for (std::size_t qi = 0; qi < nq; ++qi) {
    const std::size_t c = qi / QC, i = qi % QC;
    TopK& t = partial[(c * nranges) * QC + i];
    for (std::size_t rg = 1; rg < nranges; ++rg)
      for (const auto& e : partial[(c * nranges + rg) * QC + i].h) t.push(e.first, e.second);
    if (rerank) {
      TopK exact;
      exact.reset(k);
      for (const auto& e : t.h) exact.push(sc.finish(pair_sim(q + qi * dim_, e.second), e.second), e.second);
      write_out(exact, k, ids_, out_ids + qi * k, out_scores + qi * k);
      continue;
    }
    write_out(t, k, ids_, out_ids + qi * k, out_scores + qi * k);
  }
}

void Index::check_k_locked(std::size_t k) const {
  const std::size_t live = nslots_ - deleted_;
  if (live == 0) throw std::invalid_argument("search: the index is empty");
  if (k == 0) throw std::invalid_argument("search: k must be >= 1");
  if (k > live)
    throw std::invalid_argument("search: k = " + std::to_string(k) + " is larger than the index holds (" +
                                std::to_string(live) + " vectors)");
}

void Index::check_k(std::size_t k) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  require_open("search");
  check_k_locked(k);
}

void Index::search(const float* queries, std::size_t nq, const SearchOptions& opt_in, std::uint64_t* out_ids,
                   float* out_scores) const {
  SearchOptions opt = opt_in;
  require_open("search");
  check_thread_count(opt.threads);
  if (opt.k == 0) throw std::invalid_argument("search: k must be >= 1");
  if (opt.ef > kMaxEf) throw std::invalid_argument("search: ef must be in [0, " + std::to_string(kMaxEf) + "] (0: the index's ef_search)");
  if (opt.use_sentiment) {
    const float* s = opt.sentiment;
    if (!(s[0] >= -1 && s[0] <= 1) || !(s[1] >= 0 && s[1] <= 1) || !(s[2] >= 0 && s[2] <= 1))
      throw std::invalid_argument("search: sentiment out of range (valence in [-1,1], arousal and dominance in [0,1])");
  } else if (opt.sentiment_weight != 0) {
    throw std::invalid_argument("search: sentiment_weight needs sentiment=(valence, arousal, dominance)");
  }
  if (!(opt.sentiment_weight >= 0 && opt.sentiment_weight <= 1))
    throw std::invalid_argument("search: sentiment_weight must be in [0, 1]");
  check_filter_values(opt);
  if (opt.use_decay && (!(opt.decay_rate >= 0) || !std::isfinite(opt.decay_rate) || !std::isfinite(opt.now)))
    throw std::invalid_argument("search: time_decay must be finite and >= 0, and now finite");
  // Queries: check and prepare (cosine: unit length).
  std::vector<float> q(queries, queries + nq * dim_);
  for (std::size_t i = 0; i < nq; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < dim_; ++j) {
      const float v = q[i * dim_ + j];
      if (!std::isfinite(v))
        throw std::invalid_argument("search: query " + std::to_string(i) + " has a NaN or infinite value");
      s += static_cast<double>(v) * v;
    }
    if (metric_ == Metric::cosine) {
      // s = sum of squares in double: finite and > 0 for any finite non-zero
      // float row (1e-39**2 and 3e38**2 are both doubles); divide in double,
      // since 1 / norm overflows float for norms below ~3e-39.
      if (!(s > 0)) throw std::invalid_argument("search: query " + std::to_string(i) + " is all zeros (cosine)");
      const double norm = std::sqrt(s);
      for (std::size_t j = 0; j < dim_; ++j) q[i * dim_ + j] = static_cast<float>(q[i * dim_ + j] / norm);
    }
  }

  std::shared_lock<std::shared_mutex> lock(mu_);
  require_open("search");
  check_k_locked(opt.k);
  if (nq == 0) return;
  const std::size_t live = nslots_ - deleted_;

  if (opt.filter_labels || opt.filter_ids || opt.filter_time) {
    filtered_search_locked(q.data(), nq, opt, out_ids, out_scores);
    return;
  }
  if (!hnsw_ || opt.exact) {
    scan_locked(q.data(), nq, opt, nullptr, out_ids, out_scores);
    return;
  }
  // A quantized walk with f32 kept re-scores its candidates exactly: at least rerank * k of them.
  const bool rerank = walks_codes() && has_f32_;
  const std::size_t ef = std::max({opt.ef ? opt.ef : hp_.ef_search, opt.k, rerank ? rerank_ * opt.k : 0});
  const Scorer sc{opt, vad_.data(), ts_.data(), flags_.data(), 1.0f - opt.sentiment_weight, opt.sentiment_weight};
  const std::size_t want = std::min(opt.k, live);
  parallel_for(nq, opt.threads, [&](std::size_t qi, std::size_t) {
    std::vector<std::pair<float, std::uint32_t>> cands;
    const float* qq = q.data() + qi * dim_;
    hnsw_->search(qq, ef, nullptr, cands);
    if (cands.size() < want) {  // the graph did not reach k rows: exact scan
      SearchOptions one = opt;
      one.threads = 1;
      scan_locked(qq, 1, one, nullptr, out_ids + qi * opt.k, out_scores + qi * opt.k);
      return;
    }
    TopK t;
    t.reset(opt.k);
    for (const auto& c : cands) t.push(sc.finish(rerank ? pair_sim(qq, c.second) : -c.first, c.second), c.second);
    write_out(t, opt.k, ids_, out_ids + qi * opt.k, out_scores + qi * opt.k);
  });
}

}  // namespace si::vn
