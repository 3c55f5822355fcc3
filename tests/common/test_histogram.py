"""LatencyHistogram against numpy's exact nearest-rank percentiles."""

import math

import numpy as np
import pytest

from superinstance import LatencyHistogram

QS = [0, 1, 10, 50, 90, 95, 99, 99.9, 99.99, 100]


def exact(values, q):
    return float(np.percentile(values, q, method="inverted_cdf"))


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "bimodal", "small"])
def test_percentiles_within_one_percent(dist):
    rng = np.random.default_rng(123)
    n = 100_000
    if dist == "lognormal":
        v = rng.lognormal(11, 1.5, n)
    elif dist == "uniform":
        v = rng.uniform(0, 5e9, n)
    elif dist == "bimodal":
        v = np.concatenate([rng.normal(2e5, 1e4, n // 2), rng.normal(5e7, 1e6, n // 2)])
    else:
        v = rng.integers(0, 300, n)
    v = np.abs(np.rint(v)).astype(np.int64)
    h = LatencyHistogram()
    h.record_batch(v)
    assert h.count == n
    got = h.percentiles(QS)
    for q, g in zip(QS, got):
        e = exact(v, q)
        assert g == pytest.approx(e, rel=0.01, abs=0.5), q
    assert h.min == v.min() and h.max == v.max()
    assert h.mean == pytest.approx(v.mean(), rel=1e-12)


def test_record_scalar_and_float_arrays_agree():
    a, b = LatencyHistogram(), LatencyHistogram()
    for x in [0, 1, 255, 256, 1000, 123456789]:
        a.record(x)
        b.record(float(x))
    b2 = LatencyHistogram()
    b2.record_batch(np.array([0, 1, 255, 256, 1000, 123456789], dtype=np.float64))
    assert np.array_equal(a.bucket_counts(), b.bucket_counts())
    assert np.array_equal(a.bucket_counts(), b2.bucket_counts())


def test_merge_and_reset():
    rng = np.random.default_rng(5)
    v = rng.integers(0, 10**7, 10_000)
    a, b, all_ = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    a.record_batch(v[:4000])
    b.record_batch(v[4000:])
    all_.record_batch(v)
    a.merge(b)
    assert np.array_equal(a.bucket_counts(), all_.bucket_counts())
    assert a.summary() == all_.summary()
    a.reset()
    assert a.count == 0 and len(a) == 0
    assert math.isnan(a.percentile(50))


def test_summary_keys():
    h = LatencyHistogram()
    h.record(1000, count=10)
    s = h.summary()
    assert s["count"] == 10 and s["p99"] == 1000 and s["p999"] == 1000 and s["max"] == 1000


@pytest.mark.parametrize("bad", [-1, -1.0, float("nan"), float("inf")])
def test_bad_scalar_values_raise(bad):
    h = LatencyHistogram()
    with pytest.raises(ValueError, match="NaN|infinite|>= 0"):
        h.record(bad)
    assert h.count == 0


def test_bad_arrays_store_nothing():
    h = LatencyHistogram()
    h.record(5)
    with pytest.raises(ValueError, match="NaN at position 2"):
        h.record_batch(np.array([1.0, 2.0, np.nan]))
    with pytest.raises(ValueError, match="at position 1"):
        h.record_batch(np.array([1, -3], dtype=np.int64))
    with pytest.raises(TypeError, match="dtype"):
        h.record_batch(np.array(["a"]))
    assert h.count == 1


def test_bad_percentile_raises():
    h = LatencyHistogram()
    h.record(1)
    for q in (-1, 100.5, float("nan")):
        with pytest.raises(ValueError, match="percentile"):
            h.percentile(q)
