"""The shared rate state: a named shared-memory block that a timer or scheduler
task writes on every tick (``Timer(..., publish="name")``, ``add(..., publish="name")``)
and any process reads without locks.

>>> from superinstance.realtime_core import RateState
>>> state = RateState.attach("token-loop")           # doctest: +SKIP
>>> snap = state.read()                              # doctest: +SKIP
>>> snap.rate_hz, snap.lateness_p99_ns, state.stale() # doctest: +SKIP

``RateState.attach(name)`` maps the block read-only and checks its layout
(magic, version, size): a missing name raises FileNotFoundError, a block of
another layout UnsupportedVersionError / CorruptFileError / WrongFileKindError.
``read()`` returns one consistent :class:`RateSnapshot` (a seqlock read, about a
microsecond from Python); ``stale(max_age_ns=None)`` says whether anybody still
writes it (closed by its writer, writer process gone, or no write for
max(3 periods, 100 ms)). The layout, for readers in C, Rust, Go or TypeScript,
is in docs/realtime_core.md and the C header ``superinstance/include/realtime_core/rate_state.h``.
"""

from __future__ import annotations

from .. import _core

RateState = _core.RtRateState
RateSnapshot = _core.RtRateSnapshot

__all__ = ["RateState", "RateSnapshot"]
