"""CUDA Graphs: capture a chain of launches once, replay it with one launch.

    g = Graph()
    with g.capture(stream):
        head.forward_device(x, out, stream)     # launches are recorded, not run
    g.instantiate()
    g.launch(stream)                             # replays the whole chain

To change a kernel's parameters (other buffers, sizes), capture again and call
``update()``: the executable graph is updated in place (cudaGraphExecUpdate)
when the topology is unchanged, else re-instantiated. An exception inside the
``capture`` block (for example an operation that cannot be captured) ends the
capture cleanly, discards it, and propagates; the graph keeps its previous state.

The state machine (empty -> capturing -> captured -> instantiated, closed) lives
in C++ (cpp/gpu_accelerator/graph_lifecycle.*) and is shared with the CUDA side.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

from ..errors import ClosedError
from .devices import cuda_module
from .memory import Stream, stream_handle

__all__ = ["Graph"]


class Graph:
    def __init__(self) -> None:
        self._g = cuda_module().Graph()

    def _raw(self):
        if self._g.closed:
            raise ClosedError("Graph is closed")
        return self._g

    @property
    def closed(self) -> bool:
        return self._g.closed

    def capture(self, stream: Stream):
        """Record every launch on ``stream`` inside the block (not the default stream)."""
        self._raw()  # refused here, not when the block is entered
        if stream is None:
            raise ValueError("Graph.capture needs a Stream (the default stream cannot be captured)")
        return self._capture(stream)

    @contextlib.contextmanager
    def _capture(self, stream: Stream) -> Iterator["Graph"]:
        self._raw().begin_capture(stream_handle(stream))
        try:
            yield self
        except BaseException:
            self._g.end_capture(False)
            raise
        self._g.end_capture(True)

    def instantiate(self) -> "Graph":
        self._raw().instantiate()
        return self

    def update(self) -> str:
        """Apply the newest capture to the executable graph: ``"in_place"`` or ``"reinstantiated"``."""
        return "in_place" if self._raw().update() else "reinstantiated"

    def upload(self, stream: Optional[Stream] = None) -> None:
        """Prepare the executable graph on the device ahead of the first launch."""
        self._raw().upload(stream_handle(stream))

    def launch(self, stream: Optional[Stream] = None) -> None:
        """Replay the graph on ``stream`` (asynchronous)."""
        self._raw().launch(stream_handle(stream))

    @property
    def state(self) -> str:
        return self._raw().state

    @property
    def n_nodes(self) -> int:
        """Nodes (kernels, copies, ...) in the captured graph."""
        return self._raw().n_nodes

    @property
    def launches(self) -> int:
        return self._raw().launches

    @property
    def updates_in_place(self) -> int:
        return self._raw().updates_in_place

    @property
    def reinstantiations(self) -> int:
        return self._raw().reinstantiations

    def close(self) -> None:
        """Destroy the graph (ending a capture in progress). Idempotent."""
        self._g.close()

    def __enter__(self) -> "Graph":
        self._raw()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
