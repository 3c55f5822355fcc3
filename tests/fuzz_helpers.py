"""Shared pieces of the property-based fuzz tests (tests/*/test_fuzz_*.py).

Profiles are registered in tests/conftest.py: "ci" (bounded, derandomized, the
default) and "long" (``SUPERINSTANCE_FUZZ=long python -m pytest -m fuzz``).

``bad_values()`` draws the arguments a careless caller passes: wrong types,
None, NaN/inf, huge and negative integers. ``bad_arrays(shape)`` draws arrays
that are wrong in one way (dtype, ndim, zero size, non-contiguous, NaN/inf,
overflowing magnitudes). ``assert_rejected_cleanly(call, snapshot)`` checks
that a call is either accepted or refused with a clear Python exception (never
a crash, never pybind11's signature dump), and that a refused call left the
object exactly as it was (``snapshot()`` before and after: saved bytes, search
results, ...).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence, Tuple, Type

import numpy as np
from hypothesis import strategies as st

# What a refused call may raise: each names the problem in its message.
CLEAR_ERRORS: Tuple[Type[BaseException], ...] = (TypeError, ValueError, KeyError, IndexError, OverflowError,
                                                 MemoryError)

HUGE_INTS = [2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30, -1, -(2**31), -(2**63) - 1]


def bad_values() -> st.SearchStrategy:
    """Scalars of the wrong type or an extreme value."""
    return st.one_of(
        st.none(), st.booleans(), st.text(max_size=5), st.binary(max_size=5),
        st.sampled_from(HUGE_INTS), st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
        st.just([1, 2]), st.just({"a": 1}), st.just(object()),
        st.sampled_from([np.int64(-1), np.uint64(2**64 - 1), np.float32("nan"), np.array([1, 2])]),
    )


def bad_arrays(shape: Sequence[int]) -> st.SearchStrategy:
    """Arrays that differ from a valid float32 array of `shape` in one way."""
    shape = tuple(shape)
    n = int(np.prod(shape)) if shape else 1

    def poisoned(v: float) -> np.ndarray:
        a = np.ones(shape, dtype=np.float32)
        a.flat[n // 2] = v
        return a

    return st.one_of(
        st.sampled_from([np.float16, np.float64, np.int32, np.int64, np.uint8, np.bool_, np.complex64, object])
        .map(lambda dt: np.ones(shape, dtype=dt)),
        st.just(np.ones(shape + (1,), dtype=np.float32)),  # one dimension too many
        st.just(np.ones(shape[1:] or (0,), dtype=np.float32)),  # one too few
        st.just(np.zeros((0,) + shape[1:], dtype=np.float32)),  # zero rows
        st.just(np.ones(shape[:-1] + (shape[-1] * 2,), dtype=np.float32)[..., ::2]),  # non-contiguous
        st.sampled_from([math.nan, math.inf, -math.inf, 3e38, 1e-39, -1e-45]).map(poisoned),
        st.just(np.ones(shape[:-1] + (shape[-1] + 1,), dtype=np.float32)),  # wrong last dimension
        st.just([[1.0] * 3]), st.just("not an array"), st.none(),
    )


def assert_rejected_cleanly(call: Callable[[], Any], snapshot: Callable[[], Any] = None) -> bool:
    """Run `call`. Returns True if it was accepted, False if it raised a clear error.

    A refused call must raise one of CLEAR_ERRORS (or a subclass: ClosedError,
    UnknownIdError, ...) whose message is not pybind11's argument dump, and
    must leave snapshot() unchanged.
    """
    before = snapshot() if snapshot is not None else None
    try:
        call()
    except CLEAR_ERRORS as e:
        msg = str(e)
        assert "incompatible function arguments" not in msg, f"signature dump instead of a clear error: {msg[:400]}"
        assert msg, f"{type(e).__name__} without a message"
        if snapshot is not None:
            after = snapshot()
            _assert_same(before, after)
        return False
    return True


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b, "a refused call changed the object's state"
