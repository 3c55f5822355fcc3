// CUDA twin of the batched alignment scores (see dp_cuda.hpp): AlignPlan
// (layout on the host, constants on the device), its stream-ordered launch
// (gather targets into the team layout, DPX wavefront kernel, scatter scores),
// the host twin running the same per-thread code, and align_scores on host
// arrays built on the plan.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu_accelerator/dp/dp_align_common.hpp"
#include "gpu_accelerator/dp/dp_cells.cuh"
#include "gpu_accelerator/dp/dp_cuda.hpp"
#include "gpu_accelerator/dp/dp_cuda_common.cuh"

namespace si::dp::gpu {
namespace {

using namespace si::dp::cuda_cells;
using namespace si::dp::gpu::detail;

// ------------------------------------------------------------------ alignment
// A team of `team` threads (a power of two <= 32, within one warp) aligns the
// same target(s): thread k of the team holds query rows [k*R, (k+1)*R) of the
// current pass in registers and runs one column behind thread k-1, receiving
// the tile boundary (H and F of the row above) through a warp shuffle
// (the intra-warp wavefront of CUDASW++). Queries longer than team*R rows take
// several passes, the last thread handing its row to the next pass through
// global memory. With S16x2 each team aligns two targets at once.
constexpr int kRows = 32;      // query rows per thread (register tile)
constexpr int kPad = -16000;   // score of the padding residue (query tail, target tail)

struct AlignArgs {
  const int* S;  // KK x KK, KK = K + 1 (row/column K: padding)
  int KK;
  const std::uint8_t* q;  // m_pad codes, padded with K
  int m, m_pad;           // m_pad: multiple of team * R
  int team;               // threads per team
  int open, ext;
  const std::uint8_t* res;  // per group: [maxlen][slots], slots = (32 / team) * lanes
  const long long* res_off;
  const int* lengths;  // per slot
  const int* gmax;     // per group: longest target
  void* rowH;
  void* rowF;  // per group: [maxlen][32 / team] of V::T (pass-to-pass rows)
  const long long* row_off;
  int* out;  // per slot
  int ngroups;
};

template <class V, int R, bool G>
struct Tile {
  using T = typename V::T;
  T H[R], E[R];
  int qc[R];
  T hup_prev;
  int rsel;  // row of this tile that is the query's last row, or -1
  T best;
  int captured[2];

  SI_HD void init() {
    best = V::splat(0);
    captured[0] = captured[1] = 0;
  }
  SI_HD void start(const AlignArgs& a, int i0) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      qc[r] = a.q[i0 + r];
      H[r] = G ? V::splat(-(a.open + (i0 + r) * a.ext)) : V::splat(0);
      E[r] = V::splat(V::kNeg);
    }
    hup_prev = G ? V::splat(i0 == 0 ? 0 : -(a.open + (i0 - 1) * a.ext)) : V::splat(0);
    rsel = (G && a.m - 1 >= i0 && a.m - 1 < i0 + R) ? a.m - 1 - i0 : -1;
  }
  // Column j of this tile, given H and F of the row above it; returns the
  // tile's last row (H, F) for the tile below.
  SI_HD void column(const AlignArgs& a, const int* S, const std::uint8_t* tc, int j, const int* len, T hup, T fup,
                    T& out_h, T& out_f) {
    const T nopen = V::splat(-a.open), next = V::splat(-a.ext);
    T f = V::addmax(hup, nopen, V::add(fup, next));  // F of the tile's first row
    T diag = hup_prev;
    hup_prev = hup;
    T flast = f, hcap = V::splat(0);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const T s = V::score(S, a.KK, qc[r], tc);
      flast = f;
      const T hold = H[r];
      const T h = align_cell<V, G>(diag, s, H[r], E[r], f, nopen, next);
      diag = hold;
      if (!G) best = V::max2(best, h);
      if (G && r == rsel) hcap = h;
    }
    out_h = H[R - 1];
    out_f = flast;
    if (G && rsel >= 0)
      for (int k = 0; k < V::kLanes; ++k)
        if (j == len[k] - 1) captured[k] = V::lane(hcap, k);
  }
};

// Where team member k of group g finds its data.
template <class V>
struct TeamView {
  using T = typename V::T;
  const int* len;
  const std::uint8_t* res;
  T* rowH;
  T* rowF;
  int* out;
  int slots, teams, mylen, glen;
  SI_HD TeamView(const AlignArgs& a, int g, int tm) {
    constexpr int L = V::kLanes;
    teams = 32 / a.team;
    slots = teams * L;
    len = a.lengths + static_cast<long long>(g) * slots + tm * L;
    mylen = len[0] > len[L - 1] ? len[0] : len[L - 1];
    glen = a.gmax[g];
    res = a.res + a.res_off[g] + tm * L;
    rowH = static_cast<T*>(a.rowH) + a.row_off[g] + tm;
    rowF = static_cast<T*>(a.rowF) + a.row_off[g] + tm;
    out = a.out + static_cast<long long>(g) * slots + tm * L;
  }
  SI_HD const std::uint8_t* column(int j) const { return res + static_cast<long long>(j) * slots; }
  // H and F above the first row of a pass: the boundary row, or the previous pass's last row.
  SI_HD void above(const AlignArgs& a, int pass, int j, bool global, T& h, T& f) const {
    if (pass == 0) {
      h = global ? V::splat(-(a.open + j * a.ext)) : V::splat(0);
      f = V::splat(V::kNeg);
    } else {
      h = rowH[static_cast<long long>(j) * teams];
      f = rowF[static_cast<long long>(j) * teams];
    }
  }
  SI_HD void hand_over(int j, T h, T f) const {
    rowH[static_cast<long long>(j) * teams] = h;
    rowF[static_cast<long long>(j) * teams] = f;
  }
};

template <class V, int R, bool G>
__global__ void align_kernel(AlignArgs a) {
  using T = typename V::T;
  extern __shared__ int S[];
  for (int i = threadIdx.x; i < a.KK * a.KK; i += blockDim.x) S[i] = a.S[i];
  __syncthreads();
  const int g = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (g >= a.ngroups) return;  // whole warps leave together
  const int lane = threadIdx.x % 32, tm = lane / a.team, k = lane % a.team;
  const TeamView<V> v(a, g, tm);
  Tile<V, R, G> tile;
  tile.init();
  const int passes = a.m_pad / (a.team * R);
  for (int pass = 0; pass < passes; ++pass) {
    tile.start(a, (pass * a.team + k) * R);
    T send_h = V::splat(0), send_f = V::splat(V::kNeg);
    __syncwarp();
    for (int step = 0; step < v.glen + a.team - 1; ++step) {
      const T recv_h = __shfl_up_sync(0xffffffffu, send_h, 1, a.team);
      const T recv_f = __shfl_up_sync(0xffffffffu, send_f, 1, a.team);
      const int j = step - k;
      if (j >= 0 && j < v.mylen) {
        T hup = recv_h, fup = recv_f;
        if (k == 0) v.above(a, pass, j, G, hup, fup);
        tile.column(a, S, v.column(j), j, v.len, hup, fup, send_h, send_f);
        if (k == a.team - 1 && pass + 1 < passes) v.hand_over(j, send_h, send_f);
      }
    }
    __syncwarp();
  }
  if (!G) {
    for (int o = a.team / 2; o > 0; o >>= 1) tile.best = V::max2(tile.best, __shfl_down_sync(0xffffffffu, tile.best, o, a.team));
    if (k == 0)
      for (int l = 0; l < V::kLanes; ++l) v.out[l] = V::lane(tile.best, l);
  } else if (tile.rsel >= 0) {
    for (int l = 0; l < V::kLanes; ++l) v.out[l] = tile.captured[l];
  }
}

// The same teams on the host: threads of a team run in order within each
// step, and a shuffle is a read of the previous step's values.
template <class V, int R, bool G>
void align_host(const AlignArgs& a) {
  using T = typename V::T;
  const int team = a.team, passes = a.m_pad / (team * R);
  std::vector<Tile<V, R, G>> tiles(team);
  std::vector<T> send_h(team), send_f(team), prev_h(team), prev_f(team);
  for (int g = 0; g < a.ngroups; ++g) {
    for (int tm = 0; tm < 32 / team; ++tm) {
      const TeamView<V> v(a, g, tm);
      for (auto& t : tiles) t.init();
      for (int pass = 0; pass < passes; ++pass) {
        for (int k = 0; k < team; ++k) {
          tiles[k].start(a, (pass * team + k) * R);
          send_h[k] = V::splat(0);
          send_f[k] = V::splat(V::kNeg);
        }
        for (int step = 0; step < v.glen + team - 1; ++step) {
          prev_h = send_h;
          prev_f = send_f;
          for (int k = 0; k < team; ++k) {
            const int j = step - k;
            if (j < 0 || j >= v.mylen) continue;
            T hup = k ? prev_h[k - 1] : T{}, fup = k ? prev_f[k - 1] : T{};
            if (k == 0) v.above(a, pass, j, G, hup, fup);
            tiles[k].column(a, a.S, v.column(j), j, v.len, hup, fup, send_h[k], send_f[k]);
            if (k == team - 1 && pass + 1 < passes) v.hand_over(j, send_h[k], send_f[k]);
          }
        }
      }
      if (!G) {
        T best = tiles[0].best;
        for (int k = 1; k < team; ++k) best = V::max2(best, tiles[k].best);
        for (int l = 0; l < V::kLanes; ++l) v.out[l] = V::lane(best, l);
      } else {
        for (int k = 0; k < team; ++k)
          if (tiles[k].rsel >= 0)
            for (int l = 0; l < V::kLanes; ++l) v.out[l] = tiles[k].captured[l];
      }
    }
  }
}


// ------------------------------------------------------------------ gather / scatter
// Before the DP: each team slot's target, read from the caller's packed bytes,
// mapped to residue codes and written column by column into its group's
// layout (res[res_off[g] + j * slots + s]), padded past its end.
struct GatherArgs {
  const std::uint8_t* targets;
  const long long* src_off;  // per slot: byte offset of its target
  const int* lengths;        // per slot (0 for unused slots)
  const int* gmax;           // per group: longest target
  const long long* res_off;  // per group
  const int* code;           // 256 entries: residue code or -1
  std::uint8_t* res;
  int slots;  // slots per group
  int pad;    // padding residue (K)
};

SI_HD void gather_slot(const GatherArgs& a, long long k, int* status) {
  const long long g = k / a.slots;
  const int s = static_cast<int>(k % a.slots), len = a.lengths[k], glen = a.gmax[g];
  const std::uint8_t* src = a.targets + a.src_off[k];
  std::uint8_t* dst = a.res + a.res_off[g] + s;
  for (int j = 0; j < glen; ++j) {
    int c = a.pad;
    if (j < len) {
      c = a.code[src[j]];
      if (c < 0) {
        flag(status, kStatusBadResidue);
        c = a.pad;
      }
    }
    dst[static_cast<long long>(j) * a.slots] = static_cast<std::uint8_t>(c);
  }
}

// After the DP: score i comes from its slot, or is a constant of the plan
// (an empty query or target).
struct ScatterArgs {
  const long long* out_src;  // per target: slot, or -1
  const int* fixed;          // per target: score when out_src < 0
  const int* slot_scores;
  std::int32_t* scores;
};

SI_HD void scatter_one(const ScatterArgs& a, long long i) {
  const long long k = a.out_src[i];
  a.scores[i] = k >= 0 ? a.slot_scores[k] : a.fixed[i];
}

__global__ void gather_kernel(GatherArgs a, long long nslots, int* status) {
  const long long k = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < nslots) gather_slot(a, k, status);
}

__global__ void scatter_kernel(ScatterArgs a, long long n) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) scatter_one(a, i);
}

// ------------------------------------------------------------------ the plan's data
// Constant arrays of a plan, computed on the host.
struct PlanHost {
  std::vector<int> S;  // KK x KK, row/column K: padding
  std::vector<std::uint8_t> q;  // m_pad codes, padded with K
  std::vector<long long> res_off, row_off;  // per group + 1
  std::vector<int> gmax;                    // per group
  std::vector<int> lengths;                 // per slot
  std::vector<long long> src_off;           // per slot
  std::vector<long long> out_src;           // per target
  std::vector<int> fixed;                   // per target
  std::vector<int> code;                    // 256
};

// Their device copies (uploaded once, when the plan is made).
struct PlanDevice {
  DeviceBuffer<int> S, gmax, lengths, fixed, code;
  DeviceBuffer<std::uint8_t> q;
  DeviceBuffer<long long> res_off, row_off, src_off, out_src;
  explicit PlanDevice(const PlanHost& h)
      : S(h.S.data(), h.S.size()), gmax(h.gmax.data(), h.gmax.size()), lengths(h.lengths.data(), h.lengths.size()),
        fixed(h.fixed.data(), h.fixed.size()), code(h.code.data(), h.code.size()), q(h.q.data(), h.q.size()),
        res_off(h.res_off.data(), h.res_off.size()), row_off(h.row_off.data(), h.row_off.size()),
        src_off(h.src_off.data(), h.src_off.size()), out_src(h.out_src.data(), h.out_src.size()) {}
};

// Pointers to one copy (host or device) of the constant arrays.
struct PlanTables {
  const int *S, *gmax, *lengths, *fixed, *code;
  const std::uint8_t* q;
  const long long *res_off, *row_off, *src_off, *out_src;
};

PlanTables tables_of(const PlanHost& h) {
  return {h.S.data(), h.gmax.data(), h.lengths.data(), h.fixed.data(), h.code.data(), h.q.data(),
          h.res_off.data(), h.row_off.data(), h.src_off.data(), h.out_src.data()};
}

PlanTables tables_of(const PlanDevice& d) {
  return {d.S.ptr, d.gmax.ptr, d.lengths.ptr, d.fixed.ptr, d.code.ptr, d.q.ptr,
          d.res_off.ptr, d.row_off.ptr, d.src_off.ptr, d.out_src.ptr};
}

// The per-launch workspace: residue layout, pass-to-pass rows, slot scores.
struct PlanWork {
  std::uint8_t* res;
  void* rowH;
  void* rowF;
  int* slot_scores;
};

template <class V, bool G>
void launch_align_kernel(const AlignArgs& a, StreamHandle stream) {
  constexpr int kWarps = 4;
  const unsigned blocks = grid_for(static_cast<std::size_t>(a.ngroups), kWarps, "alignment");
  align_kernel<V, kRows, G><<<blocks, kWarps * 32, a.KK * a.KK * sizeof(int), stream>>>(a);
  after_launch("alignment kernel launch");
}

void check_gpu_alphabet(const AlignParams& p) {
  if (p.alphabet_size > 64)
    throw std::invalid_argument("the GPU alignment kernel supports alphabets of up to 64 letters, got " +
                                std::to_string(p.alphabet_size));
}

}  // namespace

bool s16x2_safe(const AlignParams& p, std::size_t m, std::size_t max_n) {
  std::int64_t smax = 0, smin = 0;
  for (int i = 0; i < p.alphabet_size * p.alphabet_size; ++i) {
    smax = std::max<std::int64_t>(smax, p.matrix[i]);
    smin = std::min<std::int64_t>(smin, p.matrix[i]);
  }
  if (p.gap_open > 16000 || p.gap_extend > 16000) return false;
  const std::int64_t mn = static_cast<std::int64_t>(std::min(m, max_n));
  if ((mn + 1) * smax >= 16000) return false;  // diag + s and diag + padding stay in int16
  if (p.global) {
    const std::int64_t m_pad = static_cast<std::int64_t>(m) + 32 * kRows;
    const std::int64_t b = 3 * std::int64_t(p.gap_open) + (m_pad + std::int64_t(max_n) + 1) * p.gap_extend - smin + 1;
    if (b >= 16000) return false;
  }
  return true;
}

// ------------------------------------------------------------------ AlignPlan
struct AlignPlan::Impl {
  PlanHost h;
  std::unique_ptr<PlanDevice> dev;
  AlignArgs args{};  // sizes and gaps; pointers are bound per run
  bool use16 = false, global = false;
  std::string variant;
  std::size_t n = 0, target_bytes = 0, nslots = 0;
  int slots = 1;
  std::size_t off_rowH = 0, off_rowF = 0, off_out = 0, ws_bytes = 0;

  void layout(const AlignParams& p, const std::vector<std::uint8_t>& q, const std::int64_t* offsets);
  void plan_workspace();
  PlanWork work_of(void* ws) const {
    auto* base = static_cast<unsigned char*>(ws);
    return {base, base + off_rowH, base + off_rowF, reinterpret_cast<int*>(base + off_out)};
  }
  AlignArgs args_of(const PlanTables& t, const PlanWork& w) const {
    AlignArgs a = args;
    a.S = t.S;
    a.q = t.q;
    a.res = w.res;
    a.res_off = t.res_off;
    a.lengths = t.lengths;
    a.gmax = t.gmax;
    a.rowH = w.rowH;
    a.rowF = w.rowF;
    a.row_off = t.row_off;
    a.out = w.slot_scores;
    return a;
  }
  GatherArgs gather_of(const PlanTables& t, const PlanWork& w, const std::uint8_t* targets) const {
    return {targets, t.src_off, t.lengths, t.gmax, t.res_off, t.code, w.res, slots, args.KK - 1};
  }
  ScatterArgs scatter_of(const PlanTables& t, const PlanWork& w, std::int32_t* scores) const {
    return {t.out_src, t.fixed, w.slot_scores, scores};
  }
};

// Sorts the non-empty pairs by target length into groups of `slots` team
// slots, and computes every constant array of the plan.
void AlignPlan::Impl::layout(const AlignParams& p, const std::vector<std::uint8_t>& q, const std::int64_t* offsets) {
  const std::size_t m = q.size();
  auto tlen = [&](std::size_t i) { return static_cast<std::size_t>(offsets[i + 1] - offsets[i]); };
  std::vector<std::size_t> order;
  h.out_src.assign(n, -1);
  h.fixed.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (m == 0 || tlen(i) == 0)
      h.fixed[i] = si::dp::detail::align_pair32(p, q.data(), m, nullptr, tlen(i));  // depends on the lengths only
    else
      order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return tlen(x) > tlen(y); });
  const int K = p.alphabet_size, KK = K + 1;
  int team = 1;
  while (team < 32 && static_cast<std::size_t>(team) * kRows < m) team *= 2;
  const int teams = 32 / team;
  slots = teams * (use16 ? 2 : 1);
  const int ngroups = static_cast<int>((order.size() + slots - 1) / slots);
  nslots = static_cast<std::size_t>(ngroups) * slots;
  h.S.assign(static_cast<std::size_t>(KK) * KK, kPad);
  for (int x = 0; x < K; ++x)
    for (int y = 0; y < K; ++y) h.S[x * KK + y] = p.matrix[x * K + y];
  const std::size_t pass_rows = static_cast<std::size_t>(team) * kRows;
  const int m_pad = static_cast<int>((m + pass_rows - 1) / pass_rows * pass_rows);
  h.q.assign(std::max(m_pad, 1), static_cast<std::uint8_t>(K));
  std::copy(q.begin(), q.end(), h.q.begin());
  h.res_off.assign(ngroups + 1, 0);
  h.row_off.assign(ngroups + 1, 0);
  h.gmax.assign(ngroups, 0);
  for (int g = 0; g < ngroups; ++g) {
    const std::size_t maxlen = tlen(order[static_cast<std::size_t>(g) * slots]);
    h.gmax[g] = static_cast<int>(maxlen);
    h.res_off[g + 1] = h.res_off[g] + static_cast<long long>(maxlen) * slots;
    h.row_off[g + 1] = h.row_off[g] + static_cast<long long>(maxlen) * teams;
  }
  h.lengths.assign(nslots, 0);
  h.src_off.assign(nslots, 0);
  for (std::size_t k = 0; k < order.size(); ++k) {
    h.lengths[k] = static_cast<int>(tlen(order[k]));
    h.src_off[k] = offsets[order[k]];
    h.out_src[order[k]] = static_cast<long long>(k);
  }
  args.KK = KK;
  args.m = static_cast<int>(m);
  args.m_pad = m_pad;
  args.team = team;
  args.open = p.gap_open;
  args.ext = p.gap_extend;
  args.ngroups = ngroups;
}

void AlignPlan::Impl::plan_workspace() {
  if (nslots == 0) return;  // nothing for the DP kernel: no workspace
  const std::size_t row_elems = static_cast<std::size_t>(h.row_off.back());
  off_rowH = align_up(static_cast<std::size_t>(h.res_off.back()));
  off_rowF = off_rowH + align_up(row_elems * sizeof(int));  // S32::T and S16x2::T are 4 bytes
  off_out = off_rowF + align_up(row_elems * sizeof(int));
  ws_bytes = off_out + align_up(nslots * sizeof(int));
}

AlignPlan::AlignPlan(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query, std::size_t m,
                     const std::int64_t* offsets, std::size_t n_targets, Precision precision, int device)
    : impl_(std::make_unique<Impl>()) {
  Impl& I = *impl_;
  check_gpu_alphabet(p);
  const std::size_t max_n = check_batch(p, code_of, m, offsets, n_targets);
  const std::vector<std::uint8_t> q = encode_sequence(code_of, query, m, "query");
  const bool safe16 = s16x2_safe(p, m, max_n);
  if (precision == Precision::s16x2 && !safe16)
    throw std::invalid_argument("precision 's16x2' could overflow int16 for these lengths and scores; use 's32'");
  I.global = p.global;
  I.use16 = precision == Precision::s16x2 || (precision == Precision::automatic && safe16);
  I.variant = I.use16 ? "s16x2" : "s32";
  I.n = n_targets;
  I.target_bytes = n_targets ? static_cast<std::size_t>(offsets[n_targets]) : 0;
  if (n_targets > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument("alignment: too many targets for one launch");
  I.layout(p, q, offsets);
  I.h.code.assign(code_of, code_of + 256);
  I.plan_workspace();
  if (device >= 0) {
    require_device();
    si::gpu::cuda::use_device(device);
    I.dev = std::make_unique<PlanDevice>(I.h);
    // A copy from pageable memory may still be in flight when cudaMemcpy returns, and
    // launches on non-blocking streams do not wait for the legacy stream.
    check(cudaDeviceSynchronize(), "alignment plan upload");
  }
}

AlignPlan::~AlignPlan() = default;

std::size_t AlignPlan::n_targets() const { return impl_->n; }
std::size_t AlignPlan::target_bytes() const { return impl_->target_bytes; }
std::size_t AlignPlan::workspace_bytes() const { return impl_->ws_bytes; }
const std::string& AlignPlan::variant() const { return impl_->variant; }
int AlignPlan::team() const { return impl_->args.team; }
bool AlignPlan::on_device() const { return impl_->dev != nullptr; }

void AlignPlan::launch(const std::uint8_t* targets, std::int32_t* scores, void* workspace, std::size_t workspace_bytes,
                       int* status, StreamHandle stream) const {
  const Impl& I = *impl_;
  if (!I.dev) throw std::invalid_argument("this alignment plan was made for the host (device=False); it cannot launch");
  need_workspace(workspace, workspace_bytes, I.ws_bytes, "alignment");
  if (I.n == 0) return;
  const PlanTables t = tables_of(*I.dev);
  const PlanWork w = I.work_of(workspace);
  if (I.nslots) {
    gather_kernel<<<grid_for(I.nslots, 128, "alignment"), 128, 0, stream>>>(I.gather_of(t, w, targets),
                                                                            static_cast<long long>(I.nslots), status);
    after_launch("alignment gather kernel launch");
    const AlignArgs a = I.args_of(t, w);
    if (I.use16)
      I.global ? launch_align_kernel<S16x2, true>(a, stream) : launch_align_kernel<S16x2, false>(a, stream);
    else
      I.global ? launch_align_kernel<S32, true>(a, stream) : launch_align_kernel<S32, false>(a, stream);
  }
  scatter_kernel<<<grid_for(I.n, 256, "alignment"), 256, 0, stream>>>(I.scatter_of(t, w, scores),
                                                                      static_cast<long long>(I.n));
  after_launch("alignment scatter kernel launch");
}

void AlignPlan::run_host(const std::uint8_t* targets, std::int32_t* scores, int* status) const {
  const Impl& I = *impl_;
  std::vector<unsigned char> ws(std::max<std::size_t>(I.ws_bytes, 1));
  const PlanTables t = tables_of(I.h);
  const PlanWork w = I.work_of(ws.data());
  if (I.nslots) {
    const GatherArgs g = I.gather_of(t, w, targets);
    for (std::size_t k = 0; k < I.nslots; ++k) gather_slot(g, static_cast<long long>(k), status);
    const AlignArgs a = I.args_of(t, w);
    if (I.use16)
      I.global ? align_host<S16x2, kRows, true>(a) : align_host<S16x2, kRows, false>(a);
    else
      I.global ? align_host<S32, kRows, true>(a) : align_host<S32, kRows, false>(a);
  }
  const ScatterArgs sc = I.scatter_of(t, w, scores);
  for (std::size_t i = 0; i < I.n; ++i) scatter_one(sc, static_cast<long long>(i));
}

// ------------------------------------------------------------------ host arrays
AlignRun align_scores(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query, std::size_t m,
                      const std::uint8_t* targets, const std::int64_t* offsets, std::size_t n_targets,
                      Precision precision, bool device) {
  check_gpu_alphabet(p);
  encode_batch(p, code_of, query, m, targets, offsets, n_targets);  // names a bad byte before any CUDA call
  const AlignPlan plan(p, code_of, query, m, offsets, n_targets, precision, device ? 0 : -1);
  AlignRun run;
  run.variant = plan.variant();
  run.team = plan.team();
  run.scores.assign(n_targets, 0);
  if (!device) {
    plan.run_host(targets, run.scores.data(), nullptr);
    return run;
  }
  if (n_targets == 0) return run;
  DeviceBuffer<std::uint8_t> dtargets(targets, plan.target_bytes());
  DeviceBuffer<std::int32_t> dscores(n_targets);
  DeviceBuffer<unsigned char> dws(plan.workspace_bytes());
  Timer timer;
  plan.launch(dtargets.ptr, dscores.ptr, dws.ptr, dws.count, nullptr, nullptr);
  run.kernel_ms = timer.stop();
  dscores.download(run.scores.data());
  return run;
}

}  // namespace si::dp::gpu
