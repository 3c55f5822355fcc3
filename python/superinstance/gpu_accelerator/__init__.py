"""GPU acceleration for the loop's small, frequent kernels, with CPU twins.

See docs/gpu_accelerator.md (devices, memory, graphs, the sentiment head and
batched cosine) and docs/gpu_accelerator_dp.md (dynamic-programming kernels).
Everything works without a GPU: ``backend="auto"`` falls back to the CPU and
:func:`backend_reason` says why.
"""

from .devices import Device, backend_reason, default_backend, devices, resolve_backend
from .dp import (BLOSUM62, NO_EDGE, SubstitutionMatrix, dtw, floyd_warshall, nw_scores, optimal_path,
                 rolling_max, rolling_min, sw_scores)
from .dp_device import (AlignPlan, DeviceStatus, dtw_device, dtw_workspace, floyd_warshall_device, nw_plan,
                        optimal_path_device, optimal_path_workspace, rolling_max_device, rolling_min_device,
                        sw_plan)
from .graph import Graph
from .memory import DeviceArray, Event, PinnedBuffer, Stream, as_device_array
from .models import SentimentHead, cosine_device, cosine_similarity, default_weights

__all__ = [
    "Device", "devices", "default_backend", "backend_reason", "resolve_backend",
    "Graph", "Stream", "Event", "DeviceArray", "PinnedBuffer", "as_device_array",
    "SentimentHead", "default_weights", "cosine_similarity", "cosine_device",
    "BLOSUM62", "NO_EDGE", "SubstitutionMatrix", "dtw", "floyd_warshall", "nw_scores", "optimal_path",
    "rolling_max", "rolling_min", "sw_scores",
    "AlignPlan", "DeviceStatus", "sw_plan", "nw_plan", "optimal_path_device", "optimal_path_workspace",
    "floyd_warshall_device", "rolling_min_device", "rolling_max_device", "dtw_device", "dtw_workspace",
]
