"""superinstance: real-time timing, vector search, GPU dynamic programming and
contextual bandits for a real-time token loop, on a C++ core.

See ``superinstance doctor`` for what this machine supports.
"""

from __future__ import annotations

from typing import Any, Dict

from . import errors
from ._core import LatencyHistogram, __version__
from .errors import SuperinstanceError

__all__ = ["__version__", "capabilities", "LatencyHistogram", "SuperinstanceError", "errors"]


def cuda_module_built() -> bool:
    """Whether this installation has the optional CUDA module ``superinstance._cuda``."""
    import importlib.util

    return importlib.util.find_spec("superinstance._cuda") is not None


def capabilities() -> Dict[str, Any]:
    """What this build and CPU provide: SIMD levels (detected, active, available),
    CPU features, and whether the CUDA module was built.

    The active SIMD level can be lowered with ``SUPERINSTANCE_SIMD=scalar|avx2|avx512``
    (read once, at first use).
    """
    from . import _core

    caps = dict(_core.cpu_simd())
    caps["version"] = __version__
    caps["cuda_built"] = cuda_module_built()
    return caps
