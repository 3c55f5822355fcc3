"""GPU acceleration with CPU twins. See docs/gpu_accelerator_dp.md for the
dynamic-programming kernels."""

from __future__ import annotations

from .dp import BLOSUM62, SubstitutionMatrix, nw_scores, sw_scores

__all__ = ["BLOSUM62", "SubstitutionMatrix", "nw_scores", "sw_scores"]
