"""Benchmarks of cpp/common: the latency histogram, saved files, CRC-32C and
the SIMD vector kernels (one parameter per SIMD level this machine has).

Run against the installed build: ``cd asv_bench && asv run --python=same --quick``.
"""

import os
import tempfile

import numpy as np

import superinstance
from superinstance import LatencyHistogram, storage
from superinstance.bench.common import dot_rows, l2sq_rows

LEVELS = superinstance.capabilities()["simd_available"]


class Histogram:
    params = [1_000, 100_000]
    param_names = ["n"]

    def setup(self, n):
        rng = np.random.default_rng(0)
        self.values = rng.lognormal(11, 1.5, n).astype(np.int64)
        self.h = LatencyHistogram()
        self.h.record_batch(self.values)

    def time_record_batch(self, n):
        LatencyHistogram().record_batch(self.values)

    def time_percentiles(self, n):
        self.h.percentiles([50, 95, 99, 99.9])

    def time_record_one(self, n):
        self.h.record(12345)

    def peakmem_histogram(self, n):
        LatencyHistogram().record_batch(self.values)


class AtomicFile:
    params = [4096, 16 * 2**20]
    param_names = ["bytes"]

    def setup(self, size):
        self.dir = tempfile.mkdtemp(prefix="si_bench_")
        self.path = os.path.join(self.dir, "state.bin")
        self.data = np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8)
        storage.write_atomic(self.path, "bench", 1, self.data)

    def teardown(self, size):
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)

    def time_write_atomic(self, size):
        storage.write_atomic(self.path, "bench", 1, self.data)

    def time_read_verified(self, size):
        storage.read_verified(self.path, "bench", 1)

    def time_crc32c(self, size):
        storage.crc32c(self.data)


class VectorKernels:
    params = [LEVELS, [384, 1536]]
    param_names = ["level", "dim"]

    def setup(self, level, dim):
        rng = np.random.default_rng(0)
        self.rows = rng.standard_normal((10_000, dim)).astype(np.float32)
        self.q = rng.standard_normal(dim).astype(np.float32)

    def time_dot_rows_10k(self, level, dim):
        dot_rows(self.q, self.rows, level)

    def time_l2sq_rows_10k(self, level, dim):
        l2sq_rows(self.q, self.rows, level)
