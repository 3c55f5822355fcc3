"""Independent references for the gpu_accelerator CPU kernels, and the error bounds that
justify each float tolerance (integer DP results are compared exactly).

Bounds use u = 2**-24 (float32 unit roundoff) and gamma(n) = n u / (1 - n u), the classic
bound on the error of any order of n float additions/FMAs (Higham, Accuracy and Stability of
Numerical Algorithms, 3.1). They hold for every SIMD level and summation order, so a test
that uses them compares each level with the float64 oracle, never levels with each other.
"""

from __future__ import annotations

import numpy as np

U32 = 2.0 ** -24


def gamma(n: int) -> float:
    return n * U32 / (1 - n * U32)


# ----------------------------------------------------------------------------- cosine
def oracle_cos(q, k) -> np.ndarray:
    """Cosine in float64 of the float32 inputs, 0 for a zero vector. Rows are divided by their
    max-abs first so that no float32 magnitude (3e38 or 1e-45) over- or underflows."""
    q, k = np.asarray(q, np.float64), np.asarray(k, np.float64)

    def unit(a):
        s = np.abs(a).max(axis=1, keepdims=True) if a.size else np.ones((a.shape[0], 1))
        s[s == 0] = 1.0
        a = a / s
        n = np.linalg.norm(a, axis=1, keepdims=True)
        n[n == 0] = 1.0
        return a / n

    return np.clip(unit(q) @ unit(k).T, -1.0, 1.0)


def cos_tolerance(dim: int) -> float:
    """|float32 kernel - oracle|: the dot product and both squared norms each carry at most
    gamma(dim) relative to |q||k| (Cauchy-Schwarz bounds sum|q_i k_i| by |q||k|), a square
    root halves a relative error, and the final products, the inverse and the cast add a few u:
    (2 dim + 8) u in all. Rows rescaled by a power of two lose only components below 2^-126
    of a norm >= 1/2, which is far below this."""
    return (2 * dim + 8) * U32 * 1.01


# ----------------------------------------------------------------------------- sentiment head
def oracle_head(w, x) -> np.ndarray:
    """The sentiment head in float64 (no float64 overflow is possible for float32 inputs)."""
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    x = np.asarray(x, np.float64)
    h = np.maximum(x @ w["w1"].T + w["b1"], 0.0)
    z = h @ w["w2"].T + w["b2"]
    with np.errstate(over="ignore"):
        sig = np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))
    return np.stack([np.tanh(z[:, 0]), sig[:, 1], sig[:, 2]], axis=1)


def head_tolerance(w, x) -> np.ndarray:
    """Per-output bound on |float32 head - oracle| (running error analysis): a hidden
    pre-activation is off by at most e1 = gamma(in + 1) (sum|w1||x| + |b1|), ReLU does not
    grow it; an output pre-activation by gamma(hidden + 1) (sum|w2||h| + |b2|) + sum|w2| e1;
    tanh and sigmoid are 1- and 1/4-Lipschitz, and the output itself is rounded (a few u).
    Rows whose float sums overflow are recomputed in double, far inside this bound."""
    w = {k: np.abs(np.asarray(v, np.float64)) for k, v in w.items()}
    ax = np.abs(np.asarray(x, np.float64))
    n_in, hid = w["w1"].shape[1], w["w1"].shape[0]
    pre_abs = ax @ w["w1"].T + w["b1"]
    e1 = gamma(n_in + 1) * pre_abs
    ez = gamma(hid + 1) * (pre_abs @ w["w2"].T + w["b2"]) + e1 @ w["w2"].T
    return np.minimum(ez, 2.0) * 1.01 + 4 * U32


# ----------------------------------------------------------------------------- alignment
def align_oracle(query: bytes, target: bytes, scores: np.ndarray, code_of: np.ndarray, gap_open: int,
                 gap_extend: int, global_: bool) -> int:
    """Gotoh's affine-gap DP, straight from the definition: a gap of k letters costs
    gap_open + (k - 1) gap_extend; local (Smith-Waterman, floor 0, best cell) or global
    (Needleman-Wunsch, end gaps penalised, last cell)."""
    q = [int(code_of[b]) for b in query]
    t = [int(code_of[b]) for b in target]
    m, n = len(q), len(t)
    neg = -(1 << 60)

    def gap(k):
        return -(gap_open + (k - 1) * gap_extend) if k > 0 else 0

    H = [[0] * (n + 1) for _ in range(m + 1)]
    E = [[neg] * (n + 1) for _ in range(m + 1)]  # ends with a gap in the query (target letter)
    F = [[neg] * (n + 1) for _ in range(m + 1)]  # ends with a gap in the target (query letter)
    if global_:
        for j in range(1, n + 1):
            H[0][j] = E[0][j] = gap(j)
        for i in range(1, m + 1):
            H[i][0] = F[i][0] = gap(i)
    best = 0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            E[i][j] = max(E[i][j - 1] - gap_extend, H[i][j - 1] - gap_open)
            F[i][j] = max(F[i - 1][j] - gap_extend, H[i - 1][j] - gap_open)
            h = max(H[i - 1][j - 1] + int(scores[q[i - 1], t[j - 1]]), E[i][j], F[i][j])
            H[i][j] = h if global_ else max(h, 0)
            best = max(best, H[i][j])
    return H[m][n] if global_ else best


# ----------------------------------------------------------------------------- other DPs
def dtw_oracle(a, b, band=None) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    la, lb = len(a), len(b)
    D = np.full((la + 1, lb + 1), np.inf)
    D[0, 0] = 0.0
    for i in range(1, la + 1):
        for j in range(1, lb + 1):
            if band is not None and abs(i - j) > band:
                continue
            D[i, j] = abs(a[i - 1] - b[j - 1]) + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return float(D[la, lb])


def floyd_oracle(w: np.ndarray, no_edge: int):
    """(distances with no_edge for unreachable, has_negative_cycle), numpy triple loop in
    float64 (exact for these integers); a vertex reaches itself at cost min(w_ii, 0)."""
    d = np.where(w == no_edge, np.inf, w.astype(np.float64))
    n = len(d)
    idx = np.arange(n)
    d[idx, idx] = np.minimum(d[idx, idx], 0.0)
    for k in range(n):
        d = np.minimum(d, d[:, k:k + 1] + d[k:k + 1, :])
    negative = bool((d[idx, idx] < 0).any())
    return np.where(np.isinf(d), no_edge, d).astype(np.int64), negative


def optimal_path_oracle(cost: np.ndarray):
    """(total, path): one row per column, steps of at most one row, minimal total; sums in
    float64 (or Python ints), the predecessor of a cell is the smallest row among the best
    and the end is the smallest best row: the rule the docs state."""
    R, C = cost.shape
    integer = cost.dtype.kind in "iu"
    val = (lambda r, c: int(cost[r, c])) if integer else (lambda r, c: float(cost[r, c]))
    prev = [val(r, 0) for r in range(R)]
    back = [[0] * C for _ in range(R)]
    for c in range(1, C):
        cur = []
        for r in range(R):
            best, off = prev[r], 0
            if r > 0 and prev[r - 1] <= best:
                best, off = prev[r - 1], -1
            if r + 1 < R and prev[r + 1] < best:
                best, off = prev[r + 1], 1
            cur.append(best + val(r, c))
            back[r][c] = off
        prev = cur
    end = min(range(R), key=lambda r: (prev[r], r))
    path, r = [0] * C, end
    for c in range(C - 1, -1, -1):
        path[c] = r
        r += back[r][c]
    return prev[end], path
