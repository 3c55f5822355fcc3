// Old vs new kernel tables in one process: each case alternates the two
// (the order swapped every repeat), and reports the median and the best of
// the per-repeat times. Built and run by kernel_ab.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/vector_kernels.hpp"
#include "gpu_accelerator/dp/dp_align.hpp"
#include "kernel_ab.hpp"

namespace si::vn {  // the old vn kernels' spelling of the half conversion
float f16_to_f32(std::uint16_t h) { return si::simd::f16_to_f32(h); }
}  // namespace si::vn

namespace {

KernelFns new_kernels(si::simd::Level level) {
  const auto& v = si::simd::vector_kernels(level);
  const auto& f = si::simd::f64_kernel_set().at(level);
  const auto& a = si::dp::align_kernel_set().at(level);
  return {v.dot,        v.dot_rows,    v.l2sq_rows,  v.dot_tile, v.panel_rows, v.panel_queries,
          v.panel_tile, v.qk_block,    v.dot_f16_rows, v.dot_i8_rows, f.dot, f.symv, f.rank1, a.lanes, &a};
}

double time_us(const std::function<void()>& fn) {
  const auto t = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count();
}

void ab(const char* level, const char* name, int reps, const std::function<void(const KernelFns&)>& body,
        const KernelFns& old_k, const KernelFns& new_k) {
  std::vector<double> t[2];
  body(old_k);
  body(new_k);
  for (int r = 0; r < reps; ++r)
    for (int i = 0; i < 2; ++i) {
      const int w = (r + i) % 2;  // 0 old, 1 new; the order alternates
      t[w].push_back(time_us([&] { body(w ? new_k : old_k); }));
    }
  for (auto& v : t) std::sort(v.begin(), v.end());
  const double mo = t[0][reps / 2], mn = t[1][reps / 2];
  std::printf("| %s | %s | %.1f | %.1f | %.3f | %.1f | %.1f | %.3f |\n", level, name, mo, mn, mn / mo, t[0][0], t[1][0],
              t[1][0] / t[0][0]);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 41;
  std::mt19937 g(1);
  std::normal_distribution<float> d;
  auto randn = [&](std::size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
  };
  const std::size_t dim = 384, big = 20000, small = 512;
  const auto rows = randn(big * dim), q = randn(16 * dim);
  std::vector<std::uint16_t> h(small * dim);
  std::vector<std::int8_t> c(small * dim);
  for (std::size_t i = 0; i < h.size(); ++i) {
    h[i] = si::simd::f32_to_f16(rows[i]);
    c[i] = static_cast<std::int8_t>(static_cast<int>(i * 37 % 255) - 127);
  }
  std::vector<float> scale(small, 0.01f), out(16 * big), kt(dim * si::simd::kKeyBlock);
  si::simd::pack_columns(rows.data(), si::simd::kKeyBlock, dim, si::simd::kKeyBlock, kt.data());
  std::vector<double> A(64 * 64), x(64), y(64);
  for (auto& v : A) v = d(g);
  for (auto& v : x) v = d(g);
  // Smith-Waterman groups: a 250-residue query against targets of 300 (BLOSUM-like random matrix).
  const int K = 20;
  std::vector<std::int8_t> matrix(K * K);
  for (auto& m : matrix) m = static_cast<std::int8_t>(static_cast<int>(g() % 15) - 4);
  std::vector<std::uint8_t> query(250), residues(300 * 32);
  for (auto& r : query) r = static_cast<std::uint8_t>(g() % K);
  for (auto& r : residues) r = static_cast<std::uint8_t>(g() % K);
  std::vector<std::int32_t> lengths(32, 300), scores(32);
  std::vector<std::uint8_t> overflow(32);
  std::vector<std::int16_t> scratch(2 * 250 * 32 + 64);

  std::printf("| level | kernel | old median (us) | new median | new/old | old best | new best | new/old, best |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (si::simd::Level level : si::simd::available_levels()) {
    if (level == si::simd::Level::scalar) continue;
    const char* ln = si::simd::level_name(level);
    const KernelFns o = old_kernels(static_cast<int>(level)), n = new_kernels(level);
    ab(ln, "dot_rows 512 x 384 (L2)", reps, [&](const KernelFns& k) { k.dot_rows(q.data(), rows.data(), small, dim, dim, out.data()); }, o, n);
    ab(ln, "l2sq_rows 512 x 384 (L2)", reps, [&](const KernelFns& k) { k.l2sq_rows(q.data(), rows.data(), small, dim, dim, out.data()); }, o, n);
    ab(ln, "dot_tile 1 query x 20k x 384 (memory)", std::max(5, reps / 4), [&](const KernelFns& k) {
      for (std::size_t b = 0; b < big; b += 256) k.dot_tile(q.data(), 1, rows.data() + b * dim, std::min<std::size_t>(256, big - b), dim, out.data(), 256);
    }, o, n);
    ab(ln, "dot_tile 4 queries x 512 x 384", reps, [&](const KernelFns& k) { k.dot_tile(q.data(), 4, rows.data(), small, dim, out.data(), small); }, o, n);
    ab(ln, "panel_tile full group x 64 panels x 384", reps, [&](const KernelFns& k) {
      const float thr[16] = {1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f, 1e30f};
      for (std::size_t p = 0; p < 64; ++p)
        k.panel_tile(q.data(), k.panel_queries, rows.data() + p * k.panel_rows * dim, dim, thr, out.data());
    }, o, n);
    ab(ln, "qk_block 16 x 128 keys x 384", reps, [&](const KernelFns& k) { k.qk_block(q.data(), 16, dim, kt.data(), 128, out.data(), 128); }, o, n);
    ab(ln, "dot_f16_rows 512 x 384", reps, [&](const KernelFns& k) { k.dot_f16_rows(q.data(), h.data(), small, dim, out.data()); }, o, n);
    ab(ln, "dot_i8_rows 512 x 384", reps, [&](const KernelFns& k) { k.dot_i8_rows(q.data(), c.data(), scale.data(), small, dim, out.data()); }, o, n);
    ab(ln, "f64 dot + symv + rank1, n = 64 (x100)", reps, [&](const KernelFns& k) {
      for (int i = 0; i < 100; ++i) {
        k.symv(A.data(), x.data(), 64, y.data());
        k.rank1(A.data(), y.data(), 1e-9 * k.ddot(x.data(), y.data(), 64), 64);
      }
    }, o, n);
    for (bool global : {false, true}) {
      ab(ln, global ? "alignment group, NW 250 x 300" : "alignment group, SW 250 x 300", std::max(5, reps / 2), [&](const KernelFns& k) {
        const auto* t = static_cast<const si::dp::AlignKernels*>(k.align_table);
        si::dp::AlignParams p;
        p.alphabet_size = K;
        p.matrix = matrix.data();
        p.global = global;
        si::dp::AlignGroup grp{residues.data(), lengths.data(), 300};
        t->group16(p, query.data(), query.size(), grp, scratch.data(), scores.data(), overflow.data());
      }, o, n);
    }
  }
  return 0;
}
