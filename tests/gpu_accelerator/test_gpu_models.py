"""The sentiment head and batched cosine similarity: CPU backend against float64 numpy
oracles on every SIMD level, weights files, bad input; CUDA backend when a GPU exists."""

import numpy as np
import pytest

from gpu_oracles import cos_tolerance, head_tolerance, oracle_cos, oracle_head
from superinstance import _core
from superinstance.errors import GpuUnavailableError
from superinstance.gpu_accelerator import (SentimentHead, backend_reason, cosine_similarity,
                                           default_backend, default_weights)

HAS_GPU = default_backend() == "cuda"


def random_weights(rng, n_in, hidden):
    w = {"w1": rng.standard_normal((hidden, n_in)) / np.sqrt(n_in),
         "b1": rng.standard_normal(hidden) * 0.1,
         "w2": rng.standard_normal((3, hidden)) / np.sqrt(hidden),
         "b2": rng.standard_normal(3) * 0.1}
    return {k: v.astype(np.float32) for k, v in w.items()}


@pytest.mark.parametrize("n_in,hidden,batch", [(16, 32, 1), (16, 32, 256), (7, 5, 33),
                                               (384, 64, 3), (1, 1, 2), (100, 130, 4097)])
def test_sentiment_head_cpu_matches_float64_on_every_simd_level(simd_levels, n_in, hidden, batch):
    rng = np.random.default_rng(n_in * 1000 + hidden)
    w = random_weights(rng, n_in, hidden)
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    ref = oracle_head(w, x)
    head = _core.SentimentHeadCpu(w["w1"], w["b1"], w["w2"], w["b2"])
    for level in simd_levels:
        for threads in (1, 2, 0):
            out = head.forward(x, level, threads)
            assert out.shape == (batch, 3) and out.dtype == np.float32
            assert (np.abs(out - ref) <= head_tolerance(w, x)).all(), f"{level}/{threads}"


def test_sentiment_ranges_and_facade():
    head = SentimentHead.default(backend="cpu")
    x = np.random.default_rng(1).standard_normal((500, head.in_features)) * 10
    out = head.predict(x)  # float64 input is converted (documented)
    assert out.shape == (500, 3) and out.dtype == np.float32
    assert (out[:, 0] >= -1).all() and (out[:, 0] <= 1).all()
    assert (out[:, 1:] >= 0).all() and (out[:, 1:] <= 1).all()
    x32 = x.astype(np.float32)
    assert (np.abs(out - oracle_head(head.weights, x32)) <= head_tolerance(head.weights, x32)).all()
    one = head(x[0])
    assert one.shape == (3,)
    np.testing.assert_array_equal(one, out[0])


def test_default_weights_are_deterministic_and_documented():
    a, b = default_weights(16, 32, 0), default_weights(16, 32, 0)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    rng = np.random.default_rng(0)  # the documented recipe
    np.testing.assert_array_equal(a["w1"], (rng.standard_normal((32, 16)) * np.sqrt(2 / 16)).astype(np.float32))
    np.testing.assert_array_equal(a["w2"], (rng.standard_normal((3, 32)) * np.sqrt(1 / 32)).astype(np.float32))
    assert not np.array_equal(default_weights(16, 32, 1)["w1"], a["w1"])


def test_weights_file_round_trip_and_validation(tmp_path):
    head = SentimentHead.default(in_features=8, hidden=4, seed=3, backend="cpu")
    p = tmp_path / "w.npz"
    head.save(p)
    again = SentimentHead.load(p, backend="cpu")
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    np.testing.assert_array_equal(again.predict(x), head.predict(x))

    w = head.weights
    bad = dict(w)
    del bad["b2"]
    np.savez(tmp_path / "missing.npz", **bad)
    with pytest.raises(ValueError, match="missing \\['b2'\\]"):
        SentimentHead.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "extra.npz", **w, junk=np.zeros(1))
    with pytest.raises(ValueError, match="unexpected \\['junk'\\]"):
        SentimentHead.load(tmp_path / "extra.npz")
    nan = dict(w)
    nan["w1"] = w["w1"].copy()
    nan["w1"][1, 2] = np.nan
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(ValueError, match="w1 holds a non-finite value"):
        SentimentHead.load(tmp_path / "nan.npz")
    shape = dict(w)
    shape["w2"] = np.zeros((2, 4), np.float32)
    np.savez(tmp_path / "shape.npz", **shape)
    with pytest.raises(ValueError, match="w2 must have shape \\(3, 4\\)"):
        SentimentHead.load(tmp_path / "shape.npz")
    ints = dict(w)
    ints["b1"] = np.zeros(4, np.int32)
    np.savez(tmp_path / "int.npz", **ints)
    with pytest.raises(TypeError, match="b1 must be a floating-point"):
        SentimentHead.load(tmp_path / "int.npz")
    b1 = dict(w)
    b1["b1"] = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match="b1 has 5 values, expected 4"):
        SentimentHead(**b1, backend="cpu")


def test_sentiment_bad_features():
    head = SentimentHead.default(backend="cpu")
    with pytest.raises(ValueError, match="17 columns.*expects 16"):
        head.predict(np.zeros((2, 17), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        head.predict(np.zeros((2, 16), np.int64))
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        head.predict(np.zeros((2, 2, 16), np.float32))
    x = np.zeros((3, 16), np.float32)
    x[2, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity \\(flat index 37\\)"):
        head.predict(x)
    # Non-contiguous input is copied by the facade and gives the same result.
    big = np.random.default_rng(2).standard_normal((4, 32)).astype(np.float32)
    np.testing.assert_array_equal(head.predict(big[:, ::2]), head.predict(big[:, ::2].copy()))
    # The binding itself refuses what the facade would convert.
    cpu = _core.SentimentHeadCpu(**head.weights)
    with pytest.raises(TypeError, match="float32"):
        cpu.forward(np.zeros((1, 16)))
    with pytest.raises(ValueError, match="C-contiguous"):
        cpu.forward(big[:, ::2])
    with pytest.raises(ValueError, match="unknown SIMD level"):
        cpu.forward(np.zeros((1, 16), np.float32), "sse9")
    assert head.predict(np.zeros((0, 16), np.float32)).shape == (0, 3)


@pytest.mark.parametrize("m,n,d", [(1, 1000, 384), (64, 300, 384), (5, 7, 3), (3, 129, 17),
                                   (4, 129, 17), (9, 1000, 5), (2, 5000, 1)])
def test_cosine_cpu_matches_float64_on_every_simd_level(simd_levels, m, n, d):
    rng = np.random.default_rng(m * 7 + n + d)
    q = rng.standard_normal((m, d)).astype(np.float32)
    k = (rng.standard_normal((n, d)) * rng.uniform(0.01, 100, (n, 1))).astype(np.float32)
    ref = oracle_cos(q, k)
    for level in simd_levels:
        for threads in (1, 2, 0):
            out = _core.cosine_matrix_cpu(q, k, level, threads)
            assert out.shape == (m, n) and out.dtype == np.float32
            np.testing.assert_allclose(out, ref, rtol=0, atol=cos_tolerance(d), err_msg=f"{level}/{threads}")


def test_cosine_facade_edge_cases():
    k = np.array([[1, 0], [0, 0], [-2, 0], [1, 1]], np.float32)
    out = cosine_similarity(np.array([3.0, 0.0]), k, backend="cpu")
    np.testing.assert_allclose(out, [1, 0, -1, np.sqrt(0.5)], rtol=0, atol=cos_tolerance(2))
    assert cosine_similarity(np.zeros((1, 2)), k, backend="cpu").tolist() == [[0, 0, 0, 0]]
    # self-similarity never exceeds 1 despite rounding
    x = np.random.default_rng(0).standard_normal((50, 384)).astype(np.float32)
    diag = np.diag(cosine_similarity(x, x, backend="cpu"))
    assert (diag <= 1.0).all() and np.allclose(diag, 1.0, rtol=0, atol=cos_tolerance(384))
    with pytest.raises(ValueError, match="queries have dim 3, keys have dim 2"):
        cosine_similarity(np.zeros((1, 3)), k)
    with pytest.raises(TypeError, match="keys must be a floating-point"):
        cosine_similarity(np.zeros((1, 2)), k.astype(np.int32))
    with pytest.raises(ValueError, match="keys must be 2-D"):
        cosine_similarity(np.zeros((1, 2)), k[0])
    bad = k.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="keys holds NaN or infinity \\(flat index 7\\)"):
        cosine_similarity(np.ones(2), bad, backend="cpu")
    with pytest.raises(ValueError, match="backend must be one of"):
        cosine_similarity(np.ones(2), k, backend="tpu")
    assert cosine_similarity(np.zeros((0, 2)), k).shape == (0, 4)


def test_cuda_backend_refused_without_gpu():
    if HAS_GPU:
        pytest.skip("a GPU is usable here")
    with pytest.raises(GpuUnavailableError, match="no GPU is usable: .+"):
        SentimentHead.default(backend="cuda")
    with pytest.raises(GpuUnavailableError, match="no GPU is usable"):
        cosine_similarity(np.ones(2), np.ones((1, 2)), backend="cuda")
    head = SentimentHead.default(backend="auto")
    assert head.backend == "cpu" and head.backend_reason == backend_reason()
    assert SentimentHead.default(backend="cpu").backend_reason == "backend='cpu' requested"
    with pytest.raises(GpuUnavailableError, match="CPU backend"):
        head.forward_device(None, None)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU: {backend_reason()}")
@pytest.mark.parametrize("batch", [1, 256, 1000])
def test_sentiment_cuda_matches_cpu(batch):
    rng = np.random.default_rng(batch)
    w = random_weights(rng, 16, 32)
    x = rng.standard_normal((batch, 16)).astype(np.float32)
    g = SentimentHead(**w, backend="cuda")
    c = SentimentHead(**w, backend="cpu")
    tol = head_tolerance(w, x)
    assert (np.abs(g.predict(x) - oracle_head(w, x)) <= tol).all()
    assert (np.abs(g.predict(x) - c.predict(x)) <= 2 * tol).all()  # each within tol of the oracle
    x2 = x[::-1].copy()  # same batch size: the cached graph runs on new data
    assert (np.abs(g.predict(x2) - c.predict(x2)) <= 2 * tol[::-1]).all()
    g.close()


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU: {backend_reason()}")
def test_sentiment_cuda_graph_cache_evicts_and_recovers():
    g = SentimentHead.default(backend="cuda")
    c = SentimentHead.default(backend="cpu")
    rng = np.random.default_rng(5)
    for batch in (1, 2, 3, 4, 5, 6, 1, 7, 2):
        x = rng.standard_normal((batch, 16)).astype(np.float32)
        assert (np.abs(g.predict(x) - c.predict(x)) <= 2 * head_tolerance(c.weights, x)).all()
    assert len(g._plans) == 4
    assert g.predict(np.zeros((0, 16), np.float32)).shape == (0, 3)
    g.close()
    assert not g._plans


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU: {backend_reason()}")
@pytest.mark.parametrize("m,n,d", [(1, 10000, 384), (64, 1000, 384), (3, 7, 5)])
def test_cosine_cuda_matches_float64(m, n, d):
    rng = np.random.default_rng(m + n + d)
    q = rng.standard_normal((m, d)).astype(np.float32)
    k = rng.standard_normal((n, d)).astype(np.float32)
    k[0] = 0
    np.testing.assert_allclose(cosine_similarity(q, k, backend="cuda"), oracle_cos(q, k), rtol=0,
                               atol=cos_tolerance(d))
