"""Exceptions raised by superinstance.

Every error the library defines derives from :class:`SuperinstanceError`, and
also from the built-in exception a caller would naturally catch (ValueError for
bad files, KeyError for unknown ids, ...). This module must not import the
compiled core: the core imports it to translate C++ exceptions.
"""

from __future__ import annotations

__all__ = [
    "SuperinstanceError",
    "FormatError",
    "CorruptFileError",
    "UnsupportedVersionError",
    "WrongFileKindError",
    "ClosedError",
    "UnknownIdError",
    "UnavailableError",
    "GpuUnavailableError",
    "GpuOutOfMemoryError",
    "RealtimePermissionError",
    "ShardUnavailableError",
]


class SuperinstanceError(Exception):
    """Base class of every error superinstance defines."""


class FormatError(SuperinstanceError, ValueError):
    """A saved file cannot be read."""


class CorruptFileError(FormatError):
    """A saved file is damaged: truncated, bad magic, or checksum mismatch."""


class UnsupportedVersionError(FormatError):
    """A saved file was written by a newer format version than this build reads."""


class WrongFileKindError(FormatError):
    """A saved file holds another kind of object than the one asked for."""


class ClosedError(SuperinstanceError, ValueError):
    """An operation on an object that was closed (like I/O on a closed file)."""


class UnknownIdError(SuperinstanceError, KeyError):
    """An id that the object does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnavailableError(SuperinstanceError, RuntimeError):
    """Something asked for by name that this platform cannot provide (a timer waiter, a SIMD level,
    a GPU, ...); the message says why."""


class GpuUnavailableError(UnavailableError):
    """A GPU was asked for and none is usable; the message says why."""


class GpuOutOfMemoryError(SuperinstanceError, MemoryError):
    """Device memory allocation failed; the device remains usable."""


class RealtimePermissionError(SuperinstanceError, PermissionError):
    """The process lacks a real-time permission (SCHED_FIFO, mlock, ...) that was required."""


class ShardUnavailableError(SuperinstanceError, RuntimeError):
    """Every replica of a ShardedIndex shard is dead (or still restarting past the timeout)."""
