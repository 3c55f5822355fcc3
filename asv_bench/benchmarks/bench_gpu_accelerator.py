"""Benchmarks of gpu_accelerator 1/2: the CPU twin (sentiment head, batched
cosine) against numpy (and PyTorch CPU when installed) with the same inputs,
and the GPU launch/bandwidth benchmarks, which skip without a usable GPU.

Run against the installed build: ``cd asv_bench && asv run --python=same --quick``.
The side-by-side table in docs/benchmarks.md comes from
``python -m superinstance.bench.gpu_accelerator --cpu`` (same process run).
"""

import numpy as np

import superinstance.gpu_accelerator as ga
from superinstance.bench.gpu_accelerator import (copy_bandwidth, cosine_numpy, cosine_torch, launch_chain,
                                                 sentiment_numpy, sentiment_torch, torch_module)

torch = torch_module()
IMPLS = ["superinstance", "numpy"] + (["torch"] if torch is not None else [])


class SentimentHeadCpu:
    params = ([1, 256], IMPLS)
    param_names = ["batch", "impl"]

    def setup(self, batch, impl):
        head = ga.SentimentHead.default(backend="cpu")
        self.x = np.random.default_rng(0).standard_normal((batch, head.in_features)).astype(np.float32)
        self.f = {"superinstance": head.predict, "numpy": sentiment_numpy(head.weights),
                  "torch": sentiment_torch(head.weights) if torch is not None else None}[impl]

    def time_predict(self, batch, impl):
        self.f(self.x)


class CosineCpu:
    params = ([1, 64], IMPLS)
    param_names = ["queries", "impl"]

    def setup(self, m, impl):
        rng = np.random.default_rng(1)
        self.q = rng.standard_normal((m, 384)).astype(np.float32)
        self.k = rng.standard_normal((10_000, 384)).astype(np.float32)
        self.f = {"superinstance": lambda q, k: ga.cosine_similarity(q, k, backend="cpu"),
                  "numpy": cosine_numpy, "torch": cosine_torch if torch is not None else None}[impl]

    def time_cosine(self, m, impl):
        self.f(self.q, self.k)


class GpuLaunchChain:
    """Per-kernel launch cost, stream launches vs graph replay (microseconds)."""

    params = [10, 100]
    param_names = ["chain"]
    unit = "us"

    def setup(self, chain):
        if ga.default_backend() != "cuda":
            raise NotImplementedError(f"no usable GPU: {ga.backend_reason()}")
        self.r = launch_chain(chain, 200)

    def track_stream_us_per_kernel(self, chain):
        return self.r["stream_us_per_kernel"]

    def track_graph_us_per_kernel(self, chain):
        return self.r["graph_us_per_kernel"]


class GpuCopyBandwidth:
    unit = "GB/s"

    def setup(self):
        if ga.default_backend() != "cuda":
            raise NotImplementedError(f"no usable GPU: {ga.backend_reason()}")
        self.r = copy_bandwidth(256 << 20, 5)

    def track_pageable_h2d(self):
        return self.r["pageable_h2d_gbps"]

    def track_pinned_h2d(self):
        return self.r["pinned_h2d_gbps"]
