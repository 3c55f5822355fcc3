"""Property-based fuzzing of the core's own public calls: LatencyHistogram and the
atomic, checksummed files (superinstance.storage). Bad input raises a clear error and
changes nothing; good input matches an independent oracle (numpy nearest-rank
percentiles, a bit-by-bit CRC-32C, the bytes written)."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_helpers import assert_rejected_cleanly, bad_values
from superinstance import LatencyHistogram
from superinstance.storage import AtomicWriter, crc32c, read_header, read_verified, write_atomic

pytestmark = pytest.mark.fuzz

MAX_NS = 2**48  # values at or above share the last bucket (documented), so the 0.4% bound stops here


def _state(h):
    return h.bucket_counts(), h.count, h.min, h.max


@given(st.lists(st.integers(0, MAX_NS - 1), min_size=1, max_size=300), st.sampled_from([0, 1, 37, 50, 99, 99.9, 100]))
def test_histogram_matches_nearest_rank_percentiles(values, q):
    v = np.array(values, dtype=np.int64)
    h = LatencyHistogram()
    h.record_batch(v)
    assert (h.count, h.min, h.max) == (len(v), v.min(), v.max())
    assert h.mean == pytest.approx(v.mean(), rel=1e-9)
    exact = float(np.percentile(v, q, method="inverted_cdf"))
    # The bucket's midpoint: within 1/256 of the value (half of a 1/128-wide bucket), exact below 256.
    assert h.percentile(q) == pytest.approx(exact, rel=1 / 256, abs=0.5)


@given(st.data())
def test_histogram_refuses_bad_input_and_keeps_its_counts(data):
    h = LatencyHistogram()
    h.record_batch(np.array([5, 500, 5_000_000], dtype=np.int64))
    snap = lambda: _state(h)  # noqa: E731
    bad = data.draw(bad_values())
    calls = [
        lambda: h.record(bad),
        lambda: h.record(10, bad),
        lambda: h.percentile(bad),
        lambda: h.percentiles(bad),
        lambda: h.percentiles([50, bad]),
        lambda: h.merge(bad),
        lambda: h.record_batch(bad),
    ]
    for call in calls:
        if not assert_rejected_cleanly(call, snap):
            continue
        h = LatencyHistogram()  # accepted (e.g. record(3)): start again from a known state
        h.record_batch(np.array([5, 500, 5_000_000], dtype=np.int64))


@given(st.sampled_from([np.float64, np.float32, np.int32, np.uint64, np.int8]),
       st.sampled_from([np.nan, np.inf, -1, 2.0**63, 1e19]))
def test_histogram_record_batch_stores_nothing_if_any_value_is_bad(dtype, poison):
    h = LatencyHistogram()
    with np.errstate(invalid="ignore", over="ignore"):
        v = np.array([1, 2, poison, 3]).astype(dtype)
    before = _state(h)
    if assert_rejected_cleanly(lambda: h.record_batch(v)):
        assert np.all(v >= 0)  # an integer cast made the poison valid: it was stored whole
    else:
        np.testing.assert_array_equal(_state(h)[0], before[0])
    with pytest.raises(ValueError, match="1-D"):
        h.record_batch(np.ones((2, 2)))


def _crc32c_reference(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli), reflected, bit by bit: the definition, not a table."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@given(st.binary(max_size=300), st.integers(0, 2**32 - 1))
def test_crc32c_matches_the_definition(data, seed):
    assert crc32c(data) == _crc32c_reference(data)
    assert crc32c(data, seed) == _crc32c_reference(data, seed)
    half = len(data) // 2  # chaining: crc of a whole = crc of the rest seeded with the first part's
    assert crc32c(data[half:], crc32c(data[:half])) == crc32c(data)


@given(st.binary(max_size=2000), st.text("abcdefghijklmno_", min_size=1, max_size=15),
       st.integers(1, 2**32 - 1), st.integers(0, 2**32 - 1))  # versions start at 1
def test_saved_files_round_trip(tmp_path_factory, payload, kind, version, flags):
    path = tmp_path_factory.mktemp("rt") / "f.bin"
    write_atomic(path, kind, version, payload, flags)
    header, got = read_verified(path, kind, version)
    assert got == payload
    assert (header["kind"], header["version"], header["flags"], header["payload_size"]) == \
        (kind, version, flags, len(payload))
    assert header["payload_crc32c"] == _crc32c_reference(payload)
    assert read_header(path) == header


@given(st.data())
def test_saved_file_calls_refuse_bad_input_and_keep_the_file(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("bad")
    path = d / "keep.bin"
    write_atomic(path, "keep", 1, b"precious")
    original = path.read_bytes()
    snap = lambda: (path.read_bytes(), sorted(os.listdir(d)))  # noqa: E731
    bad = data.draw(bad_values())
    bad_path = None if isinstance(bad, (str, bytes)) else bad  # a str/bytes path is a valid (other) file
    calls = [
        lambda: write_atomic(path, bad, 1, b"x"),
        lambda: write_atomic(path, "keep", bad, b"x"),
        lambda: write_atomic(path, "keep", 1, bad),
        lambda: write_atomic(path, "keep", 1, b"x", bad),
        lambda: read_verified(path, bad, 1),
        lambda: read_verified(path, "keep", bad),
        lambda: crc32c(bad),
        lambda: crc32c(b"x", bad),
        lambda: AtomicWriter(path, "keep", bad),
    ]
    if bad_path is not None:
        calls += [lambda: write_atomic(bad_path, "keep", 1, b"x"), lambda: read_header(bad_path)]
    for call in calls:
        try:
            accepted = assert_rejected_cleanly(call, snap)
        except OSError as e:  # e.g. reading with another kind: names the file
            assert e.filename or str(e)
            accepted = False
        if accepted:  # a valid call after all (kind "a", version 7, ...): back to the known file
            write_atomic(path, "keep", 1, b"precious")
        assert path.read_bytes() == original, "a refused call changed the saved file"
        assert sorted(os.listdir(d)) == ["keep.bin"], "a refused or finished write left a temporary file"
