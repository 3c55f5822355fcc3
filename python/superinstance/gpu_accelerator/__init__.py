"""GPU acceleration for the loop's small, frequent kernels, with a CPU twin.

See docs/gpu_accelerator.md. Everything works without a GPU: ``backend="auto"``
falls back to the CPU and :func:`backend_reason` says why.
"""

from .devices import Device, backend_reason, default_backend, devices, resolve_backend
from .graph import Graph
from .memory import DeviceArray, Event, PinnedBuffer, Stream, as_device_array
from .models import SentimentHead, cosine_device, cosine_similarity, default_weights

__all__ = [
    "Device", "devices", "default_backend", "backend_reason", "resolve_backend",
    "Graph", "Stream", "Event", "DeviceArray", "PinnedBuffer", "as_device_array",
    "SentimentHead", "default_weights", "cosine_similarity", "cosine_device",
]
