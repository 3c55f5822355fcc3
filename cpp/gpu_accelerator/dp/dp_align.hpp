// Batched pairwise alignment scores: Smith-Waterman (local) and
// Needleman-Wunsch (global) of one query against many targets, with a
// substitution matrix and affine gaps.
//
// Gap convention (parasail's): a gap of length k costs gap_open + (k - 1) *
// gap_extend, i.e. gap_open is the cost of the FIRST gap position. A linear gap
// penalty g is gap_open == gap_extend == g.
//
// SIMD design: inter-sequence (SWIPE-style) vectorisation. Targets are sorted
// by length and processed in groups of `lanes` (16 for AVX2, 32 for AVX-512),
// one target per 16-bit lane; the query runs down the inner loop. Scores are
// computed with saturating int16 arithmetic; a lane whose score may have
// saturated is recomputed exactly with the 32-bit scalar kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/dispatch.hpp"

namespace si::dp {

struct AlignParams {
  int alphabet_size = 0;          // K; residues are encoded as 0..K-1
  const std::int8_t* matrix = nullptr;  // K x K, row-major, score(query, target)
  std::int32_t gap_open = 11;     // cost of the first gap position (>= 0)
  std::int32_t gap_extend = 1;    // cost of each further position (>= 0)
  bool global = false;            // false: Smith-Waterman, true: Needleman-Wunsch
};

// One group of targets for a 16-bit SIMD kernel, laid out column-major:
// residues[j * lanes + l] is residue j of the target in lane l (0 past its end).
struct AlignGroup {
  const std::uint8_t* residues = nullptr;
  const std::int32_t* lengths = nullptr;  // per lane, 0 for unused lanes
  std::int32_t max_length = 0;
};

// A per-level kernel table (see common/dispatch.hpp).
struct AlignKernels {
  simd::Level level;
  int lanes;  // targets per group for group16; 1 for the scalar table
  // Exact 32-bit score of one pair (the reference; used by every level for
  // saturated lanes). q and t are encoded residues.
  std::int32_t (*pair32)(const AlignParams& p, const std::uint8_t* q, std::size_t m,
                         const std::uint8_t* t, std::size_t n);
  // Saturating 16-bit scores of one group; overflow[l] = 1 when lane l's score
  // is not exact. Null in the scalar table. `scratch` holds >= 2 * m * lanes int16.
  void (*group16)(const AlignParams& p, const std::uint8_t* q, std::size_t m, const AlignGroup& g,
                  std::int16_t* scratch, std::int32_t* scores, std::uint8_t* overflow);
};

const simd::KernelSet<AlignKernels>& align_kernel_set();

struct AlignStats {
  std::size_t recomputed = 0;  // pairs recomputed in 32 bits after saturation
  int lanes = 1;
  simd::Level level = simd::Level::scalar;
};

// Scores of `query` against each target. Sequences are raw bytes mapped to
// residue codes with `code_of` (256 entries, -1 = not in the alphabet).
// targets: concatenated bytes, target i is [offsets[i], offsets[i+1]).
// Throws std::invalid_argument for bad parameters or a byte outside the
// alphabet (naming the target and position).
std::vector<std::int32_t> align_scores(const AlignParams& p, const std::int16_t* code_of,
                                       const std::uint8_t* query, std::size_t m,
                                       const std::uint8_t* targets, const std::int64_t* offsets,
                                       std::size_t n_targets, int threads, simd::Level level,
                                       AlignStats* stats = nullptr);

// Checks the parameters, the alphabet map (256 entries, -1 = not in the
// alphabet), the target offsets and that every score fits in int32 for these
// lengths; returns the longest target. Throws std::invalid_argument.
std::size_t check_batch(const AlignParams& p, const std::int16_t* code_of, std::size_t m,
                        const std::int64_t* offsets, std::size_t n_targets);
// Residue codes of one sequence; std::invalid_argument naming `what`, the byte
// and its position when a byte is outside the alphabet.
std::vector<std::uint8_t> encode_sequence(const std::int16_t* code_of, const std::uint8_t* seq, std::size_t n,
                                          const std::string& what);

// Validated, encoded input of a batch (shared by the CPU and GPU drivers).
struct EncodedBatch {
  std::vector<std::uint8_t> query;     // residue codes
  std::vector<std::uint8_t> targets;   // residue codes, concatenated
  std::vector<std::int64_t> offsets;   // n + 1, starting at 0
  std::size_t max_length = 0;          // longest target
};
// Targets are encoded on `threads` threads (0 = all cores); a bad byte is named as in a
// serial pass (the first bad target).
EncodedBatch encode_batch(const AlignParams& p, const std::int16_t* code_of, const std::uint8_t* query,
                          std::size_t m, const std::uint8_t* targets, const std::int64_t* offsets,
                          std::size_t n_targets, int threads = 1);

namespace detail {
extern const AlignKernels kAlignScalar;
extern const AlignKernels kAlignAvx2;
extern const AlignKernels kAlignAvx512;
}  // namespace detail

}  // namespace si::dp
