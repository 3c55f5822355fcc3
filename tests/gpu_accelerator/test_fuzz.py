"""Property-based fuzzing of every public CPU call of superinstance.gpu_accelerator.

Correctness against independent references (gpu_oracles.py): Smith-Waterman and
Needleman-Wunsch against Gotoh's DP in Python (random alphabets, matrices, gap penalties,
empty and out-of-alphabet sequences, every SIMD level), DTW against a Python DP,
Floyd-Warshall against a numpy triple loop, rolling min/max against numpy's
sliding_window_view, the optimal path against a Python DP, cosine similarity and the
sentiment head against float64 numpy. Integer results are compared exactly; float ones
within the bounds derived in gpu_oracles.py.

Bad input: every argument of every call gets wrong types, None, NaN/inf and extreme
integers (fuzz_helpers.bad_values / bad_arrays); each call must succeed or raise a clear
Python exception (never a crash or pybind11's signature dump), and a refused call must leave
a SentimentHead's answers and weights unchanged.

Profiles: "ci" (default, 60 examples per test, derandomized); SUPERINSTANCE_FUZZ=long.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import superinstance
from fuzz_helpers import assert_rejected_cleanly, bad_arrays, bad_values
from gpu_oracles import (align_oracle, cos_tolerance, dtw_oracle, floyd_oracle, head_tolerance, oracle_cos,
                         oracle_head, optimal_path_oracle)
from superinstance.gpu_accelerator import (NO_EDGE, SentimentHead, SubstitutionMatrix, cosine_similarity, dtw,
                                           floyd_warshall, nw_scores, optimal_path, rolling_max, rolling_min,
                                           sw_scores)

pytestmark = pytest.mark.fuzz

LEVELS = superinstance.capabilities()["simd_available"]
levels = st.sampled_from(LEVELS)
threads = st.sampled_from([None, 0, 1, 2, 3])


def bad_scalars():
    """bad_values() less "cuda": a valid backend, which raises GpuUnavailableError on this machine."""
    return bad_values().filter(lambda v: not (isinstance(v, str) and v == "cuda"))


# ----------------------------------------------------------------------------- alignment
@st.composite
def alignment_cases(draw, max_len=10, strays=True):
    k = draw(st.integers(1, 6))
    alphabet = bytes(draw(st.lists(st.sampled_from(b"ACGTWXYZ*"), min_size=k, max_size=k, unique=True)))
    extreme = draw(st.booleans())
    lo, hi = (-128, 127) if extreme else (-12, 12)
    scores = np.array(draw(st.lists(st.integers(lo, hi), min_size=k * k, max_size=k * k)), np.int8).reshape(k, k)
    matrix = SubstitutionMatrix(scores, alphabet, case_sensitive=draw(st.booleans()))
    # Mostly alphabet letters; sometimes their lower case (mapped unless case_sensitive) or a stray byte.
    letters = list(alphabet)
    if strays:
        letters += [b + 32 for b in alphabet if 65 <= b <= 90] + list(b"q\x00\xff")
    weights = [8] * k + [1] * (len(letters) - k)
    seq = st.lists(st.sampled_from([x for x, w in zip(letters, weights) for _ in range(w)]),
                   max_size=max_len).map(bytes)
    query = draw(seq)
    targets = draw(st.lists(seq, min_size=1, max_size=5))
    gaps = st.one_of(st.integers(0, 15), st.sampled_from([0, 1, 127, 128, 1000, 32767, 32768, 1 << 24]))
    return matrix, query, targets, draw(gaps), draw(gaps)


def _all_in_alphabet(matrix, seqs):
    return all((matrix.code_of[np.frombuffer(s, np.uint8)] >= 0).all() for s in seqs)


def _fits_32_bits(query, targets, go, ge):
    """The kernel's documented limit: every intermediate value within 2**30."""
    longest = max(len(t) for t in targets)
    return (len(query) + longest + 3) * (go + ge + 128) < 2**30 - 1


@given(case=alignment_cases(), global_=st.booleans(), level=levels, nthreads=threads)
def test_alignment_scores_match_gotoh_dp(case, global_, level, nthreads):
    matrix, query, targets, go, ge = case
    f = nw_scores if global_ else sw_scores
    call = lambda: f(query, targets, matrix=matrix, gap_open=go, gap_extend=ge, threads=nthreads,  # noqa: E731
                     backend="cpu", simd=level)
    if not _all_in_alphabet(matrix, [query] + targets):
        with pytest.raises(ValueError, match="not in the substitution matrix's alphabet"):
            call()
        return
    if not _fits_32_bits(query, targets, go, ge):
        with pytest.raises(ValueError, match="too large for 32-bit"):
            call()
        return
    got = call()
    assert got.dtype == np.int32 and got.shape == (len(targets),)
    want = [align_oracle(query, t, matrix.scores, matrix.code_of, go, ge, global_) for t in targets]
    assert got.tolist() == want


@given(case=alignment_cases(max_len=40, strays=False), level=levels)
def test_alignment_16_bit_lanes_match_32_bit(case, level):
    """Longer targets fill the saturating 16-bit lanes; results must equal the exact scalar level."""
    matrix, query, targets, go, ge = case
    assume(_fits_32_bits(query, targets, go, ge))
    for f in (sw_scores, nw_scores):
        ref = f(query, targets, matrix=matrix, gap_open=go, gap_extend=ge, backend="cpu", simd="scalar")
        got = f(query, targets, matrix=matrix, gap_open=go, gap_extend=ge, backend="cpu", simd=level)
        np.testing.assert_array_equal(got, ref)


@given(name=st.sampled_from(["gap_open", "gap_extend", "threads", "simd", "backend", "matrix", "precision",
                             "return_info", "query", "targets"]),
       value=bad_scalars(), global_=st.booleans())
def test_alignment_bad_arguments_are_refused_cleanly(name, value, global_):
    f = nw_scores if global_ else sw_scores
    kwargs = dict(matrix="blosum62", gap_open=11, gap_extend=1, backend="cpu")
    args = ["ACDEF", ["ACD", "WWW"]]
    if name == "query":
        args[0] = value
    elif name == "targets":
        args[1] = value
    else:
        kwargs[name] = value
    assert_rejected_cleanly(lambda: f(*args, **kwargs))


@given(go=st.integers(-(2**70), -1) | st.integers((1 << 24) + 1, 2**70))
def test_gap_penalties_out_of_range(go):
    with pytest.raises(ValueError, match="gap_open"):
        sw_scores("ACD", ["ACD"], gap_open=go, backend="cpu")
    with pytest.raises(ValueError, match="gap_extend"):
        nw_scores("ACD", ["ACD"], gap_extend=go, backend="cpu")


@given(scores=bad_scalars() | bad_arrays((3, 3)), alphabet=bad_scalars(), case_sensitive=bad_scalars())
def test_substitution_matrix_bad_arguments(scores, alphabet, case_sensitive):
    good = np.eye(3, dtype=np.int8)
    assert_rejected_cleanly(lambda: SubstitutionMatrix(scores, "ABC"))
    assert_rejected_cleanly(lambda: SubstitutionMatrix(good, alphabet))
    assert_rejected_cleanly(lambda: SubstitutionMatrix(good, "ABC", case_sensitive=case_sensitive))


def test_substitution_matrix_rejects_an_int_alphabet():
    with pytest.raises(TypeError, match="alphabet must be str or bytes"):
        SubstitutionMatrix(np.zeros((1, 1), np.int8), 1)  # bytes(1) would be one NUL letter


# ----------------------------------------------------------------------------- DTW
series = st.lists(st.floats(-1e6, 1e6, width=32), min_size=1, max_size=8)


@given(pairs=st.lists(st.tuples(series, series), min_size=1, max_size=3), band=st.none() | st.integers(0, 9),
       nthreads=threads)
def test_dtw_matches_python_dp(pairs, band, nthreads):
    la, lb = len(pairs[0][0]), len(pairs[0][1])
    pairs = [(a[:la] + [0.0] * (la - len(a)), b[:lb] + [0.0] * (lb - len(b))) for a, b in pairs]
    a = np.array([p[0] for p in pairs], np.float32)
    b = np.array([p[1] for p in pairs], np.float32)
    got = dtw(a, b, band=band, threads=nthreads, backend="cpu")
    want = [dtw_oracle(x, y, band) for x, y in zip(a, b)]
    # Both add the same float64 values in the same order along the best path: only the
    # order of a tie's equal sums may differ, so the results agree to a few ulps.
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert dtw(a[0], b[0], band=band, backend="cpu") == pytest.approx(want[0], rel=1e-12, abs=0)


@given(name=st.sampled_from(["a", "b", "band", "threads", "backend"]), value=bad_scalars() | bad_arrays((2, 5)))
def test_dtw_bad_arguments(name, value):
    kwargs = dict(a=np.ones((2, 5), np.float32), b=np.ones((2, 5), np.float32), band=None, threads=None,
                  backend="cpu")
    kwargs[name] = value
    assert_rejected_cleanly(lambda: dtw(**kwargs))


# ----------------------------------------------------------------------------- Floyd-Warshall
@st.composite
def graphs(draw):
    n = draw(st.integers(0, 10))
    lo = draw(st.sampled_from([-30, 0, 1]))
    w = np.array(draw(st.lists(st.integers(lo, 100), min_size=n * n, max_size=n * n)), np.int64).reshape(n, n)
    missing = np.array(draw(st.lists(st.booleans(), min_size=n * n, max_size=n * n)), bool).reshape(n, n)
    w[missing] = NO_EDGE
    return w.astype(np.int32)


@given(w=graphs(), level=levels, nthreads=threads)
def test_floyd_warshall_matches_numpy_triple_loop(w, level, nthreads):
    want, negative = floyd_oracle(w, NO_EDGE)
    if negative:
        with pytest.raises(ValueError, match="negative cycle"):
            floyd_warshall(w, threads=nthreads, simd=level, backend="cpu")
        return
    got = floyd_warshall(w, threads=nthreads, simd=level, backend="cpu")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)


@given(name=st.sampled_from(["weights", "threads", "simd", "backend"]), value=bad_scalars() | bad_arrays((3, 3)))
def test_floyd_warshall_bad_arguments(name, value):
    kwargs = dict(weights=np.zeros((3, 3), np.int32), threads=None, simd=None, backend="cpu")
    kwargs[name] = value
    assert_rejected_cleanly(lambda: floyd_warshall(**kwargs))


# ----------------------------------------------------------------------------- rolling min/max
@given(x=st.one_of(
    hnp.arrays(np.int32, hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=12)),
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=12),
               elements=st.floats(width=32, allow_nan=False))),
    data=st.data(), nthreads=threads)
def test_rolling_min_max_match_sliding_window_view(x, data, nthreads):
    window = data.draw(st.integers(1, x.shape[-1]))
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=-1)
    for f, ref in ((rolling_min, view.min(axis=-1)), (rolling_max, view.max(axis=-1))):
        got = f(x, window, threads=nthreads, backend="cpu")
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, ref)  # a selection, exact


@given(name=st.sampled_from(["x", "window", "threads", "backend"]), value=bad_scalars() | bad_arrays((2, 6)),
       want_max=st.booleans())
def test_rolling_bad_arguments(name, value, want_max):
    kwargs = dict(x=np.ones((2, 6), np.float32), window=3, threads=None, backend="cpu")
    kwargs[name] = value
    f = rolling_max if want_max else rolling_min
    assert_rejected_cleanly(lambda: f(**kwargs))


# ----------------------------------------------------------------------------- optimal path
@given(cost=st.one_of(
    hnp.arrays(np.int32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
               elements=st.integers(-1000, 1000) | st.sampled_from([-(2**31), 2**31 - 1])),
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
               elements=st.floats(-2.0**100, 2.0**100, width=32))),
    nthreads=threads)
def test_optimal_path_matches_python_dp(cost, nthreads):
    total, path = optimal_path(cost, threads=nthreads, backend="cpu")
    want_total, want_path = optimal_path_oracle(cost)
    # Integer totals in int64 are exact; float totals add the same float64 values in the
    # same order as the oracle, so they are equal too.
    assert total == want_total
    assert path.tolist() == want_path
    steps = np.abs(np.diff(path))
    assert (steps <= 1).all()
    batch_total, batch_path = optimal_path(np.stack([cost, cost]), backend="cpu")
    assert batch_total.tolist() == [want_total] * 2 and batch_path.tolist() == [want_path] * 2


@given(name=st.sampled_from(["cost", "threads", "backend"]), value=bad_scalars() | bad_arrays((3, 4)))
def test_optimal_path_bad_arguments(name, value):
    kwargs = dict(cost=np.ones((3, 4), np.float32), threads=None, backend="cpu")
    kwargs[name] = value
    assert_rejected_cleanly(lambda: optimal_path(**kwargs))


# ----------------------------------------------------------------------------- thread counts
@given(value=st.integers(-(2**70), 2**70), fn=st.sampled_from(["sw", "fw", "rolling", "dtw", "path"]))
def test_thread_counts_are_checked_everywhere(value, fn):
    calls = {
        "sw": lambda t: sw_scores("ACD", ["ACD"], threads=t, backend="cpu"),
        "fw": lambda t: floyd_warshall(np.zeros((2, 2), np.int32), threads=t, backend="cpu"),
        "rolling": lambda t: rolling_min(np.ones(4, np.int32), 2, threads=t, backend="cpu"),
        "dtw": lambda t: dtw(np.ones(3), np.ones(3), threads=t, backend="cpu"),
        "path": lambda t: optimal_path(np.ones((2, 2), np.int32), threads=t, backend="cpu"),
    }
    max_threads = max(256, __import__("os").cpu_count() or 1)
    if 0 <= value <= max_threads:
        calls[fn](value)
    else:
        with pytest.raises(ValueError, match="threads"):
            calls[fn](value)


# ----------------------------------------------------------------------------- cosine, sentiment head
any_float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@given(data=st.data(), m=st.integers(0, 6), n=st.integers(0, 140), d=st.integers(1, 20), level=levels)
def test_cosine_matches_float64(data, m, n, d, level):
    scale = st.sampled_from([1e-45, 1e-38, 1e-20, 1.0, 1e19, 1e30, 3e38])
    q = data.draw(hnp.arrays(np.float32, (m, d), elements=any_float32))
    k = data.draw(hnp.arrays(np.float32, (n, d), elements=st.floats(-1, 1, width=32)))
    k = (k.astype(np.float64) * data.draw(scale)).astype(np.float32)
    got = superinstance._core.cosine_matrix_cpu(q, k, level, 0)
    assert got.shape == (m, n) and np.isfinite(got).all()
    np.testing.assert_allclose(got, oracle_cos(q, k), rtol=0, atol=cos_tolerance(d))
    if m:
        np.testing.assert_allclose(cosine_similarity(q[0], k, backend="cpu"), oracle_cos(q[:1], k)[0], rtol=0,
                                   atol=cos_tolerance(d))


@given(name=st.sampled_from(["queries", "keys", "backend"]), value=bad_scalars() | bad_arrays((3, 4)))
def test_cosine_bad_arguments(name, value):
    kwargs = dict(queries=np.ones((3, 4), np.float32), keys=np.ones((3, 4), np.float32), backend="cpu")
    kwargs[name] = value
    assert_rejected_cleanly(lambda: cosine_similarity(**kwargs))


@st.composite
def heads(draw):
    n_in, hidden = draw(st.integers(1, 12)), draw(st.integers(1, 140))
    small = st.floats(-4, 4, width=32)
    w = {"w1": draw(hnp.arrays(np.float32, (hidden, n_in), elements=small)),
         "b1": draw(hnp.arrays(np.float32, (hidden,), elements=small)),
         "w2": draw(hnp.arrays(np.float32, (3, hidden), elements=small)),
         "b2": draw(hnp.arrays(np.float32, (3,), elements=small))}
    return w


@given(w=heads(), data=st.data(), level=levels)
def test_sentiment_head_matches_float64(w, data, level):
    n_in = w["w1"].shape[1]
    x = data.draw(hnp.arrays(np.float32, (data.draw(st.integers(0, 40)), n_in), elements=any_float32))
    head = superinstance._core.SentimentHeadCpu(w["w1"], w["b1"], w["w2"], w["b2"])
    got = head.forward(x, level, 0)
    assert got.shape == (len(x), 3) and np.isfinite(got).all()
    assert (np.abs(got - oracle_head(w, x)) <= head_tolerance(w, x)).all()


@given(name=st.sampled_from(["w1", "b1", "w2", "b2", "backend", "device"]), value=bad_scalars() | bad_arrays((4,)))
def test_sentiment_head_constructor_bad_arguments(name, value):
    from superinstance.gpu_accelerator import default_weights

    kwargs = dict(default_weights(4, 5), backend="cpu")
    kwargs[name] = value
    assert_rejected_cleanly(lambda: SentimentHead(**kwargs))


_HEAD = SentimentHead.default(backend="cpu")
_PROBE = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)


def _head_state():
    return [_HEAD.predict(_PROBE)] + [v for _, v in sorted(_HEAD.weights.items())]


@given(features=bad_scalars() | bad_arrays((2, 16)))
def test_sentiment_predict_bad_features_leave_the_head_unchanged(features):
    assert_rejected_cleanly(lambda: _HEAD.predict(features), _head_state)


@given(name=st.sampled_from(["in_features", "hidden", "seed", "backend"]), value=bad_scalars())
def test_sentiment_default_bad_arguments(name, value):
    kwargs = dict(in_features=4, hidden=3, seed=0, backend="cpu")
    kwargs[name] = value
    assert_rejected_cleanly(lambda: SentimentHead.default(**kwargs))


@given(band=st.integers(0, 2**70), la=st.integers(1, 6), lb=st.integers(1, 6))
def test_dtw_any_band_width(band, la, lb):
    """A band of any size works: one at least as wide as the series excludes nothing."""
    rng = np.random.default_rng(la * 10 + lb)
    a, b = rng.standard_normal(la).astype(np.float32), rng.standard_normal(lb).astype(np.float32)
    want = dtw_oracle(a, b, band)
    assert dtw(a, b, band=band, backend="cpu") == pytest.approx(want, rel=1e-12, abs=0)


@given(level=bad_scalars(), nthreads=bad_scalars())
def test_native_level_and_threads_are_checked(level, nthreads):
    """The bindings themselves (also reachable as superinstance._core) name a bad level or
    thread count instead of pybind11's signature dump."""
    core = superinstance._core
    w = __import__("superinstance.gpu_accelerator", fromlist=["default_weights"]).default_weights(4, 3)
    head = core.SentimentHeadCpu(w["w1"], w["b1"], w["w2"], w["b2"])
    x = np.ones((2, 4), np.float32)
    i32 = np.zeros((2, 2), np.int32)
    for call in (lambda: core.cosine_matrix_cpu(x, x, level, 1), lambda: core.cosine_matrix_cpu(x, x, None, nthreads),
                 lambda: head.forward(x, level, 1), lambda: head.forward(x, None, nthreads),
                 lambda: core.dp_floyd_warshall_i32(i32, nthreads, None), lambda: core.dp_floyd_warshall_i32(i32, 0, level),
                 lambda: core.dp_rolling_minmax_i32(i32, 1, True, nthreads),
                 lambda: core.dp_optimal_path_i32(i32[None], nthreads)):
        assert_rejected_cleanly(call)


def test_default_weights_refuse_huge_sizes_before_allocating():
    """Found by the long profile: default(in_features=10**9) filled the RAM (the run was killed)."""
    from superinstance.gpu_accelerator import default_weights

    with pytest.raises(ValueError, match="above"):
        SentimentHead.default(in_features=10**9, hidden=3)
    with pytest.raises(ValueError, match="above"):
        default_weights(2**31, 2**31)
