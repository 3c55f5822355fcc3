// Driver of the batched alignment kernels: validation, residue encoding,
// grouping of targets by length, threads, 32-bit recomputation.
#include "gpu_accelerator/dp/dp_align.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>

#include "common/parallel.hpp"
#include "gpu_accelerator/dp/dp_align_common.hpp"

namespace si::dp {

const simd::KernelSet<AlignKernels>& align_kernel_set() {
  static const simd::KernelSet<AlignKernels> set SI_KERNEL_SET(detail::kAlignScalar, detail::kAlignAvx2,
                                                               detail::kAlignAvx512);
  return set;
}

namespace detail {

GroupConstants group_constants(const AlignParams& p) {
  GroupConstants c{};
  c.open = p.gap_open;
  c.ext = p.gap_extend;
  c.open16 = static_cast<std::int16_t>(std::min<std::int32_t>(p.gap_open, 32767));
  c.ext16 = static_cast<std::int16_t>(std::min<std::int32_t>(p.gap_extend, 32767));
  std::int32_t smax = 0;
  const int kk = p.alphabet_size * p.alphabet_size;
  for (int i = 0; i < kk; ++i) smax = std::max<std::int32_t>(smax, p.matrix[i]);
  c.smax_pos = smax;
  return c;
}

void build_profile_scalar(const AlignParams& p, const std::uint8_t* tcol, int lanes, std::int16_t* prof) {
  const int K = p.alphabet_size;
  for (int l = 0; l < lanes; ++l) {
    const std::int8_t* col = p.matrix + tcol[l];
    for (int a = 0; a < K; ++a) prof[a * lanes + l] = col[a * K];
  }
}

void finish_group(const AlignParams& p, const GroupConstants& c, const AlignGroup& g, int lanes,
                  const std::int16_t* lane_max, const std::int16_t* lane_last, std::int32_t* scores,
                  std::uint8_t* overflow) {
  for (int l = 0; l < lanes; ++l) {
    scores[l] = p.global ? lane_last[l] : lane_max[l];
    overflow[l] = g.lengths[l] > 0 && lane_max[l] >= 32767 - c.smax_pos;
  }
}

}  // namespace detail

namespace {

std::string describe_byte(std::uint8_t b) {
  char buf[32];
  if (b >= 32 && b < 127)
    std::snprintf(buf, sizeof buf, "'%c' (0x%02x)", static_cast<char>(b), b);
  else
    std::snprintf(buf, sizeof buf, "0x%02x", b);
  return buf;
}

void encode(const std::int16_t* code_of, const std::uint8_t* in, std::size_t n, std::uint8_t* out,
            const std::string& what) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int16_t c = code_of[in[i]];
    if (c < 0)
      throw std::invalid_argument(what + ": byte " + describe_byte(in[i]) + " at position " +
                                  std::to_string(i) + " is not in the substitution matrix's alphabet");
    out[i] = static_cast<std::uint8_t>(c);
  }
}

// Codes of one sequence; false when a byte is outside the alphabet (no message: the
// caller re-encodes that sequence with encode() to name it).
bool encode_quiet(const std::int16_t* code_of, const std::uint8_t* in, std::size_t n, std::uint8_t* out) {
  std::int16_t any_bad = 0;  // the OR of the codes is negative when one is -1
  for (std::size_t i = 0; i < n; ++i) {
    const std::int16_t c = code_of[in[i]];
    any_bad |= c;
    out[i] = static_cast<std::uint8_t>(c);
  }
  return any_bad >= 0;
}

}  // namespace

std::size_t check_batch(const AlignParams& p, const std::int16_t* code_of, std::size_t m,
                        const std::int64_t* offsets, std::size_t n_targets) {
  if (p.alphabet_size < 1 || p.alphabet_size > 256 || p.matrix == nullptr)
    throw std::invalid_argument("substitution matrix must be K x K with 1 <= K <= 256");
  if (p.gap_open < 0 || p.gap_extend < 0)
    throw std::invalid_argument("gap penalties must be >= 0 (they are subtracted), got gap_open=" +
                                std::to_string(p.gap_open) + ", gap_extend=" + std::to_string(p.gap_extend));
  for (int i = 0; i < 256; ++i)
    if (code_of[i] >= p.alphabet_size)
      throw std::invalid_argument("alphabet map refers to a residue outside the matrix");
  std::size_t max_n = 0;
  for (std::size_t i = 0; i < n_targets; ++i) {
    if (offsets[i + 1] < offsets[i] || offsets[i] < 0)
      throw std::invalid_argument("target offsets must be non-decreasing and >= 0");
    max_n = std::max<std::size_t>(max_n, static_cast<std::size_t>(offsets[i + 1] - offsets[i]));
  }
  // Every intermediate value is bounded by (m + n + 3) * (open + ext + 128).
  const long double bound = static_cast<long double>(m + max_n + 3) *
                            (static_cast<long double>(p.gap_open) + p.gap_extend + 128.0L);
  if (bound >= 1073741823.0L)  // below 2**30: the -inf sentinel stays below every real value
    throw std::invalid_argument("sequences and gap penalties too large for 32-bit scores");
  return max_n;
}

std::vector<std::uint8_t> encode_sequence(const std::int16_t* code_of, const std::uint8_t* seq, std::size_t n,
                                          const std::string& what) {
  std::vector<std::uint8_t> out(n);
  encode(code_of, seq, n, out.data(), what);
  return out;
}

EncodedBatch encode_batch(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query,
                          std::size_t m, const std::uint8_t* targets, const std::int64_t* offsets,
                          std::size_t n_targets, int threads) {
  EncodedBatch b;
  b.max_length = check_batch(p, code_of, m, offsets, n_targets);
  b.query = encode_sequence(code_of, query, m, "query");
  const std::int64_t base = n_targets ? offsets[0] : 0;
  b.offsets.resize(n_targets + 1);
  for (std::size_t i = 0; i <= n_targets; ++i) b.offsets[i] = offsets[i] - base;
  b.targets.resize(n_targets ? static_cast<std::size_t>(b.offsets[n_targets]) : 0);
  // Blocks of targets on threads; each block stops at its first bad target, so the smallest
  // index reported is the first bad target overall, named as a serial loop would name it.
  constexpr std::size_t kBlock = 256;
  std::atomic<std::size_t> first_bad{n_targets};
  auto tlen = [&](std::size_t i) { return static_cast<std::size_t>(offsets[i + 1] - offsets[i]); };
  si::parallel_for((n_targets + kBlock - 1) / kBlock, threads, [&](std::size_t blk, std::size_t) {
    for (std::size_t i = blk * kBlock; i < std::min(n_targets, (blk + 1) * kBlock); ++i)
      if (!encode_quiet(code_of, targets + offsets[i], tlen(i), b.targets.data() + b.offsets[i])) {
        std::size_t seen = first_bad.load();
        while (i < seen && !first_bad.compare_exchange_weak(seen, i)) {
        }
        return;
      }
  });
  if (const std::size_t i = first_bad.load(); i < n_targets)
    encode(code_of, targets + offsets[i], tlen(i), b.targets.data() + b.offsets[i], "target " + std::to_string(i));
  return b;
}

std::vector<std::int32_t> align_scores(const AlignParams& p, const std::int16_t* code_of,
                                       const std::uint8_t* query, std::size_t m,
                                       const std::uint8_t* targets, const std::int64_t* offsets,
                                       std::size_t n_targets, int threads, simd::Level level,
                                       AlignStats* stats) {
  const auto& kernels = align_kernel_set().at(level);
  const EncodedBatch batch = encode_batch(p, code_of, query, m, targets, offsets, n_targets, threads);
  const std::vector<std::uint8_t>& q = batch.query;
  auto tptr = [&](std::size_t i) { return batch.targets.data() + batch.offsets[i]; };
  auto tlen = [&](std::size_t i) { return static_cast<std::size_t>(batch.offsets[i + 1] - batch.offsets[i]); };

  std::vector<std::int32_t> out(n_targets, 0);
  std::atomic<std::size_t> recomputed{0};
  if (stats) {
    stats->level = kernels.level;
    stats->lanes = kernels.lanes;
  }
  if (!kernels.group16 || m == 0) {
    si::parallel_for(n_targets, threads, [&](std::size_t i, std::size_t) {
      out[i] = kernels.pair32(p, q.data(), m, tptr(i), tlen(i));
    });
    if (stats) stats->recomputed = 0;
    return out;
  }

  const detail::GroupConstants c = detail::group_constants(p);
  std::int32_t smin_abs = 0;
  for (int i = 0; i < p.alphabet_size * p.alphabet_size; ++i)
    smin_abs = std::max<std::int32_t>(smin_abs, -static_cast<std::int32_t>(p.matrix[i]));
  auto fits16 = [&](std::size_t n) {
    if (n == 0 || n > 32000) return false;
    if (!p.global) return true;
    const long double b = 3.0L * c.open + static_cast<long double>(m + n + 1) * c.ext + smin_abs + 2;
    return b <= 32767.0L;
  };
  const int lanes = kernels.lanes;
  std::vector<std::size_t> order(n_targets);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return tlen(a) > tlen(b); });
  std::vector<std::size_t> singles;
  std::vector<std::size_t> grouped;
  for (std::size_t i : order) (fits16(tlen(i)) ? grouped : singles).push_back(i);
  const std::size_t n_groups = (grouped.size() + lanes - 1) / lanes;

  si::parallel_for(n_groups + singles.size(), threads, [&](std::size_t task, std::size_t) {
    if (task >= n_groups) {
      const std::size_t i = singles[task - n_groups];
      out[i] = kernels.pair32(p, q.data(), m, tptr(i), tlen(i));
      if (tlen(i) > 0) recomputed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::size_t first = task * lanes;
    const std::size_t count = std::min<std::size_t>(lanes, grouped.size() - first);
    thread_local std::vector<std::uint8_t> residues;
    thread_local std::vector<std::int16_t> scratch;
    std::int32_t lengths[64] = {};
    std::int32_t scores[64];
    std::uint8_t overflow[64];
    const std::size_t maxlen = tlen(grouped[first]);
    residues.assign(maxlen * lanes, 0);
    for (std::size_t l = 0; l < count; ++l) {
      const std::size_t i = grouped[first + l];
      const std::uint8_t* src = tptr(i);
      const std::size_t n = tlen(i);
      lengths[l] = static_cast<std::int32_t>(n);
      for (std::size_t j = 0; j < n; ++j) residues[j * lanes + l] = src[j];
    }
    scratch.resize(2 * m * lanes + 64);
    AlignGroup g{residues.data(), lengths, static_cast<std::int32_t>(maxlen)};
    kernels.group16(p, q.data(), m, g, scratch.data(), scores, overflow);
    for (std::size_t l = 0; l < count; ++l) {
      const std::size_t i = grouped[first + l];
      if (overflow[l]) {
        out[i] = kernels.pair32(p, q.data(), m, tptr(i), tlen(i));
        recomputed.fetch_add(1, std::memory_order_relaxed);
      } else {
        out[i] = scores[l];
      }
    }
  });
  if (stats) stats->recomputed = recomputed.load();
  return out;
}

}  // namespace si::dp
