// Index::save / load / parse: the saved file format of a vector index (moved
// from index.cpp unchanged).
#include <cstring>
#include <memory>
#include <string>

#include "common/atomic_file.hpp"
#include "common/errors.hpp"
#include "vector_navigator/hnsw.hpp"
#include "vector_navigator/index.hpp"

namespace si::vn {
namespace {
constexpr std::uint8_t kDeleted = 4;  // index.cpp's slot flag of a removed row
}  // namespace

// ---------------------------------------------------------------- persistence
namespace {

struct Meta {  // 128 bytes, little-endian
  std::uint64_t dim, metric, kind, nslots, deleted, M, ef_construction, ef_search, seed, next_id;
  std::uint64_t reserved[6];
};
static_assert(sizeof(Meta) == 128, "meta size");

template <class T>
void append(std::vector<unsigned char>& out, const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  out.insert(out.end(), p, p + v.size() * sizeof(T));
}

template <class T>
void take(const unsigned char*& p, const unsigned char* end, std::vector<T>& v, std::size_t n) {
  if (static_cast<std::size_t>(end - p) / sizeof(T) < n) throw CorruptFile("vector index file is truncated");
  v.resize(n);
  std::memcpy(v.data(), p, n * sizeof(T));
  p += n * sizeof(T);
}

}  // namespace

void Index::save(const std::string& path, const std::string* attachment) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  require_open("save");
  const std::string& att = attachment ? *attachment : attachment_;
  Meta m{};
  m.dim = dim_;
  m.metric = static_cast<std::uint64_t>(metric_);
  m.kind = static_cast<std::uint64_t>(kind_);
  m.nslots = nslots_;
  m.deleted = deleted_;
  m.M = hp_.M;
  m.ef_construction = hp_.ef_construction;
  m.ef_search = hp_.ef_search;
  m.seed = hp_.seed;
  m.next_id = next_id_;
  m.reserved[0] = static_cast<std::uint64_t>(dtype_);
  m.reserved[1] = has_f32_ ? 1 : 0;
  m.reserved[2] = rerank_;
  std::vector<unsigned char> tail;
  append(tail, norm_);
  append(tail, ids_);
  append(tail, vad_);
  append(tail, ts_);
  append(tail, label_);
  append(tail, flags_);
  if (hnsw_) hnsw_->serialize(tail);
  // Version 2: the attachment's length (u64) and bytes end the payload.
  const std::uint64_t att_len = att.size();
  const auto* lp = reinterpret_cast<const unsigned char*>(&att_len);
  tail.insert(tail.end(), lp, lp + sizeof att_len);
  tail.insert(tail.end(), att.begin(), att.end());
  io::AtomicFileWriter w(path, kFileKind, kFormatVersion);
  w.write(&m, sizeof m);
  if (has_f32_) w.write(vdata_, nslots_ * dim_ * sizeof(float));
  if (dtype_ == DType::f16) {
    w.write(hdata_, nslots_ * dim_ * 2);
    const std::uint32_t pad = 0;
    w.write(&pad, (nslots_ * dim_ * 2) % 4);
  } else if (dtype_ == DType::i8) {
    w.write(cdata_, nslots_ * dim_);
    const std::uint32_t pad = 0;
    w.write(&pad, (4 - (nslots_ * dim_) % 4) % 4);
    w.write(qscale_.data(), nslots_ * 4);
  }
  if (dtype_ != DType::f32) w.write(qsq_.data(), nslots_ * 4);
  w.write(tail.data(), tail.size());
  w.commit();
}

std::unique_ptr<Index> Index::load(const std::string& path, bool mmap, CustomFn fn) {
  std::unique_ptr<io::MappedFile> mapped;
  io::LoadedFile loaded;
  const unsigned char* p;
  const unsigned char* end;
  std::uint32_t version;
  if (mmap) {
    mapped = std::make_unique<io::MappedFile>(path, kFileKind, kFormatVersion, true);
    p = mapped->payload();
    end = p + mapped->payload_size();
    version = mapped->header().version;
  } else {
    loaded = io::read_file(path, kFileKind, kFormatVersion);
    p = loaded.payload.data();
    end = p + loaded.payload.size();
    version = loaded.header.version;
  }
  try {
    return parse(p, end, version, std::move(mapped), fn, path);
  } catch (const CorruptFile& e) {
    // Every message names the file (some come from helpers that do not know it).
    const std::string what = e.what();
    if (what.find(path) != std::string::npos) throw;
    throw CorruptFile(what + ": " + path);
  }
}

std::unique_ptr<Index> Index::parse(const unsigned char* p, const unsigned char* end, std::uint32_t version,
                                    std::unique_ptr<io::MappedFile> mapped, CustomFn fn, const std::string& path) {
  const bool mmap = mapped != nullptr;
  Meta m;
  if (static_cast<std::size_t>(end - p) < sizeof m) throw CorruptFile("vector index file is truncated: " + path);
  std::memcpy(&m, p, sizeof m);
  p += sizeof m;
  if (m.dim == 0 || m.dim > 65536 || m.metric > 3 || m.kind > 1 || m.deleted > m.nslots || m.M < 2 || m.M > 512 ||
      m.nslots > 0xfffffff0ull || m.reserved[0] > 2 || m.reserved[1] > 1 || m.reserved[2] > 1000 ||
      (m.reserved[0] != 0 && m.metric == 3) || (m.reserved[0] == 0 && m.reserved[1] != 1) ||
      m.ef_construction < 1 || m.ef_construction > kMaxEf || m.ef_search < 1 || m.ef_search > kMaxEf ||
      (m.reserved[0] != 0 && m.reserved[2] < 1) || m.reserved[3] != 0 || m.reserved[4] != 0 || m.reserved[5] != 0)
    throw CorruptFile("vector index file has an invalid header: " + path);
  const auto metric = static_cast<Metric>(m.metric);
  if (metric == Metric::custom && !fn)
    throw std::invalid_argument("this index uses a custom metric: pass metric=<the same function> to load()");
  if (metric != Metric::custom) fn = nullptr;
  HnswParams hp{m.M, m.ef_construction, m.ef_search, m.seed};
  const auto dtype = static_cast<DType>(m.reserved[0]);
  std::unique_ptr<Index> ix;
  try {
    ix.reset(new Index(m.dim, metric, static_cast<Kind>(m.kind), hp, fn, dtype, m.reserved[1] == 1,
                       dtype == DType::f32 ? 4 : m.reserved[2], true));
  } catch (const std::invalid_argument& e) {
    throw CorruptFile(std::string("vector index file has an invalid header (") + e.what() + "): " + path);
  }
  const std::size_t n = m.nslots;
  const std::size_t vbytes = ix->has_f32_ ? n * m.dim * sizeof(float) : 0;
  if (static_cast<std::size_t>(end - p) < vbytes) throw CorruptFile("vector index file is truncated: " + path);
  if (!ix->has_f32_) {
    ix->vdata_ = nullptr;
  } else if (mmap) {
    ix->vdata_ = reinterpret_cast<const float*>(p);  // 64 + 128: 64-byte aligned
  } else {
    ix->vec_.resize(n * m.dim);
    std::memcpy(ix->vec_.data(), p, vbytes);
    ix->vdata_ = ix->vec_.data();
  }
  p += vbytes;
  if (dtype == DType::f16) {
    const std::size_t cb = n * m.dim * 2, pad = cb % 4;
    if (static_cast<std::size_t>(end - p) < cb + pad) throw CorruptFile("vector index file is truncated: " + path);
    if (mmap) {
      ix->hdata_ = reinterpret_cast<const std::uint16_t*>(p);
    } else {
      ix->h16_.resize(n * m.dim);
      std::memcpy(ix->h16_.data(), p, cb);
      ix->hdata_ = ix->h16_.data();
    }
    p += cb + pad;
  } else if (dtype == DType::i8) {
    const std::size_t cb = n * m.dim, pad = (4 - cb % 4) % 4;
    if (static_cast<std::size_t>(end - p) < cb + pad) throw CorruptFile("vector index file is truncated: " + path);
    if (mmap) {
      ix->cdata_ = reinterpret_cast<const std::int8_t*>(p);
    } else {
      ix->q8_.resize(cb);
      std::memcpy(ix->q8_.data(), p, cb);
      ix->cdata_ = ix->q8_.data();
    }
    p += cb + pad;
    take(p, end, ix->qscale_, n);
  }
  if (dtype != DType::f32) take(p, end, ix->qsq_, n);
  take(p, end, ix->norm_, n);
  take(p, end, ix->ids_, n);
  take(p, end, ix->vad_, n * 3);
  take(p, end, ix->ts_, n);
  take(p, end, ix->label_, n);
  take(p, end, ix->flags_, n);
  ix->nslots_ = n;
  ix->next_id_ = m.next_id;
  std::size_t deleted = 0;
  ix->slot_of_.reserve(n);
  for (std::size_t s = 0; s < n; ++s) {
    if (ix->flags_[s] & kDeleted) {
      ++deleted;
      continue;
    }
    if (!ix->slot_of_.emplace(ix->ids_[s], static_cast<std::uint32_t>(s)).second)
      throw CorruptFile("vector index file holds a duplicate id: " + path);
  }
  if (deleted != m.deleted || (ix->kind_ == Kind::flat && deleted != 0))
    throw CorruptFile("vector index file: deleted count mismatch: " + path);
  ix->deleted_ = deleted;
  if (ix->hnsw_) p += ix->hnsw_->deserialize(p, end, n);
  if (version >= 2) {  // version 1 files end here: no attachment
    std::uint64_t att_len;
    if (static_cast<std::size_t>(end - p) < sizeof att_len) throw CorruptFile("vector index file is truncated: " + path);
    std::memcpy(&att_len, p, sizeof att_len);
    p += sizeof att_len;
    if (static_cast<std::uint64_t>(end - p) < att_len) throw CorruptFile("vector index file is truncated: " + path);
    ix->attachment_.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(att_len));
    p += att_len;
  }
  if (p != end) throw CorruptFile("vector index file has trailing bytes: " + path);
  ix->mapped_ = std::move(mapped);
  return ix;
}

}  // namespace si::vn
