"""Benchmarks of the dynamic-programming kernels (superinstance.gpu_accelerator.dp),
CPU backend: alignment scores per SIMD level and thread count, and the other DP
kernels. parasail is compared side by side in superinstance.bench.dp (superinstance bench gpu).
GpuDpGraphReplay (GPU only; skipped without one): a DP launch replayed from a CUDA Graph vs eager.

Run against the installed build: ``cd asv_bench && asv run --python=same --quick``.
"""

import numpy as np

import superinstance
from superinstance.gpu_accelerator import dp

LEVELS = superinstance.capabilities()["simd_available"]
PROTEIN = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", np.uint8)


class AlignScores:
    """1,000 targets of length 256 against a 256 query (BLOSUM62, 11/1)."""

    params = ([lvl for lvl in LEVELS if lvl != "scalar"], [1, 2, 0], ["sw", "nw"])
    param_names = ["level", "threads", "kind"]

    def setup(self, level, threads, kind):
        rng = np.random.default_rng(0)
        self.q = rng.choice(PROTEIN, 256).tobytes()
        self.targets = [rng.choice(PROTEIN, 256).tobytes() for _ in range(1000)]
        self.f = dp.sw_scores if kind == "sw" else dp.nw_scores

    def time_scores(self, level, threads, kind):
        self.f(self.q, self.targets, threads=threads, simd=level, backend="cpu")

    def track_gcups(self, level, threads, kind):
        import time

        t0 = time.perf_counter()
        self.f(self.q, self.targets, threads=threads, simd=level, backend="cpu")
        return 256 * 256 * len(self.targets) / (time.perf_counter() - t0) / 1e9

    track_gcups.unit = "GCUPS"


class AlignScalar:
    def setup(self):
        rng = np.random.default_rng(0)
        self.q = rng.choice(PROTEIN, 256).tobytes()
        self.targets = [rng.choice(PROTEIN, 256).tobytes() for _ in range(50)]

    def time_sw_scalar(self):
        dp.sw_scores(self.q, self.targets, threads=1, simd="scalar", backend="cpu")


class OptimalPath:
    params = (["int32", "float32"],)
    param_names = ["dtype"]

    def setup(self, dtype):
        rng = np.random.default_rng(0)
        self.cost = rng.integers(0, 100, (256, 32, 256)).astype(dtype)

    def time_batch(self, dtype):
        dp.optimal_path(self.cost, backend="cpu")


class FloydWarshall:
    params = ([256, 512],)
    param_names = ["n"]

    def setup(self, n):
        rng = np.random.default_rng(0)
        w = rng.integers(1, 1000, (n, n)).astype(np.int32)
        w[rng.random((n, n)) > 0.05] = dp.NO_EDGE
        self.w = w

    def time_cpu(self, n):
        dp.floyd_warshall(self.w, backend="cpu")


class Rolling:
    params = (["int32", "float32"], [16, 256])
    param_names = ["dtype", "window"]

    def setup(self, dtype, window):
        self.x = np.random.default_rng(0).standard_normal((64, 10_000)).astype(dtype)

    def time_rolling_min(self, dtype, window):
        dp.rolling_min(self.x, window, backend="cpu")


class DTW:
    params = ([None, 16],)
    param_names = ["band"]

    def setup(self, band):
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((128, 256)).astype(np.float32)
        self.b = rng.standard_normal((128, 256)).astype(np.float32)

    def time_dtw(self, band):
        dp.dtw(self.a, self.b, band=band, backend="cpu")


class GpuDpGraphReplay:
    """A Smith-Waterman plan (256 targets of 64 vs a 64 query: gather, DP and scatter kernels)
    launched eagerly on a stream vs replayed from a captured Graph; one synchronised call."""

    def setup(self):
        import superinstance.gpu_accelerator as ga

        if ga.default_backend() != "cuda":
            raise NotImplementedError(f"no usable GPU: {ga.backend_reason()}")
        from superinstance.bench.dp_gpu import device_synchronize

        rng = np.random.default_rng(0)
        q = rng.choice(PROTEIN, 64).tobytes()
        self.plan = ga.sw_plan(q, [64] * 256)
        self.dt = ga.DeviceArray.from_host(self.plan.pack([rng.choice(PROTEIN, 64).tobytes() for _ in range(256)]))
        self.ds = ga.DeviceArray((256,), np.int32)
        device_synchronize()  # the copies ran on the legacy stream; the launches do not wait for it
        self.s = ga.Stream()
        self.g = ga.Graph()
        with self.g.capture(self.s):
            self.plan.launch(self.dt, self.ds, self.s)
        self.g.instantiate()
        self.g.upload(self.s)

    def time_eager(self):
        self.plan.launch(self.dt, self.ds, self.s)
        self.s.synchronize()

    def time_graph(self):
        self.g.launch(self.s)
        self.s.synchronize()

    def teardown(self):
        for obj in (self.g, self.s, self.dt, self.ds, self.plan):
            obj.close()
