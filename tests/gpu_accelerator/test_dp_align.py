"""Alignment scores: every SIMD level against the scalar kernel, a plain Python
oracle, and parasail's scan/scalar kernels."""

import numpy as np
import pytest

from gpu_oracles import align_oracle as oracle  # Gotoh's three-state recurrence, plain Python ints
from superinstance import _core
from superinstance.gpu_accelerator import BLOSUM62, SubstitutionMatrix, nw_scores, sw_scores

PROTEIN = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)


def rand_seq(rng, n, alphabet=PROTEIN):
    return rng.choice(alphabet, n).tobytes()


def random_batch(rng, count, max_len):
    lens = rng.integers(0, max_len + 1, count)
    return [rand_seq(rng, int(n)) for n in lens]


@pytest.mark.parametrize("glob", [False, True])
@pytest.mark.parametrize("gaps", [(11, 1), (5, 5), (3, 1), (0, 0), (1, 4)])
def test_small_cases_match_python_oracle(glob, gaps, simd_levels):
    rng = np.random.default_rng(hash(gaps) % 1000 + glob)
    q = rand_seq(rng, 13)
    targets = random_batch(rng, 40, 20) + [b"", q, q[::-1]]
    S = BLOSUM62.scores.astype(np.int64)
    ref = [oracle(q, t, S, BLOSUM62.code_of, *gaps, glob) for t in targets]
    f = nw_scores if glob else sw_scores
    for level in simd_levels:
        got = f(q, targets, gap_open=gaps[0], gap_extend=gaps[1], simd=level, threads=1)
        assert got.dtype == np.int32
        assert got.tolist() == ref, level


@pytest.mark.parametrize("glob", [False, True])
def test_empty_query(glob):
    targets = [b"", b"A", b"ACD"]
    f = nw_scores if glob else sw_scores
    exp = [0, -11, -13] if glob else [0, 0, 0]
    assert f(b"", targets).tolist() == exp
    assert f("ACD", [b""]).tolist() == ([-13] if glob else [0])


@pytest.mark.parametrize("glob", [False, True])
def test_simd_levels_match_scalar_on_thousands_of_cases(glob, simd_levels):
    rng = np.random.default_rng(7 + glob)
    total = 0
    for qlen, count, max_len, gaps in [(0, 50, 30, (11, 1)), (1, 200, 50, (11, 1)), (37, 1500, 120, (11, 1)),
                                       (250, 600, 1000, (10, 2)), (500, 300, 600, (4, 4)), (1000, 40, 1000, (11, 1))]:
        q = rand_seq(rng, qlen)
        targets = random_batch(rng, count, max_len)
        if count > 50:  # near-duplicates score high
            targets += [q[: rng.integers(0, qlen + 1)] for _ in range(5)]
        ref = _core.dp_align_scores(np.frombuffer(q, np.uint8), *_pack(targets), BLOSUM62.code_of, BLOSUM62.scores,
                                    gaps[0], gaps[1], glob, 1, "scalar")[0]
        for level in simd_levels[1:]:
            f = nw_scores if glob else sw_scores
            got = f(q, targets, gap_open=gaps[0], gap_extend=gaps[1], simd=level, threads=2)
            np.testing.assert_array_equal(got, ref, err_msg=f"{level} qlen={qlen}")
        total += len(targets)
    assert total > 2500


def _pack(targets):
    from superinstance.gpu_accelerator._dp_common import pack_targets

    return pack_targets(targets)


def big_matrix():
    """Match 127: scores overflow int16 after ~258 matching positions."""
    alpha = b"ACGT"
    S = np.full((4, 4), -60, np.int8)
    np.fill_diagonal(S, 127)
    return SubstitutionMatrix(S, alpha, name="big")


@pytest.mark.parametrize("glob", [False, True])
def test_saturated_lanes_are_recomputed_exactly(glob, simd_levels):
    rng = np.random.default_rng(3)
    M = big_matrix()
    dna = np.frombuffer(b"ACGT", np.uint8)
    q = rand_seq(rng, 600, dna)
    targets = [q, q[:300], q[:200], q[100:500], rand_seq(rng, 600, dna), b"", q[:1]] + \
        [rand_seq(rng, int(n), dna) for n in rng.integers(0, 700, 60)]
    f = nw_scores if glob else sw_scores
    ref = f(q, targets, matrix=M, gap_open=20, gap_extend=3, simd="scalar")
    assert ref[0] == 600 * 127  # far beyond int16
    for level in simd_levels[1:]:
        got, info = f(q, targets, matrix=M, gap_open=20, gap_extend=3, simd=level, return_info=True)
        np.testing.assert_array_equal(got, ref, err_msg=level)
        assert info["recomputed"] >= 3, info
    # small oracle check of a saturating case
    q2 = b"ACGT" * 70
    exp = oracle(q2, q2, M.scores.astype(np.int64), M.code_of, 20, 3, glob)
    assert exp == 280 * 127
    for level in simd_levels:
        assert f(q2, [q2], matrix=M, gap_open=20, gap_extend=3, simd=level)[0] == exp


def test_large_global_penalties_fall_back_to_32_bits(simd_levels):
    rng = np.random.default_rng(5)
    q = rand_seq(rng, 300)
    targets = random_batch(rng, 40, 400)
    ref = nw_scores(q, targets, gap_open=300, gap_extend=150, simd="scalar")
    assert ref.min() < -32768
    for level in simd_levels[1:]:
        got, info = nw_scores(q, targets, gap_open=300, gap_extend=150, simd=level, return_info=True)
        np.testing.assert_array_equal(got, ref)
        assert info["recomputed"] > 0
        np.testing.assert_array_equal(sw_scores(q, targets, gap_open=40000, gap_extend=40000, simd=level),
                                      sw_scores(q, targets, gap_open=40000, gap_extend=40000, simd="scalar"))


def test_large_alphabet_uses_scalar_profile(simd_levels):
    rng = np.random.default_rng(11)
    K = 40
    alpha = bytes(range(48, 48 + K))
    S = rng.integers(-8, 9, (K, K)).astype(np.int8)
    M = SubstitutionMatrix(S, alpha, case_sensitive=True)
    a = np.frombuffer(alpha, np.uint8)
    q = rand_seq(rng, 25, a)
    targets = [rand_seq(rng, int(n), a) for n in rng.integers(0, 30, 50)]
    for glob, f in [(False, sw_scores), (True, nw_scores)]:
        ref = [oracle(q, t, S.astype(np.int64), M.code_of, 7, 2, glob) for t in targets]
        for level in simd_levels:
            assert f(q, targets, matrix=M, gap_open=7, gap_extend=2, simd=level).tolist() == ref


def test_asymmetric_matrix_orientation(simd_levels):
    """scores[a, b] is query letter a against target letter b."""
    S = np.array([[1, 5], [-3, 1]], np.int8)
    M = SubstitutionMatrix(S, "XY", case_sensitive=True)
    for level in simd_levels:
        assert sw_scores("X", ["Y"], matrix=M, simd=level)[0] == 5
        assert sw_scores("Y", ["X"], matrix=M, simd=level)[0] == 0
        assert nw_scores("Y", ["X"], matrix=M, gap_open=10, gap_extend=10, simd=level)[0] == -3


def test_threads_give_identical_results():
    rng = np.random.default_rng(2)
    q = rand_seq(rng, 120)
    targets = random_batch(rng, 700, 300)
    one = sw_scores(q, targets, threads=1)
    for t in (2, 3, 0, None):
        np.testing.assert_array_equal(sw_scores(q, targets, threads=t), one)


def test_input_kinds_and_lowercase():
    q = "HEAGAWGHEE"
    r = sw_scores(q, ["PAWHEAE", b"PAWHEAE", bytearray(b"pawheae"), np.frombuffer(b"PAWHEAE", np.uint8)])
    assert len(set(r.tolist())) == 1
    assert sw_scores(q.lower(), ["PAWHEAE"])[0] == r[0]


@pytest.mark.parametrize("threads", [1, 2, 0])
def test_the_first_bad_target_is_named_whatever_the_threads(threads):
    """Targets are encoded in blocks on threads; the error still names the first bad one."""
    targets = ["ACDEFGHIK"] * 3000
    for i, pos in ((2900, 1), (700, 4), (1500, 0), (701, 2)):
        targets[i] = targets[i][:pos] + "J" + targets[i][pos + 1:]
    with pytest.raises(ValueError, match=r"target 700: byte b?'?J'? .*position 4"):
        sw_scores("ACD", targets, threads=threads, backend="cpu")
    targets[700] = "ACDEFGHIK"
    with pytest.raises(ValueError, match=r"target 701: byte b?'?J'? .*position 2"):
        nw_scores("ACD", targets, threads=threads, backend="cpu")


def test_bad_input_errors():
    with pytest.raises(ValueError, match=r"target 1: byte b?'?J'? .*position 2.*alphabet"):
        sw_scores("ACD", ["ACD", "ACJ"])
    with pytest.raises(ValueError, match="query: byte .*'1'.*position 0"):
        sw_scores("1CD", ["ACD"])
    with pytest.raises(ValueError, match="gap_open must be >= 0"):
        sw_scores("A", ["A"], gap_open=-1)
    with pytest.raises(ValueError, match="gap_extend must be >= 0"):
        nw_scores("A", ["A"], gap_extend=-2)
    with pytest.raises(ValueError, match="targets is empty"):
        sw_scores("A", [])
    with pytest.raises(TypeError, match="wrap a single target"):
        sw_scores("A", "ACD")
    with pytest.raises(ValueError, match="square"):
        SubstitutionMatrix(np.zeros((3, 4), np.int8), "ABC")
    with pytest.raises(ValueError, match="alphabet has 2 letters"):
        SubstitutionMatrix(np.zeros((3, 3), np.int8), "AB")
    with pytest.raises(ValueError, match="int8"):
        SubstitutionMatrix(np.full((2, 2), 300), "AB")
    with pytest.raises(ValueError, match="distinct"):
        SubstitutionMatrix(np.zeros((2, 2), np.int8), "AA")
    with pytest.raises(ValueError, match="non-ASCII"):
        sw_scores("A", ["Aé"])
    with pytest.raises(ValueError, match="threads"):
        sw_scores("A", ["A"], threads=-1)
    with pytest.raises(ValueError, match="backend"):
        sw_scores("A", ["A"], backend="tpu")
    with pytest.raises(ValueError, match="unknown SIMD level"):
        sw_scores("A", ["A"], simd="sse9")
    with pytest.raises(ValueError, match="square"):
        _core.dp_align_scores(np.zeros(1, np.uint8), np.zeros(1, np.uint8), np.array([0, 1]),
                              BLOSUM62.code_of, np.zeros((2, 3), np.int8), 1, 1, False)
    with pytest.raises(ValueError, match="too large for 32-bit"):
        nw_scores("A" * 2000, ["A" * 2000], gap_open=2**24, gap_extend=2**24)


def test_backend_cuda_without_a_gpu_raises_with_the_reason():
    """Holds with or without the CUDA module (the reason differs)."""
    from superinstance.errors import GpuUnavailableError
    from superinstance._backend import gpu_reason

    reason = gpu_reason()
    if reason is None:
        pytest.skip("a GPU is usable here")
    with pytest.raises(GpuUnavailableError, match="no GPU is usable") as e:
        nw_scores("ACD", ["ACD"], backend="cuda")
    assert reason in str(e.value)
    scores, info = sw_scores("ACD", ["ACD"], backend="auto", return_info=True)
    assert info["backend"] == "cpu" and reason in info["reason"] and scores[0] > 0
