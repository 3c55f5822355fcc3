"""superinstance: real-time timing, vector search, GPU dynamic programming and
contextual bandits for a real-time token loop, on a C++ core.

See ``superinstance doctor`` for what this machine supports.
"""

from __future__ import annotations

import os
from typing import Any, Dict

from . import errors
from ._core import LatencyHistogram, __version__
from .errors import SuperinstanceError

__all__ = ["__version__", "capabilities", "get_cmake_dir", "get_include", "LatencyHistogram", "SuperinstanceError",
           "errors"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def get_include() -> str:
    """The folder of the C++ core's headers (``#include "realtime_core/timer.hpp"``), of the
    header-only C reader of the shared rate state (``realtime_core/rate_state.h``) and, one level
    up from the package, of the Cython ``.pxd`` files (``cimport superinstance.realtime_core``).

    In an installed wheel: ``superinstance/include``. In a source checkout run with
    ``PYTHONPATH=python``: the repository's ``cpp/`` folder.
    """
    installed = os.path.join(_HERE, "include")
    if os.path.isdir(installed):
        return installed
    source = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "cpp")
    if os.path.isfile(os.path.join(source, "realtime_core", "rate_state.h")):
        return source
    raise FileNotFoundError(f"no C++ headers in {installed}: this installation of superinstance was built without them")


def get_cmake_dir() -> str:
    """The folder of ``superinstanceConfig.cmake``: ``cmake -Dsuperinstance_DIR=$(python -c
    "import superinstance; print(superinstance.get_cmake_dir())")`` makes ``find_package(superinstance CONFIG)``
    find the core library ``superinstance::core`` (an installed wheel only)."""
    path = os.path.join(_HERE, "cmake")
    if not os.path.isfile(os.path.join(path, "superinstanceConfig.cmake")):
        raise FileNotFoundError(f"no CMake package config in {path}: install the wheel (pip install superinstance); "
                                "a source checkout has none")
    return path


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
