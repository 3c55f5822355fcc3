"""Smoke test: every subpackage imports and each component works once against an
independent oracle. Short (a few seconds) and without optional dependencies, so that CI
can build and run it on the oldest and the newest declared Python
(`python -m pytest tests/test_smoke.py`), besides the full suite on the default one.
"""

import importlib
import math
import pkgutil
import sys

import numpy as np
import pytest

import superinstance


def test_runs_on_a_declared_python():
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("superinstance")
    except PackageNotFoundError:
        pytest.skip("superinstance is not installed (a source-tree run)")
    lowest = tuple(int(p) for p in meta["Requires-Python"].strip().lstrip(">=").split("."))
    assert sys.version_info[:2] >= lowest
    prefix = "Programming Language :: Python :: "
    declared = {c[len(prefix):] for c in meta.get_all("Classifier") or [] if c.startswith(prefix + "3.")}
    assert "%d.%d" % lowest in declared  # the classifiers start where requires-python does


def test_every_subpackage_and_module_imports():
    names = [m.name for m in pkgutil.walk_packages(superinstance.__path__, "superinstance.")]
    assert {"superinstance.realtime_core", "superinstance.vector_navigator", "superinstance.gpu_accelerator",
            "superinstance.frozen_model_rl", "superinstance.equilibrium", "superinstance.cli"} <= set(names)
    for name in names:
        if name.endswith(".__main__") or name == "superinstance._cuda":
            continue  # __main__ runs the CLI; _cuda is optional (built only with nvcc)
        importlib.import_module(name)
    caps = superinstance.capabilities()
    assert caps["simd_level"] in caps["simd_available"]


# ------------------------------------------------------------------ realtime_core
def test_timer_ticks_on_the_virtual_clock_follow_the_exact_grid():
    from superinstance.realtime_core import Timer, VirtualClock

    clock = VirtualClock(0)
    clock.set_wake_script([100, 5_000])  # wake-up latencies, cycled
    with Timer(rate_hz=3, start_ns=0, clock=clock) as t:
        ticks = [t.tick() for _ in range(4)]
        # tick k is due at floor(k * 10**9 / 3), never at "previous wake-up + period"
        assert [tk.deadline_ns for tk in ticks] == [k * 10**9 // 3 for k in range(4)]
        assert [tk.lateness_ns for tk in ticks] == [100, 5_000, 100, 5_000]
        clock.advance(2 * 10**9)  # two seconds of "work" (now 3 s + 5 us): deadlines 4 .. 9 pass
        late = t.tick()  # skip: tick 4 fires at once, the five passed deadlines after it are dropped
        assert (late.index, late.deadline_ns, late.missed) == (4, 4 * 10**9 // 3, 5)
        after = t.tick()
        assert (after.index, after.deadline_ns) == (10, 10 * 10**9 // 3)
        assert t.stats().count == 6 and t.stats().missed == 5


def _executor_notes_work_here():
    from superinstance.realtime_core import _executor

    # exc.add_note is Python 3.11+; the realtime_core fix (a helper, _add_note) covers 3.9/3.10
    return sys.version_info >= (3, 11) or hasattr(_executor, "_add_note")


@pytest.mark.xfail(not _executor_notes_work_here(), strict=True,
                   reason="realtime_core/_executor.py calls exc.add_note (3.11+): AttributeError on 3.9/3.10 "
                          "loses the task's exception (fixed on the realtime_core branch)")
def test_executor_runs_a_task_and_reraises_its_error_once_on_close():
    import threading

    from superinstance.realtime_core import RealtimeExecutor

    calls = []
    failed = threading.Event()

    def task(tick):
        calls.append(tick.index)
        if len(calls) == 3:
            failed.set()
            raise ZeroDivisionError("third call")

    ex = RealtimeExecutor(policy="other", lock_memory=False)
    ex.add(task, rate_hz=200)
    assert ex.submit(lambda a, b: a * b, 6, 7).result(timeout=10) == 42
    assert failed.wait(10)
    with pytest.raises(ZeroDivisionError, match="third call") as info:
        ex.close()  # the kept error of the task, with a note naming the task
    assert any("raised by realtime task" in n for n in getattr(info.value, "__notes__", []))
    assert len(calls) >= 3


# ------------------------------------------------------------------ vector_navigator
def _exact_topk(x, q, k):
    s = q.astype(np.float64) @ x.astype(np.float64).T
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(s, order, 1)


def test_flat_search_matches_numpy_and_survives_save_and_load(tmp_path):
    from superinstance.vector_navigator import Index

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 24)).astype(np.float32)
    q = rng.standard_normal((7, 24)).astype(np.float32)
    ix = Index(24, metric="ip", threads=1)
    ix.add(x)
    ids, scores = ix.search(q, k=5)
    ref_ids, ref_scores = _exact_topk(x, q, 5)
    # float32 sums differ from float64 in the last bits (|score| <~ 30, 24 terms): 1e-4 absolute
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-4)
    gaps = np.diff(ref_scores, axis=1)
    clear = np.concatenate([gaps[:, :1], np.minimum(gaps[:, 1:], gaps[:, :-1]), gaps[:, -1:]], 1) < -1e-3
    assert np.array_equal(ids.astype(np.int64)[clear], ref_ids[clear])  # ids wherever no near-tie
    path = str(tmp_path / "ix.sif")
    ix.save(path)
    loaded = Index.load(path)
    ids2, scores2 = loaded.search(q, k=5)
    assert np.array_equal(ids2, ids) and np.array_equal(scores2, scores)


def test_hnsw_recall_against_brute_force():
    from superinstance.vector_navigator import Index

    rng = np.random.default_rng(1)
    x = rng.standard_normal((800, 16)).astype(np.float32)
    q = rng.standard_normal((20, 16)).astype(np.float32)
    ix = Index(16, metric="cosine", kind="hnsw", M=8, ef_construction=64, ef_search=64, threads=1)
    ix.add(x)
    ids, _ = ix.search(q, k=10)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    ref, _ = _exact_topk(xn, q, 10)
    recall = np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(ids.astype(np.int64), ref)])
    assert recall >= 0.9


# ------------------------------------------------------------------ frozen_model_rl
def test_linucb_scores_match_the_formula_and_survive_save_and_load(tmp_path):
    from superinstance.frozen_model_rl import LinUCB, load_policy

    rng = np.random.default_rng(2)
    n_arms, dim, alpha, lam = 3, 4, 0.7, 1.5
    policy = LinUCB(n_arms, dim, alpha=alpha, lam=lam)
    A = [lam * np.eye(dim) for _ in range(n_arms)]
    b = [np.zeros(dim) for _ in range(n_arms)]
    for _ in range(40):
        arm, x, r = int(rng.integers(n_arms)), rng.uniform(-1, 1, dim), float(rng.uniform())
        policy.update((arm, x), r)
        A[arm] += np.outer(x, x)
        b[arm] += r * x
    x = rng.uniform(-1, 1, dim)
    expected = [np.linalg.solve(A[a], b[a]) @ x + alpha * math.sqrt(x @ np.linalg.solve(A[a], x))
                for a in range(n_arms)]
    d = policy.select(x, track=False)
    assert d.arm == int(np.argmax(expected))
    # float64 Sherman-Morrison updates against numpy's solve: agreement to ~1e-12 relative
    assert d.score == pytest.approx(max(expected), rel=1e-9)
    path = str(tmp_path / "policy.si")
    policy.save(path)
    again = load_policy(path).select(x, track=False)
    assert again.arm == d.arm and again.score == pytest.approx(d.score, rel=1e-12)
    tracked = policy.select(x)
    policy.update(tracked, 1.0)  # the tracked path: a decision and its reward


# ------------------------------------------------------------------ gpu_accelerator (DP, CPU twin)
def _gotoh(q, t, score, gap_open, gap_extend, local=True):
    """Smith-Waterman (local) or Needleman-Wunsch (global) with affine gaps in plain Python:
    a gap of k positions costs gap_open + (k - 1) * gap_extend."""
    neg = -10**9
    n, m = len(q), len(t)
    edge = (lambda k: 0) if local else (lambda k: -(gap_open + (k - 1) * gap_extend) if k else 0)
    H = [[edge(j) if i == 0 else edge(i) if j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    E = [[neg] * (m + 1) for _ in range(n + 1)]
    F = [[neg] * (m + 1) for _ in range(n + 1)]
    best = 0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            E[i][j] = max(E[i][j - 1] - gap_extend, H[i][j - 1] - gap_open)
            F[i][j] = max(F[i - 1][j] - gap_extend, H[i - 1][j] - gap_open)
            h = max(H[i - 1][j - 1] + score(q[i - 1], t[j - 1]), E[i][j], F[i][j])
            H[i][j] = max(0, h) if local else h
            best = max(best, H[i][j])
    return best if local else H[n][m]


def test_alignment_scores_match_a_python_dp():
    from superinstance.gpu_accelerator import BLOSUM62, nw_scores, sw_scores

    rng = np.random.default_rng(3)
    alphabet = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)
    query = rng.choice(alphabet, 30).tobytes()
    targets = [rng.choice(alphabet, int(k)).tobytes() for k in rng.integers(0, 40, 12)]
    scores = np.asarray(BLOSUM62.scores)

    def blosum(a, b):
        return int(scores[BLOSUM62.code_of[a], BLOSUM62.code_of[b]])

    assert sw_scores("HEAGAWGHEE", ["PAWHEAE"])[0] == 17  # the textbook pair (docs example)
    for go, ge in ((11, 1), (5, 5)):
        sw = sw_scores(query, targets, gap_open=go, gap_extend=ge, threads=1, backend="cpu")
        assert sw.tolist() == [_gotoh(query, t, blosum, go, ge) for t in targets]
    nw = nw_scores(query, targets[:4], gap_open=11, gap_extend=1, threads=1, backend="cpu")
    assert nw.tolist() == [_gotoh(query, t, blosum, 11, 1, local=False) for t in targets[:4]]


def test_sentiment_head_and_cosine_cpu_twin_match_float64_numpy():
    import superinstance.gpu_accelerator as ga

    head = ga.SentimentHead.default(backend="cpu")
    x = np.random.default_rng(4).standard_normal((5, head.in_features)).astype(np.float32)
    w = {k: v.astype(np.float64) for k, v in head.weights.items()}
    z = w["w2"] @ np.maximum(w["w1"] @ x.astype(np.float64).T + w["b1"][:, None], 0) + w["b2"][:, None]
    vad = np.stack([np.tanh(z[0]), 1 / (1 + np.exp(-z[1])), 1 / (1 + np.exp(-z[2]))], axis=1)
    # float32 layers of 16 and 32 terms of order 1: errors ~1e-6, far inside 1e-4
    np.testing.assert_allclose(head.predict(x), vad, rtol=0, atol=1e-4)
    sims = ga.cosine_similarity(x[:2], x)
    xn = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(sims, xn[:2] @ xn.T, rtol=0, atol=1e-5)


# ------------------------------------------------------------------ equilibrium
def test_equilibrium_loop_runs_a_few_ticks():
    from superinstance.equilibrium.data import ConversationStream, SimulatedUser
    from superinstance.equilibrium.demo import build_default
    from superinstance.equilibrium.loop import run_loop, simulated_user_reward

    built = build_default(rate_hz=50.0, per_subtopic=5, kind="flat")
    orch = built["orchestrator"]
    record = run_loop(orch, 0.1, ConversationStream(built["corpus"], seed=1),
                      simulated_user_reward(SimulatedUser(), built["arms"]))
    assert not record["errors"]
    ticks = record["ticks"]
    assert len(ticks) + record["timer"]["missed_ticks"] == 5  # every deadline of 0.1 s at 50 Hz accounted for
    for row in ticks:
        assert 0.0 <= row["confidence"] <= 1.0 and 0.0 <= row["reward"] <= 1.0
    # the confidence is the weighted geometric product of the four factors
    res = orch.orchestrate(built["corpus"].embeddings[0], sentiment=(0.2, 0.5, 0.5))
    f, w = res.factors, res.weights
    product = (f.rate ** w.rate) * (f.context ** w.context) * (f.sentiment ** w.sentiment) \
        * (f.interruption ** w.interruption)
    assert res.confidence == pytest.approx(product, rel=1e-9)
