#include "vector_navigator/hnsw.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/byte_io.hpp"
#include "common/errors.hpp"
#include "common/rng.hpp"
#include "vector_navigator/filter.hpp"
#include "vector_navigator/index.hpp"
#include "vector_navigator/parallel.hpp"

namespace si::vn {
namespace {

using si::splitmix64;

struct Closer {  // max-heap on distance: worst on top
  bool operator()(const std::pair<float, std::uint32_t>& a, const std::pair<float, std::uint32_t>& b) const {
    return a.first < b.first;
  }
};
struct Farther {  // min-heap on distance: best on top
  bool operator()(const std::pair<float, std::uint32_t>& a, const std::pair<float, std::uint32_t>& b) const {
    return a.first > b.first;
  }
};

}  // namespace

Hnsw::Hnsw(const Index& index, std::size_t M, std::uint64_t seed)
    : index_(index), M_(M), M0_(2 * M), level_mult_(1.0 / std::log(static_cast<double>(M))),
      seed_(seed), stripes_(new std::mutex[kStripes]) {
  if (M < 2 || M > 512) throw std::invalid_argument("hnsw: M must be in [2, 512], got " + std::to_string(M));
  if (!index.walks_codes() && index.metric_ != Metric::custom) {
    const bool l2 = index.metric_ == Metric::l2;
    f32_kernel_ = l2 ? index.l2sq_ : index.dot_;
    f32_sign_ = l2 ? 1.0f : -1.0f;  // -(-l2sq) and -dot, bit for bit what walk_sim gives
  }
}

void Hnsw::Visited::prepare(std::size_t n) {
  if (tag.size() < n) tag.resize(n, 0);
  if (++epoch == 0) {
    std::fill(tag.begin(), tag.end(), 0);
    std::fill(routed.begin(), routed.end(), 0);
    epoch = 1;
  }
}

int Hnsw::random_level(std::uint32_t node) const {
  const std::uint64_t r = splitmix64(seed_ ^ (static_cast<std::uint64_t>(node) * 0x2545f4914f6cdd1dull));
  const double u = (static_cast<double>(r >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  const double l = -std::log(u) * level_mult_;
  return static_cast<int>(std::min(l, 30.0));
}

void Hnsw::advise_level0() {
  // Every step of a walk reads a random node's level-0 list: on 4 KiB pages
  // most of those reads miss the TLB (1-3% of a search at 100k rows).
  l0_advice_.update(l0_.data(), l0_.size() * sizeof(std::uint32_t));
}

void Hnsw::resize(std::size_t n) {
  const std::size_t old = levels_.size();
  if (n <= old) {
    levels_.resize(n);
    l0_.resize(n * (M0_ + 1));
    upper_.resize(n);
    return;
  }
  levels_.resize(n);
  l0_.resize(n * (M0_ + 1), 0);
  advise_level0();
  upper_.resize(n);
  for (std::size_t i = old; i < n; ++i) {
    const int lv = random_level(static_cast<std::uint32_t>(i));
    levels_[i] = static_cast<std::uint8_t>(lv);
    l0_[i * (M0_ + 1)] = 0;
    upper_[i].assign(static_cast<std::size_t>(lv) * (M_ + 1), 0);
  }
}

float Hnsw::dist(const float* q, float qsq, std::uint32_t node) const {
  if (f32_kernel_) return f32_sign_ * f32_kernel_(q, index_.vdata_ + static_cast<std::size_t>(node) * index_.dim_, index_.dim_);
  return -index_.walk_sim(q, qsq, node);
}

const std::uint32_t* Hnsw::links(std::uint32_t node, int level) const {
  if (level == 0) return l0_.data() + static_cast<std::size_t>(node) * (M0_ + 1);
  return upper_[node].data() + static_cast<std::size_t>(level - 1) * (M_ + 1);
}
std::uint32_t* Hnsw::links(std::uint32_t node, int level) {
  if (level == 0) return l0_.data() + static_cast<std::size_t>(node) * (M0_ + 1);
  return upper_[node].data() + static_cast<std::size_t>(level - 1) * (M_ + 1);
}

std::size_t Hnsw::memory_bytes() const {
  std::size_t b = levels_.capacity() + l0_.capacity() * 4 + upper_.capacity() * sizeof(upper_[0]);
  for (const auto& u : upper_) b += u.capacity() * 4;
  return b + kStripes * sizeof(std::mutex);
}

std::size_t Hnsw::link_count0() const {
  std::size_t s = 0;
  for (std::size_t i = 0; i < levels_.size(); ++i) s += l0_[i * (M0_ + 1)];
  return s;
}

void Hnsw::search_layer(const float* q, float qsq, std::uint32_t ep, std::size_t ef, int level, Visited& vis,
                        std::vector<Cand>& result, bool locking, const std::uint8_t* allowed,
                        bool filter_results) const {
  const auto& flags = index_.flags_;
  auto admitted = [&](std::uint32_t n) {
    if (!filter_results) return true;
    if (flags[n] & 4u) return false;
    return allowed == nullptr || allowed[n] != 0;
  };
  vis.prepare(levels_.size());
  // The heaps are std::priority_queue's layout (push_heap / pop_heap with the
  // same comparators) on the worker's reused vectors: the same visiting order
  // as before, without allocating per call.
  std::vector<Cand>& top = vis.top;    // worst on top (Closer)
  std::vector<Cand>& cand = vis.cand;  // best on top (Farther)
  top.clear();
  cand.clear();
  std::uint16_t* tag = vis.tag.data();
  const std::uint16_t epoch = vis.epoch;
  auto push = [](std::vector<Cand>& h, Cand c, auto cmp) {
    h.push_back(c);
    std::push_heap(h.begin(), h.end(), cmp);
  };
  auto pop = [](std::vector<Cand>& h, auto cmp) {
    std::pop_heap(h.begin(), h.end(), cmp);
    h.pop_back();
  };
  const float d0 = dist(q, qsq, ep);
  tag[ep] = epoch;
  push(cand, {d0, ep}, Farther{});
  float lower = std::numeric_limits<float>::infinity();
  if (admitted(ep)) {
    push(top, {d0, ep}, Closer{});
    lower = d0;
  }
  vis.links.resize(std::max(M0_, M_) + 1);
  while (!cand.empty()) {
    const Cand c = cand.front();
    if (c.first > lower && top.size() >= ef) break;
    pop(cand, Farther{});
    const std::uint32_t* l = links(c.second, level);
    std::size_t cnt;
    const std::uint32_t* nbs;
    if (locking) {  // insertion: other workers may be rewriting this list
      std::lock_guard<std::mutex> g(lock_of(c.second));
      cnt = l[0];
      std::memcpy(vis.links.data(), l + 1, cnt * sizeof(std::uint32_t));
      nbs = vis.links.data();
    } else {  // a finished graph: read it in place
      cnt = l[0];
      nbs = l + 1;
    }
    for (std::size_t j = 0; j < cnt; ++j) {  // start fetching the neighbours' rows
      if (tag[nbs[j]] != epoch) {
        const char* r = static_cast<const char*>(index_.walk_row(nbs[j]));
        __builtin_prefetch(r);
        __builtin_prefetch(r + 64);
      }
    }
    for (std::size_t j = 0; j < cnt; ++j) {
      const std::uint32_t nb = nbs[j];
      if (tag[nb] == epoch) continue;
      tag[nb] = epoch;
      const float d = dist(q, qsq, nb);
      if (top.size() < ef || d < lower) {
        push(cand, {d, nb}, Farther{});
        if (admitted(nb)) {
          push(top, {d, nb}, Closer{});
          if (top.size() > ef) pop(top, Closer{});
          lower = top.front().first;
        }
      }
    }
    if (!cand.empty()) __builtin_prefetch(links(cand.front().second, level));  // the next expansion's list
  }
  // sort_heap pops the worst to the back one at a time: best first, ties in
  // the order the former pop loop gave them.
  std::sort_heap(top.begin(), top.end(), Closer{});
  result.assign(top.begin(), top.end());
}

std::uint32_t Hnsw::greedy_descend(const float* q, float qsq, std::uint32_t cur, float& curd, int from_level,
                                   int above_level, bool locking) const {
  for (int l = from_level; l > above_level; --l) {
    bool changed = true;
    while (changed) {
      changed = false;
      std::unique_lock<std::mutex> g;  // insertion reads lists other inserts may be rewriting
      if (locking) g = std::unique_lock<std::mutex>(lock_of(cur));
      const std::uint32_t* ln = links(cur, l);
      for (std::uint32_t j = 1; j <= ln[0]; ++j) {
        const float d = dist(q, qsq, ln[j]);
        if (d < curd) {
          curd = d;
          cur = ln[j];
          changed = true;
        }
      }
    }
  }
  return cur;
}

void Hnsw::select_neighbors(std::vector<Cand>& cands, std::size_t m, Visited& vis, std::vector<float>& buf) const {
  if (cands.size() <= m) return;
  std::sort(cands.begin(), cands.end());
  std::vector<Cand>& chosen = vis.chosen;
  chosen.clear();
  for (const Cand& c : cands) {
    if (chosen.size() >= m) break;
    bool good = true;
    float csq;
    const float* cv = index_.walk_vector(c.second, buf, csq);
    for (const Cand& s : chosen) {
      if (dist(cv, csq, s.second) < c.first) {
        good = false;
        break;
      }
    }
    if (good) chosen.push_back(c);
  }
  cands.assign(chosen.begin(), chosen.end());
}

void Hnsw::insert(std::uint32_t node, std::size_t efc, Visited& vis) {
  const int level = levels_[node];
  float qsq;
  const float* q = index_.walk_vector(node, vis.node_vec, qsq);
  std::unique_lock<std::mutex> glock(entry_mu_);
  const int maxl = max_level_;
  std::uint32_t cur = entry_;
  if (maxl < 0) {
    entry_ = node;
    max_level_ = level;
    return;
  }
  if (level <= maxl) glock.unlock();

  float curd = dist(q, qsq, cur);
  cur = greedy_descend(q, qsq, cur, curd, maxl, level, true);
  std::vector<Cand>& res = vis.res;
  std::vector<Cand>& nbc = vis.nbc;
  for (int l = std::min(level, maxl); l >= 0; --l) {
    search_layer(q, qsq, cur, efc, l, vis, res, true, nullptr, false);
    res.erase(std::remove_if(res.begin(), res.end(), [&](const Cand& c) { return c.second == node; }),
              res.end());
    if (res.empty()) continue;
    cur = res.front().second;
    select_neighbors(res, M_, vis, vis.cand_vec);
    {
      std::lock_guard<std::mutex> g(lock_of(node));
      std::uint32_t* ln = links(node, l);
      ln[0] = static_cast<std::uint32_t>(res.size());
      for (std::size_t j = 0; j < res.size(); ++j) ln[j + 1] = res[j].second;
    }
    const std::size_t capl = cap(l);
    for (const Cand& c : res) {
      const std::uint32_t nb = c.second;
      std::lock_guard<std::mutex> g(lock_of(nb));
      std::uint32_t* ln = links(nb, l);
      bool present = false;
      for (std::uint32_t j = 1; j <= ln[0]; ++j) present |= ln[j] == node;
      if (present) continue;
      if (ln[0] < capl) {
        ln[++ln[0]] = node;
        continue;
      }
      float nsq;
      const float* nv = index_.walk_vector(nb, vis.nb_vec, nsq);
      nbc.clear();
      nbc.emplace_back(c.first, node);
      for (std::uint32_t j = 1; j <= ln[0]; ++j) nbc.emplace_back(dist(nv, nsq, ln[j]), ln[j]);
      select_neighbors(nbc, capl, vis, vis.cand_vec);
      ln[0] = static_cast<std::uint32_t>(nbc.size());
      for (std::size_t j = 0; j < nbc.size(); ++j) ln[j + 1] = nbc[j].second;
    }
  }
  if (level > maxl) {
    entry_ = node;
    max_level_ = level;
  }
}

void Hnsw::insert_range(std::size_t from, std::size_t to, std::size_t efc, int threads) {
  if (from >= to) return;
  // The very first node goes in alone so that every worker has an entry point.
  std::size_t start = from;
  {
    Visited vis;
    if (max_level_ < 0) insert(static_cast<std::uint32_t>(start++), efc, vis);
  }
  const std::size_t chunk = 64;
  const std::size_t ntasks = (to - start + chunk - 1) / chunk;
  // Scratch for the workers that will run, not for the thread count asked for.
  const int workers = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(resolve_threads(threads)), ntasks));
  if (workers < 1) return;
  std::vector<Visited> vis(static_cast<std::size_t>(workers));
  parallel_for(ntasks, workers, [&](std::size_t t, std::size_t w) {
    const std::size_t a = start + t * chunk, b = std::min(to, a + chunk);
    for (std::size_t i = a; i < b; ++i) insert(static_cast<std::uint32_t>(i), efc, vis[w]);
  });
}

void Hnsw::search(const float* q, std::size_t ef, const std::uint8_t* allowed,
                  std::vector<Cand>& out) const {
  out.clear();
  if (max_level_ < 0) return;
  thread_local Visited vis;
  float qsq = 0;  // the quantized l2 walk needs |q|^2
  if (index_.walks_codes())
    for (std::size_t j = 0; j < index_.dim_; ++j) qsq += q[j] * q[j];
  std::uint32_t cur = entry_;
  float curd = dist(q, qsq, cur);
  cur = greedy_descend(q, qsq, cur, curd, max_level_, 0, false);
  search_layer(q, qsq, cur, ef, 0, vis, out, false, allowed, true);
}

void Hnsw::search_filtered(const float* q, std::size_t ef, const WalkFilter* allowed,
                           std::vector<Cand>& out) const {
  if (allowed == nullptr) {
    search(q, ef, nullptr, out);
    return;
  }
  out.clear();
  if (max_level_ < 0) return;
  thread_local Visited vis;
  float qsq = 0;
  if (index_.walks_codes())
    for (std::size_t j = 0; j < index_.dim_; ++j) qsq += q[j] * q[j];
  std::uint32_t cur = entry_;
  float curd = dist(q, qsq, cur);
  cur = greedy_descend(q, qsq, cur, curd, max_level_, 0, false);
  search_layer_filtered(q, qsq, cur, ef, vis, out, *allowed);
}

void Hnsw::search_layer_filtered(const float* q, float qsq, std::uint32_t ep, std::size_t ef, Visited& vis,
                                 std::vector<Cand>& result, const WalkFilter& filter) const {
  const auto& flags = index_.flags_;
  vis.prepare(levels_.size());
  std::vector<Cand>& top = vis.top;    // worst on top (Closer): allowed live nodes
  // Nodes to expand, best on top (Farther), ncand of them in a heap kept on
  // the worker's reused vector by hand (size() is its capacity here): a
  // push_back per scored node was an out-of-line call in this loop.
  std::vector<Cand>& cand_buf = vis.cand;
  if (cand_buf.size() < 4 * M0_) cand_buf.resize(4 * M0_);
  Cand* cand = cand_buf.data();
  std::size_t ncand = 0;
  auto cand_push = [&](Cand c) {
    if (ncand == cand_buf.size()) {
      cand_buf.resize(2 * ncand);
      cand = cand_buf.data();
    }
    cand[ncand++] = c;
    std::push_heap(cand, cand + ncand, Farther{});
  };
  // The allowed nodes one expansion scores: at most M0 (direct neighbours,
  // then two-hop ones while fewer than M0), in a plain array (a vector's
  // push_back per neighbour was a visible share of the walk).
  vis.links.resize(M0_ + 1);
  std::uint32_t* batch = vis.links.data();
  std::size_t nbatch = 0;
  top.clear();
  std::uint16_t* tag = vis.tag.data();
  const std::uint16_t epoch = vis.epoch;
  float lower = std::numeric_limits<float>::infinity();
  const bool live_only = filter.bits != nullptr;  // a label bitmap holds live rows only: no flag to read
  auto offer = [&](float d, std::uint32_t n) {
    if (top.size() < ef || d < lower) {
      cand_push({d, n});
      if (live_only || !(flags[n] & 4u)) {  // deleted rows route but are never returned
        if (top.size() < ef) {
          top.push_back({d, n});
          std::push_heap(top.begin(), top.end(), Closer{});
        } else {  // full: the new node takes the worst one's place
          std::pop_heap(top.begin(), top.end(), Closer{});
          top.back() = {d, n};
          std::push_heap(top.begin(), top.end(), Closer{});
        }
        lower = top.front().first;
      }
    }
  };
  // The entry point routes even when it fails the filter (it is never returned).
  tag[ep] = epoch;
  {
    const float d0 = dist(q, qsq, ep);
    cand_push({d0, ep});
    if (filter.pass(ep) && !(flags[ep] & 4u)) {
      top.push_back({d0, ep});
      lower = d0;
    }
  }
  std::vector<std::uint32_t>& failing_buf = vis.nbc_ids;
  failing_buf.resize(M0_ + 1);
  std::uint32_t* failing = failing_buf.data();
  std::vector<std::uint8_t>& passes_buf = vis.passes;  // filter outcomes of one link list
  passes_buf.resize(M0_ + 1);
  std::uint8_t* passes = passes_buf.data();
  // The regime (see the header): dense until the first kRegimeExpansions
  // expansions show the query's region passing the filter less than
  // 1 / kSparseFactor as often as the rows overall; then sparse for the rest.
  bool sparse = false;
  std::size_t seen = 0, seen_passing = 0, expansions = 0;
  // Routing scores failing neighbours and queues them like allowed ones
  // (nearest first) but never holds them, until routed_budget of them:
  //  - a walk that turns sparse routes through the first
  //    kSparseRouteShare * M0 failing neighbours it meets: the failing rows
  //    nearest the query lead to the passing regions on every side of it,
  //    where the two-hop step alone found one or two of them and missed the
  //    rest;
  //  - a stranded walk (no candidate left, fewer than ef allowed nodes held)
  //    turns to routing: the failing neighbours of the nodes it has expanded,
  //    and from then on of every node it expands, until it has routed
  //    through as many nodes as a quarter of the passing rows (then the
  //    caller scans those rows if the walk still holds fewer than k). In the
  //    token loop's basin search 0.7% of the queries were stranded, each
  //    falling back to a scan of the basin at 2-3x a walk's cost: the tick's P99.
  std::vector<std::uint32_t>& expanded = vis.expanded;  // before routing began
  expanded.clear();
  if (vis.routed.size() < levels_.size()) vis.routed.resize(levels_.size(), 0);
  std::uint16_t* routed = vis.routed.data();
  routed[ep] = epoch;
  const double stranded_routes = std::max<double>(static_cast<double>(M0_),
      filter.pass_fraction * static_cast<double>(levels_.size()) / 4.0);
  double routed_budget = 0;
  std::size_t routed_count = 0;
  bool routing = false, stranded = false;
  // Queues the failing neighbours in l (passes: their filter outcomes).
  auto route_through = [&](const std::uint32_t* l, const std::uint8_t* pass_of) {
    for (std::uint32_t j = 1; j <= l[0] && routing; ++j) {
      const std::uint32_t nb = l[j];
      if (pass_of[j - 1] || routed[nb] == epoch) continue;
      routed[nb] = epoch;
      const float d = dist(q, qsq, nb);
      if (top.size() < ef || d < lower) {
        cand_push({d, nb});
      }
      routing = static_cast<double>(++routed_count) < routed_budget;
    }
  };
  for (;;) {
    if (ncand == 0) {
      if (stranded || top.size() >= ef || expanded.empty()) break;
      stranded = routing = true;
      routed_budget = static_cast<double>(routed_count) + stranded_routes;
      for (std::uint32_t u : expanded) {
        const std::uint32_t* l = links(u, 0);
        filter.pass_many(l + 1, l[0], passes);
        route_through(l, passes);
      }
      expanded.clear();
      sparse = false;  // the walk goes somewhere else: choose the regime there
      seen = seen_passing = expansions = 0;
      if (ncand == 0) break;
    }
    const Cand c = cand[0];
    if (c.first > lower && top.size() >= ef) break;
    std::pop_heap(cand, cand + ncand, Farther{});
    --ncand;
    if (!stranded) expanded.push_back(c.second);
    // The neighbours that pass are scored; the unvisited failing ones are
    // kept, in link order, for the two-hop step.
    nbatch = 0;
    std::size_t nfail = 0, npass = 0;
    const std::uint32_t* l = links(c.second, 0);
    const std::uint32_t cnt = l[0];
    filter.pass_many(l + 1, cnt, passes);
    for (std::uint32_t j = 1; j <= cnt; ++j) {
      const std::uint32_t nb = l[j];
      const bool ok = passes[j - 1] != 0;
      npass += ok;
      if (tag[nb] == epoch) continue;
      if (!ok) {
        failing[nfail++] = nb;
        continue;
      }
      tag[nb] = epoch;
      batch[nbatch++] = nb;
      const char* r = static_cast<const char*>(index_.walk_row(nb));
      __builtin_prefetch(r);
      __builtin_prefetch(r + 64);
    }
    if (!sparse && expansions < kRegimeExpansions) {
      ++expansions;
      seen += cnt;
      seen_passing += npass;
      sparse = static_cast<double>(seen_passing) * kSparseFactor < static_cast<double>(seen) * filter.pass_fraction;
      if (sparse && !stranded) {
        routing = true;
        routed_budget = kSparseRouteShare * static_cast<double>(M0_);
      }
    }
    if (routing) route_through(l, passes);
    if (!sparse) {  // dense: two hops only from a node with fewer than 2M/4 passing neighbours, through a few
      // (Relative to the node's degree, 4 * npass < cnt, was 0.97x / 0.86x of the
      // unfiltered P50 at random 10% / 50% instead of 1.2x / 1.3x, but lost
      // recall on low-degree nodes: 0.936 at 60% pass on 32-d data, test_hnsw.)
      if (npass >= M0_ / 4) nfail = 0;
      nfail = std::min(nfail, kDenseHopsPerNode);
    }
    // The lists the two-hop step reads ((M0 + 1) x 4 bytes: up to three cache
    // lines) are fetched while the direct neighbours are scored.
    for (std::size_t j = 0; j < nfail; ++j) {
      const char* ln = reinterpret_cast<const char*>(links(failing[j], 0));
      for (std::size_t b = 0; b < (M0_ + 1) * sizeof(std::uint32_t); b += 64) __builtin_prefetch(ln + b);
    }
    for (std::size_t i = 0; i < nbatch; ++i) offer(dist(q, qsq, batch[i]), batch[i]);
    const std::size_t direct = nbatch;
    // Two hops (ACORN-1) until a full neighbourhood (2M) is collected: a
    // failing neighbour is expanded once and never scored. (A cap at M lost
    // recall on anti-correlated labels at 100k: 0.934.)
    const std::size_t two_hop_below = M0_;
    for (std::size_t j = 0; j < nfail && nbatch < two_hop_below; ++j) {
      const std::uint32_t nb = failing[j];
      if (tag[nb] == epoch) continue;
      tag[nb] = epoch;
      const std::uint32_t* l2 = links(nb, 0);
      filter.pass_many(l2 + 1, l2[0], passes);
      for (std::uint32_t i = 1; i <= l2[0] && nbatch < two_hop_below; ++i) {
        const std::uint32_t nb2 = l2[i];
        if (!passes[i - 1] || tag[nb2] == epoch) continue;
        tag[nb2] = epoch;
        batch[nbatch++] = nb2;
      }
    }
    for (std::size_t i = direct; i < nbatch; ++i) {
      const char* r = static_cast<const char*>(index_.walk_row(batch[i]));
      __builtin_prefetch(r);
      __builtin_prefetch(r + 64);
    }
    for (std::size_t i = direct; i < nbatch; ++i) offer(dist(q, qsq, batch[i]), batch[i]);
    if (ncand) __builtin_prefetch(links(cand[0].second, 0));
  }
  std::sort_heap(top.begin(), top.end(), Closer{});
  result.assign(top.begin(), top.end());
}

// ---------------------------------------------------------------- persistence
void Hnsw::serialize(ByteWriter& out) const {
  out.put<std::uint64_t>(entry_);
  out.put<std::int64_t>(max_level_);
  out.put<std::uint64_t>(M_);
  out.put<std::uint64_t>(levels_.size());
  out.array(levels_);
  out.array(l0_);
  for (std::size_t i = 0; i < levels_.size(); ++i) out.array(upper_[i]);
}

std::size_t Hnsw::deserialize(const unsigned char* p, const unsigned char* end, std::size_t nodes) {
  ByteReader in(p, static_cast<std::size_t>(end - p), "vector index file: HNSW graph is truncated");
  const auto entry = in.get<std::uint64_t>();
  const auto maxl = in.get<std::int64_t>();
  const auto m = in.get<std::uint64_t>();
  const auto n = in.get<std::uint64_t>();
  if (m != M_ || n != nodes || maxl < -1 || maxl > 30 || (n > 0 && entry >= n))
    throw CorruptFile("vector index file: inconsistent HNSW header");
  in.array(levels_, n);
  in.array(l0_, n * (M0_ + 1));
  advise_level0();
  upper_.assign(n, {});
  for (std::size_t i = 0; i < n; ++i) {
    if (levels_[i] > 30) throw CorruptFile("vector index file: bad HNSW level");
    in.array(upper_[i], static_cast<std::size_t>(levels_[i]) * (M_ + 1));
  }
  // Validate links so that a damaged file cannot send a search out of bounds.
  for (std::size_t i = 0; i < n; ++i) {
    for (int l = 0; l <= levels_[i]; ++l) {
      const std::uint32_t* ln = links(static_cast<std::uint32_t>(i), l);
      if (ln[0] > cap(l)) throw CorruptFile("vector index file: bad HNSW link count");
      for (std::uint32_t j = 1; j <= ln[0]; ++j)
        if (ln[j] >= n || levels_[ln[j]] < l) throw CorruptFile("vector index file: bad HNSW link");
    }
  }
  entry_ = static_cast<std::uint32_t>(entry);
  max_level_ = static_cast<int>(maxl);
  if (n > 0 && (max_level_ < 0 || levels_[entry_] != max_level_))
    throw CorruptFile("vector index file: bad HNSW entry point");
  return in.position();
}

}  // namespace si::vn
