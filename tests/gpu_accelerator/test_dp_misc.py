"""Optimal path, Floyd-Warshall, rolling min/max and DTW against plain
Python / numpy oracles."""

import itertools

import numpy as np
import pytest

from gpu_oracles import dtw_oracle
from superinstance.gpu_accelerator import NO_EDGE, dtw, floyd_warshall, optimal_path, rolling_max, rolling_min


# ---------------------------------------------------------------- optimal path
def brute_force_path(cost):
    rows, cols = cost.shape
    best = None
    for path in itertools.product(range(rows), repeat=cols):
        if all(abs(path[c + 1] - path[c]) <= 1 for c in range(cols - 1)):
            total = sum(float(cost[r, c]) for c, r in enumerate(path))
            if best is None or total < best:
                best = total
    return best


def dp_oracle_path(cost):
    """Same tie rule as the kernels: smallest row wins, for predecessors and the end."""
    rows, cols = cost.shape
    D = [[0] * cols for _ in range(rows)]
    back = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        D[r][0] = int(cost[r, 0])
    for c in range(1, cols):
        for r in range(rows):
            cands = [(D[p][c - 1], p) for p in (r - 1, r, r + 1) if 0 <= p < rows]
            v, p = min(cands)
            D[r][c] = v + int(cost[r, c])
            back[r][c] = p
    end = min(range(rows), key=lambda r: (D[r][cols - 1], r))
    path = [0] * cols
    r = end
    for c in range(cols - 1, -1, -1):
        path[c] = r
        r = back[r][c]
    return D[end][cols - 1], path


def test_optimal_path_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(60):
        rows, cols = int(rng.integers(1, 5)), int(rng.integers(1, 7))
        cost = rng.integers(-5, 10, (rows, cols)).astype(np.int32)
        total, path = optimal_path(cost, backend="cpu")
        assert total == brute_force_path(cost)
        assert path.dtype == np.int32 and path.shape == (cols,)
        assert np.all(np.abs(np.diff(path)) <= 1) and path.min() >= 0 and path.max() < rows
        assert cost[path, np.arange(cols)].sum() == total
        fc = (cost.astype(np.float32) * 0.25)
        ftotal, fpath = optimal_path(fc, backend="cpu")
        assert ftotal == pytest.approx(brute_force_path(fc), rel=1e-6)


def test_optimal_path_batched_matches_oracle_with_ties():
    rng = np.random.default_rng(1)
    cost = rng.integers(0, 3, (40, 9, 30)).astype(np.int32)  # many ties
    total, path = optimal_path(cost, threads=2, backend="cpu")
    assert total.dtype == np.int64 and path.shape == (40, 30)
    for b in range(40):
        t, p = dp_oracle_path(cost[b])
        assert total[b] == t and path[b].tolist() == p
    t1, p1 = optimal_path(cost, threads=1, backend="cpu")
    np.testing.assert_array_equal(t1, total)
    np.testing.assert_array_equal(p1, path)


def test_optimal_path_int64_totals_do_not_overflow():
    cost = np.full((2, 5000), 2**31 - 1, np.int32)
    total, path = optimal_path(cost, backend="cpu")
    assert total == 5000 * (2**31 - 1)


def test_optimal_path_errors():
    with pytest.raises(ValueError, match="zero columns"):
        optimal_path(np.zeros((3, 0), np.int32))
    with pytest.raises(ValueError, match="zero rows"):
        optimal_path(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        optimal_path(np.array([[1.0, np.nan]], np.float32))
    with pytest.raises(ValueError, match="shape"):
        optimal_path(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="dtype"):
        optimal_path(np.array([["a"]]))
    with pytest.raises(ValueError, match="int32"):
        optimal_path(np.array([[2**40]]))


# ---------------------------------------------------------------- Floyd-Warshall
def fw_oracle(w):
    n = w.shape[0]
    d = [[float("inf") if w[i, j] == NO_EDGE else float(w[i, j]) for j in range(n)] for i in range(n)]
    for i in range(n):
        d[i][i] = min(d[i][i], 0.0)
    for k in range(n):
        for i in range(n):
            for j in range(n):
                if d[i][k] + d[k][j] < d[i][j]:
                    d[i][j] = d[i][k] + d[k][j]
    return np.array([[NO_EDGE if v == float("inf") else int(v) for v in row] for row in d], dtype=np.int64)


def random_graph(rng, n, p, lo, hi):
    w = rng.integers(lo, hi, (n, n)).astype(np.int32)
    w[rng.random((n, n)) > p] = NO_EDGE
    return w


def test_floyd_warshall_matches_oracle(simd_levels):
    rng = np.random.default_rng(2)
    for n, p in [(1, 1.0), (2, 0.5), (7, 0.3), (25, 0.15), (40, 0.05), (70, 0.03)]:
        w = random_graph(rng, n, p, 0, 100)
        ref = fw_oracle(w)
        for level in simd_levels:
            np.testing.assert_array_equal(floyd_warshall(w, backend="cpu", simd=level, threads=2), ref)


def numpy_fw(w):
    d = w.astype(np.int64)
    d[d == NO_EDGE] = 1 << 40
    np.fill_diagonal(d, np.minimum(np.diag(d), 0))
    for k in range(d.shape[0]):
        np.minimum(d, d[:, k, None] + d[None, k, :], out=d)
    d[d >= 1 << 39] = NO_EDGE
    return d


def test_floyd_warshall_blocked_sizes_match_numpy(simd_levels):
    """Sizes around the 64-wide tiles, on every SIMD level and thread count."""
    rng = np.random.default_rng(8)
    for n in (63, 64, 65, 130, 200):
        w = random_graph(rng, n, 0.04, -20, 200)
        w[np.tril_indices(n)] = np.where(w[np.tril_indices(n)] == NO_EDGE, NO_EDGE, np.abs(w[np.tril_indices(n)]) + 20)
        ref = numpy_fw(w)
        for level in simd_levels:
            for threads in (1, 2):
                np.testing.assert_array_equal(floyd_warshall(w, backend="cpu", simd=level, threads=threads), ref)


def test_floyd_warshall_negative_edges_without_negative_cycles():
    rng = np.random.default_rng(3)
    n = 30
    # a DAG (i < j) may have negative weights and has no cycle at all
    w = random_graph(rng, n, 0.3, -50, 50)
    w[np.tril_indices(n)] = NO_EDGE
    d = floyd_warshall(w, backend="cpu")
    np.testing.assert_array_equal(d, fw_oracle(w))
    assert (d < 0).any() and (d == NO_EDGE).any()


def test_floyd_warshall_errors():
    w = np.array([[0, 1], [-2, 0]], np.int32)
    with pytest.raises(ValueError, match="negative cycle"):
        floyd_warshall(w)
    with pytest.raises(ValueError, match="square"):
        floyd_warshall(np.zeros((2, 3), np.int32))
    with pytest.raises(TypeError, match="integer"):
        floyd_warshall(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="2\\*\\*29"):
        floyd_warshall(np.full((100, 100), 2**26, np.int32))
    with pytest.raises(ValueError, match=r"weight 2147483647 at \(0, 1\) is beyond the no-edge sentinel"):
        floyd_warshall(np.array([[0, 2**31 - 1], [0, 0]], np.int64))
    with pytest.raises(ValueError, match="int32"):  # not representable: refused, not wrapped
        floyd_warshall(np.array([[0, 2**31], [0, 0]], np.int64))


# ---------------------------------------------------------------- rolling min / max
@pytest.mark.parametrize("dtype", [np.int32, np.float32])
def test_rolling_matches_numpy(dtype):
    rng = np.random.default_rng(4)
    for n, w in [(1, 1), (10, 1), (10, 10), (100, 7), (1000, 64)]:
        x = (rng.integers(-1000, 1000, (3, n)) if dtype == np.int32 else rng.standard_normal((3, n))).astype(dtype)
        view = np.lib.stride_tricks.sliding_window_view(x, w, axis=1)
        np.testing.assert_array_equal(rolling_min(x, w, backend="cpu"), view.min(axis=2))
        np.testing.assert_array_equal(rolling_max(x, w, backend="cpu"), view.max(axis=2))
        np.testing.assert_array_equal(rolling_max(x[0], w, backend="cpu"), view[0].max(axis=1))
        assert rolling_min(x, w).dtype == dtype


def test_rolling_errors():
    with pytest.raises(ValueError, match=r"window must be in 1..len\(series\)=5, got 6"):
        rolling_min(np.zeros(5, np.int32), 6)
    with pytest.raises(ValueError, match="window must be in"):
        rolling_max(np.zeros(5, np.int32), 0)
    with pytest.raises(ValueError, match="NaN"):
        rolling_max(np.array([1.0, np.nan], np.float32), 1)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        rolling_min(np.zeros((2, 2, 2), np.int32), 1)


# ---------------------------------------------------------------- DTW
def test_dtw_matches_oracle():
    rng = np.random.default_rng(5)
    for la, lb, band in [(1, 1, None), (5, 9, None), (30, 30, 3), (20, 25, 5), (20, 25, 4), (40, 33, None),
                         (7, 7, 0), (12, 9, 3), (12, 9, 2), (5, 9, 100), (1, 6, 5), (1, 1, 0)]:
        a = rng.standard_normal((4, la)).astype(np.float32)
        b = rng.standard_normal((4, lb)).astype(np.float32)
        got = dtw(a, b, band=band, backend="cpu")
        ref = [dtw_oracle(a[k], b[k], band) for k in range(4)]
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        assert dtw(a[0], b[0], band=band, backend="cpu") == pytest.approx(ref[0], rel=1e-12)
    assert dtw(np.zeros(10), np.zeros(3), band=2) == np.inf


def test_dtw_errors():
    with pytest.raises(ValueError, match="same batch"):
        dtw(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="empty"):
        dtw(np.zeros(0), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        dtw(np.array([np.nan]), np.zeros(3))
    with pytest.raises(ValueError, match="band"):
        dtw(np.zeros(3), np.zeros(3), band=-1)
