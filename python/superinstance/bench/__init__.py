"""Side-by-side benchmarks, one module per component, and their runner.

``superinstance bench [suite]`` (see :mod:`.runner`) runs them; each module also
runs alone, with more options: ``python -m superinstance.bench.<module> --help``.

* :mod:`.realtime_core`: timer lateness and period against sleep loops, asyncio, cyclictest
* :mod:`.vector_navigator`: flat and HNSW search against numpy, faiss, hnswlib, usearch
* :mod:`.frozen_model_rl`: LinUCB against numpy, mabwiser, Vowpal Wabbit; drift scenarios
* :mod:`.gpu_accelerator`: CPU twin against numpy/torch; GPU launches, copies, sentiment head
* :mod:`.dp`: Smith-Waterman against parasail (CPU); :mod:`.dp_gpu`: the DP kernels on a GPU
* :mod:`.equilibrium`: the loop's per-tick cost and rate holding

Importing this package imports no component: each suite is loaded when it runs.
"""

from .runner import SUITES, run

__all__ = ["SUITES", "run"]
