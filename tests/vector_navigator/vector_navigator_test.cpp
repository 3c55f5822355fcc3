// C++ unit tests of cpp/vector_navigator: every kernel level against a double
// reference, exact search against brute force, HNSW recall, persistence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu_features.hpp"
#include "common/errors.hpp"
#include "vector_navigator/filter.hpp"
#include "vector_navigator/hnsw.hpp"
#include "vector_navigator/huge_pages.hpp"
#include "vector_navigator/index.hpp"
#include "vector_navigator/vn_kernels.hpp"
#include "test_support.hpp"

using namespace si;
using namespace si::vn;

using si::testing::randn;
using si::testing::ref_dot;

TEST(VnKernels, EveryLevelMatchesDoubleReference) {
  for (simd::Level level : simd::available_levels()) {
    const auto& k = vn_kernels(level);
    EXPECT_EQ(k.level, level);
    for (std::size_t dim : {1u, 7u, 16u, 17u, 64u, 100u, 384u}) {
      const std::size_t nq = 13, nr = 37;
      auto q = randn(nq * dim, 1 + dim), r = randn(nr * dim, 2 + dim);
      std::vector<float> out(nq * nr);
      k.dot_tile(q.data(), nq, r.data(), nr, dim, out.data(), nr);
      const double tol = 1e-4 * std::sqrt(static_cast<double>(dim)) + 1e-5;
      for (std::size_t a = 0; a < nq; ++a)
        for (std::size_t b = 0; b < nr; ++b)
          ASSERT_NEAR(out[a * nr + b], ref_dot(&q[a * dim], &r[b * dim], dim), tol) << simd::level_name(level);
      // Batch kernel: one packed query group against one packed row panel
      // (the last rows zero), thresholds that some queries' tiles pass.
      const std::size_t PR = k.panel_rows, PQ = k.panel_queries, pn = PR - 3;
      std::vector<float> group(PQ * dim), panel(PR * dim), tile(PQ * PR), thr(PQ);
      pack_columns(q.data(), PQ, dim, PQ, group.data());
      pack_columns(r.data(), pn, dim, PR, panel.data());
      for (std::size_t a = 0; a < PQ; ++a) thr[a] = a % 2 ? 1e30f : static_cast<float>(ref_dot(&q[a * dim], r.data(), dim));
      const std::uint32_t mask = k.panel_tile(group.data(), PQ, panel.data(), dim, thr.data(), tile.data());
      for (std::size_t a = 0; a < PQ; ++a) {
        for (std::size_t b = 0; b < PR; ++b)
          ASSERT_NEAR(tile[a * PR + b], b < pn ? ref_dot(&q[a * dim], &r[b * dim], dim) : 0.0, tol);
        bool any = false;
        for (std::size_t b = 0; b < PR; ++b) any = any || tile[a * PR + b] >= thr[a];
        EXPECT_EQ((mask >> a) & 1u, any ? 1u : 0u) << simd::level_name(level) << " query " << a;
      }
      // Widening of quantized rows: exact against the scalar conversions.
      std::vector<std::uint16_t> hw(dim);
      std::vector<std::int8_t> cw(dim);
      std::vector<float> wide(dim);
      for (std::size_t i = 0; i < dim; ++i) {
        hw[i] = f32_to_f16(q[i] * 3.0f);
        cw[i] = static_cast<std::int8_t>(static_cast<int>(i * 37 % 255) - 127);
      }
      k.widen_f16(hw.data(), dim, wide.data());
      for (std::size_t i = 0; i < dim; ++i) ASSERT_EQ(wide[i], f16_to_f32(hw[i])) << simd::level_name(level);
      k.widen_i8(cw.data(), dim, 0.0371f, wide.data());
      for (std::size_t i = 0; i < dim; ++i)
        ASSERT_EQ(wide[i], static_cast<float>(cw[i]) * 0.0371f) << simd::level_name(level);
      std::vector<std::uint16_t> h(nr * dim);
      std::vector<float> hf(nr * dim), o16(nr);
      for (std::size_t i = 0; i < h.size(); ++i) hf[i] = f16_to_f32(h[i] = f32_to_f16(r[i]));
      k.dot_f16_rows(q.data(), h.data(), nr, dim, o16.data());
      for (std::size_t b = 0; b < nr; ++b) ASSERT_NEAR(o16[b], ref_dot(q.data(), &hf[b * dim], dim), tol);
    }
  }
}

TEST(Sentiment, Formula) {
  const float a[3] = {1, 0, 0}, b[3] = {-1, 1, 1}, c[3] = {0.2f, 0.4f, 0.9f};
  EXPECT_NEAR(sentiment_similarity(a, b), 0.0f, 1e-6);
  EXPECT_NEAR(sentiment_similarity(c, c), 1.0f, 1e-6);
}

TEST(Index, FlatSearchMatchesBruteForceAndRejectsBadInput) {
  const std::size_t n = 2000, dim = 33, k = 7;
  auto x = randn(n * dim, 5);
  Index ix(dim, Metric::ip, Kind::flat);
  std::vector<std::uint64_t> ids;
  ix.add(x.data(), n, nullptr, Payload{}, 2, &ids);
  ASSERT_EQ(ix.size(), n);
  auto q = randn(3 * dim, 6);
  std::vector<std::uint64_t> oi(3 * k);
  std::vector<float> os(3 * k);
  SearchOptions o;
  o.k = k;
  o.threads = 2;
  ix.search(q.data(), 3, o, oi.data(), os.data());
  for (std::size_t a = 0; a < 3; ++a) {
    std::vector<double> s(n);
    for (std::size_t r = 0; r < n; ++r) s[r] = ref_dot(&q[a * dim], &x[r * dim], dim);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](auto i, auto j) { return s[i] > s[j]; });
    for (std::size_t j = 0; j < k; ++j) EXPECT_NEAR(os[a * k + j], s[order[j]], 1e-3);
  }
  std::vector<float> bad(dim, 1.0f);
  bad[3] = std::nanf("");
  EXPECT_THROW(ix.add(bad.data(), 1, nullptr, Payload{}, 1, nullptr), std::invalid_argument);
  const std::uint64_t unknown = 123456789;
  EXPECT_THROW(ix.remove(&unknown, 1), UnknownId);
  EXPECT_EQ(ix.size(), n);
}

// The labels+ids filter is the core's: rows must carry a listed id AND a listed
// label (ids not held are skipped), on both kinds, against brute force.
TEST(Index, LabelsAndIdsFilterTogether) {
  const std::size_t n = 500, dim = 8, k = 6;
  auto x = randn(n * dim, 11);
  std::vector<std::uint64_t> ids(n);
  std::vector<std::int64_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    ids[i] = 1000 + 7 * i;
    labels[i] = static_cast<std::int64_t>(i % 5);
  }
  Payload p;
  p.labels = labels.data();
  const auto q = randn(dim, 12);
  for (Kind kind : {Kind::flat, Kind::hnsw}) {
    Index ix(dim, Metric::ip, kind, HnswParams{8, 64, 64, 1});
    ix.add(x.data(), n, ids.data(), p, 1, nullptr);
    SearchOptions o;
    o.k = k;
    o.filter_labels = true;
    o.labels = {1, 3};
    o.filter_ids = true;
    for (std::size_t i = 0; i < n; i += 3) o.ids.push_back(ids[i]);
    o.ids.push_back(999999);  // not held: skipped
    std::vector<std::pair<double, std::uint64_t>> ref;
    for (std::size_t i = 0; i < n; i += 3)
      if (labels[i] == 1 || labels[i] == 3) ref.emplace_back(ref_dot(q.data(), &x[i * dim], dim), ids[i]);
    std::sort(ref.rbegin(), ref.rend());
    std::vector<std::uint64_t> oi(k);
    std::vector<float> os(k);
    ix.search(q.data(), 1, o, oi.data(), os.data());
    for (std::size_t j = 0; j < k; ++j) {
      EXPECT_EQ(oi[j], ref[j].second) << "kind " << static_cast<int>(kind) << " rank " << j;
      EXPECT_NEAR(os[j], ref[j].first, 1e-4);
    }
    o.labels = {4};
    o.ids = {ids[0], ids[1]};  // labels 0 and 1: nothing passes both
    ix.search(q.data(), 1, o, oi.data(), os.data());
    for (std::size_t j = 0; j < k; ++j) EXPECT_EQ(oi[j], kNoId);
  }
}

TEST(Index, RefusesOptionCombinations) {
  EXPECT_THROW(Index(4, Metric::ip, Kind::flat, {}, nullptr, DType::f32, true), std::invalid_argument);
  Index ix(4, Metric::ip, Kind::flat);
  const float v[4] = {1, 2, 3, 4};
  ix.add(v, 1, nullptr, Payload{}, 1, nullptr);
  SearchOptions o;
  o.k = 1;
  o.sentiment_weight = 0.5f;  // without sentiment
  std::uint64_t id;
  float score;
  EXPECT_THROW(ix.search(v, 1, o, &id, &score), std::invalid_argument);
}

TEST(Index, HnswRecallAndPersistence) {
  const std::size_t n = 3000, dim = 16, k = 10, nq = 50;
  auto x = randn(n * dim, 7);
  HnswParams hp;
  hp.M = 12;
  hp.ef_construction = 80;
  hp.ef_search = 80;
  Index ix(dim, Metric::l2, Kind::hnsw, hp);
  ix.add(x.data(), n, nullptr, Payload{}, 2, nullptr);
  auto q = randn(nq * dim, 8);
  std::vector<std::uint64_t> oi(nq * k);
  std::vector<float> os(nq * k);
  SearchOptions o;
  o.k = k;
  ix.search(q.data(), nq, o, oi.data(), os.data());
  double hits = 0;
  for (std::size_t a = 0; a < nq; ++a) {
    std::vector<std::pair<double, std::size_t>> d(n);
    for (std::size_t r = 0; r < n; ++r) {
      double s = 0;
      for (std::size_t j = 0; j < dim; ++j) s += std::pow(q[a * dim + j] - x[r * dim + j], 2);
      d[r] = {s, r};
    }
    std::partial_sort(d.begin(), d.begin() + k, d.end());
    std::set<std::uint64_t> truth;
    for (std::size_t j = 0; j < k; ++j) truth.insert(d[j].second);
    for (std::size_t j = 0; j < k; ++j) hits += truth.count(oi[a * k + j]);
  }
  EXPECT_GE(hits / (nq * k), 0.95);
  const std::string path = ::testing::TempDir() + "/vn_test_index.sif";
  ix.save(path);
  for (bool mmap : {false, true}) {
    auto back = Index::load(path, mmap, nullptr);
    std::vector<std::uint64_t> bi(nq * k);
    std::vector<float> bs(nq * k);
    back->search(q.data(), nq, o, bi.data(), bs.data());
    EXPECT_EQ(bi, oi);
    EXPECT_EQ(bs, os);
  }
  std::remove(path.c_str());
}

// A filtered walk whose entry lies in a stretch the filter fails, more than
// two hops from any passing row, routes on through failing nodes instead of
// giving up: it returns the passing rows nearest the query by itself (before,
// it returned nothing and the index fell back to scanning every passing row).
// Rows on a line make the level-0 graph a chain: a failing stretch of 40 rows
// around the query strands the walk 20 hops from the nearest passing row.
TEST(Hnsw, StrandedFilteredWalkRoutesThroughFailingNodes) {
  const std::size_t dim = 4, n = 2000, k = 10, fail_from = 980, fail_to = 1020;
  auto noise = randn(n * dim, 21);
  std::vector<float> x(n * dim);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < dim; ++j) x[i * dim + j] = (j == 0 ? static_cast<float>(i) : 0.0f) + 1e-3f * noise[i * dim + j];
  Index rows(dim, Metric::l2, Kind::flat);
  rows.add(x.data(), n, nullptr, Payload{}, 1, nullptr);
  Hnsw graph(rows, 8, 3);
  graph.resize(n);
  graph.insert_range(0, n, 64, 1);
  std::vector<std::uint8_t> passing(n, 1);
  std::fill(passing.begin() + fail_from, passing.begin() + fail_to, 0);
  WalkFilter filter;
  filter.bitmap = passing.data();
  filter.pass_fraction = static_cast<double>(n - (fail_to - fail_from)) / n;
  const std::vector<float> q = {1000.0f, 0.0f, 0.0f, 0.0f};
  std::vector<std::pair<float, std::uint32_t>> got;
  graph.search_filtered(q.data(), 16, &filter, got);
  ASSERT_GE(got.size(), k) << "the walk gave up: the index would scan the passing rows instead";
  std::vector<std::pair<double, std::uint32_t>> exact;  // brute force over the passing rows
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!passing[i]) continue;
    double d = 0;
    for (std::size_t j = 0; j < dim; ++j) d += std::pow(double(q[j]) - x[i * dim + j], 2);
    exact.emplace_back(d, i);
  }
  std::partial_sort(exact.begin(), exact.begin() + k, exact.end());
  std::set<std::uint32_t> nearest;
  for (std::size_t j = 0; j < k; ++j) nearest.insert(exact[j].second);
  std::size_t hits = 0;
  for (std::size_t j = 0; j < got.size(); ++j) {
    ASSERT_TRUE(passing[got[j].second]) << "a failing row was returned: " << got[j].second;
    if (j < k) hits += nearest.count(got[j].second);
  }
  EXPECT_EQ(hits, k);
}

// Huge pages for scanned rows: where the kernel collapses a range, that range
// is backed by huge pages (AnonHugePages in /proc/self/smaps) and keeps its data.
// AnonHugePages (kB) of the mappings that overlap [p, p + bytes), from /proc/self/smaps.
std::size_t huge_kb_in(const void* p, std::size_t bytes) {
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return 0;
  char line[512];
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  bool inside = false;
  std::size_t huge_kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, '-') < std::strchr(line, ' ')) {
      inside = lo < at + bytes && hi > at;
      continue;
    }
    unsigned long kb = 0;
    if (inside && std::sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) huge_kb += kb;
  }
  std::fclose(f);
  return huge_kb;
}

TEST(HugePages, CollapsedRangeIsBackedByHugePagesAndKeepsItsData) {
  std::vector<float> buf(6u << 20);  // 24 MiB: several whole 2 MiB pages inside
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(i % 1013);
  const std::size_t done = advise_huge_pages(buf.data(), buf.size() * sizeof(float));
  for (std::size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(buf[i], static_cast<float>(i % 1013));
  if (done == 0) GTEST_SKIP() << "no transparent huge pages here (THP off, kernel < 6.1 or none free)";
  EXPECT_GE(done, 16u << 20);
  EXPECT_GE(huge_kb_in(buf.data(), buf.size() * sizeof(float)) * 1024, done);
}

// A growing buffer advised after each growth (as add() does for the rows and
// the HNSW lists) ends up on huge pages past its first part too, data intact.
TEST(HugePages, GrowingBufferIsAdvisedAsItGrows) {
  std::vector<float> buf;
  buf.reserve(12u << 20);  // 48 MiB: growth without moving, the case that advises only the new part
  GrowingAdvice advice;
  buf.resize(4u << 20);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(i % 997);
  advice.update(buf.data(), buf.size() * sizeof(float));
  const std::size_t first = huge_kb_in(buf.data(), buf.size() * sizeof(float));
  if (first == 0) GTEST_SKIP() << "no transparent huge pages here (THP off, kernel < 6.1 or none free)";
  buf.resize(12u << 20);
  for (std::size_t i = 4u << 20; i < buf.size(); ++i) buf[i] = static_cast<float>(i % 997);
  advice.update(buf.data(), buf.size() * sizeof(float));
  for (std::size_t i = 0; i < buf.size(); ++i) ASSERT_EQ(buf[i], static_cast<float>(i % 997));
  // The 32 MiB grown are advised by the second update only: at least 16 MiB more on huge pages.
  const std::size_t after = huge_kb_in(buf.data(), buf.size() * sizeof(float));
  EXPECT_GE(after * 1024, first * 1024 + (std::size_t{16} << 20));
}
