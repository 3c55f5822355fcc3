// Index::save / load / parse: the saved file format of a vector index.
// Payload (format version 2; version 1 ends before the attachment):
//   meta       16 x u64 (dim, metric, kind, nslots, deleted, M, ef_construction,
//              ef_search, seed, next_id, dtype, has_f32, rerank, 3 reserved zeros)
//   rows       f32 rows if kept; f16 codes padded to 4 bytes, or i8 codes padded
//              to 4 bytes and f32 scales; f32 squared norms of quantized rows
//   per slot   norm (f64), id (u64), sentiment (3 x f32), timestamp (f64),
//              label (i64), flags (u8)
//   graph      the HNSW graph (Hnsw::serialize), HNSW indexes only
//   attachment u64 length, then the bytes
// The rows are written from and (with mmap) used in place, so they keep the
// machine's byte order; everything else goes through common/byte_io.hpp.
#include <cstring>
#include <memory>
#include <string>

#include "common/atomic_file.hpp"
#include "common/byte_io.hpp"
#include "common/errors.hpp"
#include "vector_navigator/huge_pages.hpp"
#include "vector_navigator/hnsw.hpp"
#include "vector_navigator/index.hpp"

namespace si::vn {

// ---------------------------------------------------------------- persistence
namespace {

struct Meta {  // 128 bytes, little-endian
  std::uint64_t dim, metric, kind, nslots, deleted, M, ef_construction, ef_search, seed, next_id;
  std::uint64_t reserved[6];
};
static_assert(sizeof(Meta) == 128, "meta size");

void write_meta(ByteWriter& w, const Meta& m) {
  for (std::uint64_t v : {m.dim, m.metric, m.kind, m.nslots, m.deleted, m.M, m.ef_construction, m.ef_search,
                          m.seed, m.next_id})
    w.put<std::uint64_t>(v);
  w.array(m.reserved, 6);
}

Meta read_meta(ByteReader& r) {
  Meta m;
  for (std::uint64_t* v : {&m.dim, &m.metric, &m.kind, &m.nslots, &m.deleted, &m.M, &m.ef_construction,
                           &m.ef_search, &m.seed, &m.next_id})
    *v = r.get<std::uint64_t>();
  for (auto& v : m.reserved) v = r.get<std::uint64_t>();
  return m;
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
  ByteWriter head;
  write_meta(head, m);
  ByteWriter tail;
  tail.array(norm_);
  tail.array(ids_);
  tail.array(vad_);
  tail.array(ts_);
  tail.array(label_);
  tail.array(flags_);
  if (hnsw_) hnsw_->serialize(tail);
  // Version 2: the attachment's length (u64) and bytes end the payload.
  tail.put<std::uint64_t>(att.size());
  tail.bytes(att.data(), att.size());
  io::AtomicFileWriter w(path, kFileKind, kFormatVersion);
  w.write(head.buffer().data(), head.size());
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
  w.write(tail.buffer().data(), tail.size());
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
  ByteReader rd(p, static_cast<std::size_t>(end - p), "vector index file is truncated: " + path);
  const Meta m = read_meta(rd);
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
  p = rd.bytes(vbytes);
  if (!ix->has_f32_) {
    ix->vdata_ = nullptr;
  } else if (mmap) {
    ix->vdata_ = reinterpret_cast<const float*>(p);  // 64 + 128: 64-byte aligned
  } else {
    ix->vec_.resize(n * m.dim);
    std::memcpy(ix->vec_.data(), p, vbytes);
    ix->vdata_ = ix->vec_.data();
    ix->vec_advice_.update(ix->vec_.data(), vbytes);  // as add() does: a walk's row reads miss the TLB on 4 KiB pages
  }
  if (dtype == DType::f16) {
    const std::size_t cb = n * m.dim * 2, pad = cb % 4;
    p = rd.bytes(cb + pad);
    if (mmap) {
      ix->hdata_ = reinterpret_cast<const std::uint16_t*>(p);
    } else {
      ix->h16_.resize(n * m.dim);
      std::memcpy(ix->h16_.data(), p, cb);
      ix->hdata_ = ix->h16_.data();
      ix->h16_advice_.update(ix->h16_.data(), cb);
    }
  } else if (dtype == DType::i8) {
    const std::size_t cb = n * m.dim, pad = (4 - cb % 4) % 4;
    p = rd.bytes(cb + pad);
    if (mmap) {
      ix->cdata_ = reinterpret_cast<const std::int8_t*>(p);
    } else {
      ix->q8_.resize(cb);
      std::memcpy(ix->q8_.data(), p, cb);
      ix->cdata_ = ix->q8_.data();
      ix->q8_advice_.update(ix->q8_.data(), cb);
    }
    rd.array(ix->qscale_, n);
  }
  if (dtype != DType::f32) rd.array(ix->qsq_, n);
  rd.array(ix->norm_, n);
  rd.array(ix->ids_, n);
  rd.array(ix->vad_, n * 3);
  rd.array(ix->ts_, n);
  rd.array(ix->label_, n);
  rd.array(ix->flags_, n);
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
  // Posting lists are rebuilt, not stored: one pass over the labels (a few ms
  // per million rows, next to reading the vectors) keeps the format unchanged.
  ix->rebuild_postings_locked();
  if (ix->hnsw_) rd.bytes(ix->hnsw_->deserialize(rd.cursor(), end, n));
  if (version >= 2) {  // version 1 files end here: no attachment
    const auto att_len = rd.get<std::uint64_t>();
    if (att_len > rd.remaining()) throw CorruptFile("vector index file is truncated: " + path);
    const auto att = static_cast<std::size_t>(att_len);
    ix->attachment_.assign(reinterpret_cast<const char*>(rd.bytes(att)), att);
  }
  if (!rd.done()) throw CorruptFile("vector index file has trailing bytes: " + path);
  ix->mapped_ = std::move(mapped);
  return ix;
}

}  // namespace si::vn
