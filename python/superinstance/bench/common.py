"""Drivers of cpp/common's SIMD vector kernels for the benchmarks (asv's VectorKernels):
one query against many rows at a chosen SIMD level (see ``capabilities()["simd_available"]``).

These kernels have no public facade of their own (the indexes call them); this module is
the one place outside the library that names them.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core

__all__ = ["dot_rows", "l2sq_rows"]


def dot_rows(query: np.ndarray, rows: np.ndarray, simd: Optional[str] = None) -> np.ndarray:
    """Dot product of a float32 query with every row (float32), at SIMD level ``simd``."""
    return _core.vector_dot_rows(query, rows, simd)


def l2sq_rows(query: np.ndarray, rows: np.ndarray, simd: Optional[str] = None) -> np.ndarray:
    """Squared L2 distance of a float32 query to every row (float32), at SIMD level ``simd``."""
    return _core.vector_l2sq_rows(query, rows, simd)
