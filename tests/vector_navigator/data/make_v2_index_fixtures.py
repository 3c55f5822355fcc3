"""Writes format-version-2 vector index files (index_v2_<case>.sif) with the
build of main at 3d94b7b, before the index's save/load moved to index_io.cpp
and onto common/byte_io.hpp (#17). test_saved_bytes.py checks that loading each
file and saving it again gives the same bytes, so the format cannot drift.

    PYTHONPATH=<main's build>/python python make_v2_index_fixtures.py tests/vector_navigator/data
"""
import os
import sys

import numpy as np
from superinstance import _core
from superinstance.vector_navigator import Index

# Every section of the format: f32 rows, f16 and i8 codes with their padding
# (odd dims), scales and squared norms, removed slots, the HNSW graph, payload,
# and an attachment.
CASES = {
    "flat_f32": dict(dim=12, metric="cosine", kind="flat"),
    "hnsw_f16": dict(dim=7, metric="l2", kind="hnsw", dtype="f16", M=6, ef_construction=40),
    "hnsw_i8": dict(dim=9, metric="ip", kind="hnsw", dtype="i8", M=4, ef_construction=30),
}
ATTACHMENT = b"attachment bytes \x00\x01\x02"


def build(case):
    kw = dict(CASES[case])
    dim = kw.pop("dim")
    ix = Index(dim, **kw)
    rng = np.random.default_rng(31)
    n = 50
    x = rng.standard_normal((n, dim)).astype(np.float32)
    vad = np.stack([rng.uniform(-1, 1, n), rng.uniform(0, 1, n), rng.uniform(0, 1, n)], 1).astype(np.float32)
    vad[::7] = np.nan  # some rows without a sentiment
    ts = np.arange(n, dtype=np.float64) * 10.0
    ts[::5] = np.nan
    ix.add(x, np.arange(500, 500 + n, dtype=np.uint64), sentiment=vad, timestamps=ts,
           labels=np.arange(n, dtype=np.int64) % 4)
    if kw["kind"] == "hnsw":
        ix.remove(np.array([503, 517, 540], dtype=np.uint64))
    return ix


def main(out):
    for case in CASES:
        ix = build(case)
        path = os.path.join(out, f"index_v2_{case}.sif")
        ix._ix.save(path, ATTACHMENT)
        assert _core.VectorIndex.load(path, False, 0).attachment == ATTACHMENT


if __name__ == "__main__":
    main(sys.argv[1])
