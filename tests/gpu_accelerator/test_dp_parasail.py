"""Cross-check against parasail (an independent implementation of the same
recurrences, same gap convention). Its striped kernels are wrong when
gap_open == gap_extend, so the reference here is its scan and scalar kernels."""

import numpy as np
import pytest

from superinstance.gpu_accelerator import nw_scores, sw_scores

parasail = pytest.importorskip("parasail")

PROTEIN = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)


@pytest.mark.parametrize("gaps", [(11, 1), (10, 10), (3, 1), (1, 1)])
def test_against_parasail_scan_32(gaps, simd_levels):
    rng = np.random.default_rng(gaps[0] * 7 + gaps[1])
    q = rng.choice(PROTEIN, 180).tobytes().decode()
    targets = [rng.choice(PROTEIN, int(n)).tobytes().decode() for n in rng.integers(1, 400, 150)]
    targets += [q, q[20:90]]
    go, ge = gaps
    ref_sw = [parasail.sw_scan_32(q, t, go, ge, parasail.blosum62).score for t in targets]
    ref_nw = [parasail.nw_scan_32(q, t, go, ge, parasail.blosum62).score for t in targets]
    for level in simd_levels:
        assert sw_scores(q, targets, gap_open=go, gap_extend=ge, simd=level).tolist() == ref_sw, level
        assert nw_scores(q, targets, gap_open=go, gap_extend=ge, simd=level).tolist() == ref_nw, level


def test_against_parasail_scalar_reference():
    rng = np.random.default_rng(99)
    q = rng.choice(PROTEIN, 60).tobytes().decode()
    targets = [rng.choice(PROTEIN, int(n)).tobytes().decode() for n in rng.integers(1, 90, 60)]
    assert sw_scores(q, targets).tolist() == [parasail.sw(q, t, 11, 1, parasail.blosum62).score for t in targets]
    assert nw_scores(q, targets).tolist() == [parasail.nw(q, t, 11, 1, parasail.blosum62).score for t in targets]


def test_targets_longer_than_int16_positions(simd_levels):
    """Targets over 32,000 residues skip the 16-bit kernel (lane positions are int16)."""
    rng = np.random.default_rng(4)
    long_t = rng.choice(PROTEIN, 33_000).tobytes().decode()
    q = long_t[20_000:20_040]
    targets = [long_t, q, long_t[:100]]
    ref_sw = [parasail.sw_scan_32(q, t, 11, 1, parasail.blosum62).score for t in targets]
    ref_nw = [parasail.nw_scan_32(q, t, 11, 1, parasail.blosum62).score for t in targets]
    for level in simd_levels:
        assert sw_scores(q, targets, simd=level).tolist() == ref_sw
        assert nw_scores(q, targets, simd=level).tolist() == ref_nw
