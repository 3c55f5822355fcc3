"""Saved state: atomic, versioned, checksummed files.

Every file that superinstance saves has a 64-byte header (magic, kind,
format version, payload size, CRC-32C of the payload and of the header) and is
written atomically: to a temporary file in the same directory, fsynced,
renamed over the target, and the directory fsynced. An interrupted write leaves
the previous file intact; its temporary file (named after the writer's pid and
locked while the writer lives) is removed by the next save to the same path.
A path containing a NUL byte is refused with ValueError (the system would cut
it there and write or read another file).

>>> write_atomic("state.bin", kind="mything", version=1, data=b"...")  # doctest: +SKIP
>>> header, payload = read_verified("state.bin", kind="mything", max_version=1)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Dict, Tuple, Union

from . import _core
from .errors import ClosedError

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["AtomicWriter", "write_atomic", "read_verified", "read_header", "crc32c"]

crc32c = _core.crc32c


def write_atomic(path: PathLike, kind: str, version: int, data: Any, flags: int = 0) -> None:
    """Write ``data`` (any C-contiguous buffer) to ``path`` atomically."""
    _core.write_file_atomic(os.fspath(path), kind, version, data, flags)


def read_verified(path: PathLike, kind: str, max_version: int) -> Tuple[Dict[str, Any], bytes]:
    """Read a file, checking magic, kind, version and checksums.

    Returns ``(header, payload)``. Raises :class:`~superinstance.errors.CorruptFileError`,
    :class:`~superinstance.errors.UnsupportedVersionError`,
    :class:`~superinstance.errors.WrongFileKindError` or ``OSError``.
    """
    return _core.read_file(os.fspath(path), kind, max_version)


def read_header(path: PathLike) -> Dict[str, Any]:
    """The header of a saved file (any kind or version), without reading the payload."""
    return _core.read_header(os.fspath(path))


class AtomicWriter:
    """Streaming atomic writer; a context manager that commits on success.

    >>> with AtomicWriter("big.bin", kind="mything", version=1) as w:  # doctest: +SKIP
    ...     for chunk in chunks:
    ...         w.write(chunk)

    If the block raises, the temporary file is removed and the target is untouched.
    """

    def __init__(self, path: PathLike, kind: str, version: int, flags: int = 0) -> None:
        self._writer = _core.AtomicWriter(os.fspath(path), kind, version, flags)

    def write(self, data: Any) -> None:
        self._writer.write(data)

    def commit(self) -> None:
        self._writer.commit()

    def abort(self) -> None:
        self._writer.abort()

    @property
    def closed(self) -> bool:
        return self._writer.closed

    @property
    def bytes_written(self) -> int:
        return self._writer.bytes_written

    def __enter__(self) -> "AtomicWriter":
        if self.closed:
            raise ClosedError("AtomicWriter is closed (already committed or aborted)")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.closed:  # committed or aborted inside the block: nothing left to do
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()
