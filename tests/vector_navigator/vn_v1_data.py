"""The data inside tests/vector_navigator/data/index_v1_*.sif: files written by
the format-version-1 code (commit 6ea3dc5, before basins were saved), kept to
check that newer code still reads them. Regenerating them needs that commit."""

import numpy as np


def v1_data():
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((60, 12)).astype(np.float32)
    ids = np.arange(1000, 1060, dtype=np.uint64)
    vad = np.stack([rng.uniform(-1, 1, 60), rng.uniform(0, 1, 60), rng.uniform(0, 1, 60)], 1).astype(np.float32)
    ts = np.arange(60, dtype=np.float64) * 100.0
    labels = np.arange(60, dtype=np.int64) % 3
    return x, ids, vad, ts, labels
