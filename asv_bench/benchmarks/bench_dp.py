"""Benchmarks of the dynamic-programming kernels (superinstance.gpu_accelerator.dp),
CPU backend: alignment scores per SIMD level and thread count, and the other DP
kernels. parasail is compared side by side in scripts/bench_dp_parasail.py.

Run against the installed build: ``cd asv_bench && asv run --python=same --quick``.
"""

import numpy as np

import superinstance
from superinstance.gpu_accelerator import dp

LEVELS = superinstance.capabilities()["simd_available"]
PROTEIN = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)


class AlignScores:
    """1,000 targets of length 256 against a 256 query (BLOSUM62, 11/1)."""

    params = ([lvl for lvl in LEVELS if lvl != "scalar"], [1, 0], ["sw", "nw"])
    param_names = ["level", "threads", "kind"]

    def setup(self, level, threads, kind):
        rng = np.random.default_rng(0)
        self.q = rng.choice(PROTEIN, 256).tobytes()
        self.targets = [rng.choice(PROTEIN, 256).tobytes() for _ in range(1000)]
        self.f = dp.sw_scores if kind == "sw" else dp.nw_scores

    def time_scores(self, level, threads, kind):
        self.f(self.q, self.targets, threads=threads, level=level, backend="cpu")

    def track_gcups(self, level, threads, kind):
        import time

        t0 = time.perf_counter()
        self.f(self.q, self.targets, threads=threads, level=level, backend="cpu")
        return 256 * 256 * len(self.targets) / (time.perf_counter() - t0) / 1e9

    track_gcups.unit = "GCUPS"


class AlignScalar:
    def setup(self):
        rng = np.random.default_rng(0)
        self.q = rng.choice(PROTEIN, 256).tobytes()
        self.targets = [rng.choice(PROTEIN, 256).tobytes() for _ in range(50)]

    def time_sw_scalar(self):
        dp.sw_scores(self.q, self.targets, threads=1, level="scalar", backend="cpu")
