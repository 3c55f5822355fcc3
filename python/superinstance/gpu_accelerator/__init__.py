"""GPU acceleration with CPU twins. See docs/gpu_accelerator_dp.md for the
dynamic-programming kernels."""

from __future__ import annotations

from .dp import (
    BLOSUM62,
    NO_EDGE,
    SubstitutionMatrix,
    dtw,
    floyd_warshall,
    nw_scores,
    optimal_path,
    rolling_max,
    rolling_min,
    sw_scores,
)

__all__ = [
    "BLOSUM62",
    "NO_EDGE",
    "SubstitutionMatrix",
    "dtw",
    "floyd_warshall",
    "nw_scores",
    "optimal_path",
    "rolling_max",
    "rolling_min",
    "sw_scores",
]
