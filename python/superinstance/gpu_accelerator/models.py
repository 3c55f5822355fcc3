"""The token loop's small models, one API and two backends (CPU C++ / CUDA).

* :class:`SentimentHead`: features -> (valence, arousal, dominance); valence in
  [-1, 1] (tanh), arousal and dominance in [0, 1] (sigmoid), from a two-layer
  perceptron ``z = w2 @ relu(w1 @ x + b1) + b2``.
* :func:`cosine_similarity`: queries (m, d) x keys (n, d) -> (m, n), float32.

Weights file (``SentimentHead.load`` / ``save``): a numpy ``.npz`` with exactly
the keys ``w1`` (hidden, in), ``b1`` (hidden,), ``w2`` (3, hidden), ``b2`` (3,),
floating point (stored or converted to float32), all finite.
"""

from __future__ import annotations

import os
import threading
from typing import Dict, Optional, Union

import numpy as np

from .. import _core
from ..errors import ClosedError, GpuUnavailableError
from .. import _backend
from .._backend import cuda_module

__all__ = ["SentimentHead", "cosine_similarity", "WEIGHT_KEYS", "DEFAULT_IN_FEATURES",
           "DEFAULT_HIDDEN", "DEFAULT_SEED"]

WEIGHT_KEYS = ("w1", "b1", "w2", "b2")
DEFAULT_IN_FEATURES = 16
DEFAULT_HIDDEN = 32
DEFAULT_SEED = 0


def _float32(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _features(x, name: str = "features"):
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point array, got dtype {a.dtype}")
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (one row) or 2-D (batch, dim), got {a.ndim}-D")
    single = a.ndim == 1
    return np.ascontiguousarray(a.reshape(1, -1) if single else a, dtype=np.float32), single


class SentimentHead:
    """Features -> valence in [-1, 1], arousal and dominance in [0, 1].

    ``backend``: ``"auto"`` (CUDA when a usable GPU exists, else CPU; see
    :func:`~superinstance.gpu_accelerator.backend_reason`), ``"cpu"`` or ``"cuda"``
    (:class:`~superinstance.errors.GpuUnavailableError` when there is no GPU).
    Both backends compute the same function within 1e-5 (float32).
    """

    def __init__(self, w1, b1, w2, b2, backend: str = "auto", device: int = 0):
        w = {"w1": _float32(w1, "w1"), "b1": _float32(b1, "b1"),
             "w2": _float32(w2, "w2"), "b2": _float32(b2, "b2")}
        # The C++ constructor checks shapes and finiteness and names the culprit.
        self._cpu = _core.SentimentHeadCpu(w["w1"], w["b1"], w["w2"], w["b2"])
        self._weights = w
        if isinstance(device, bool) or not isinstance(device, (int, np.integer)):
            raise TypeError(f"device must be an int, got {type(device).__name__}")
        if device < 0:
            raise ValueError(f"device must be >= 0, got {device}")
        self.backend = _backend.resolve(backend)[0]
        #: Why this backend: the reason of default_backend() for "auto", else the request.
        self.backend_reason = _backend.decision()[1] if backend == "auto" else f"backend={backend!r} requested"
        self._device = device
        self._dev: Optional[Dict[str, object]] = None
        self._plans: Dict[int, "_GraphPlan"] = {}
        self._lock = threading.Lock()
        if self.backend == "cuda":
            from .memory import DeviceArray

            self._dev = {k: DeviceArray.from_host(v, device=device) for k, v in w.items()}

    # -- construction
    @classmethod
    def default(cls, in_features: int = DEFAULT_IN_FEATURES, hidden: int = DEFAULT_HIDDEN,
                seed: int = DEFAULT_SEED, backend: str = "auto") -> "SentimentHead":
        """Built-in weights, generated deterministically from ``seed`` so that the loop runs
        with no file: ``rng = numpy.random.default_rng(seed)``; ``w1 = rng.standard_normal(
        (hidden, in)) * sqrt(2 / in)``; ``w2 = rng.standard_normal((3, hidden)) * sqrt(1 / hidden)``;
        ``b1``, ``b2`` zero; all cast to float32. They are a fixed random projection, not trained."""
        return cls(**default_weights(in_features, hidden, seed), backend=backend)

    @classmethod
    def load(cls, path: Union[str, os.PathLike], backend: str = "auto") -> "SentimentHead":
        """Weights from a ``.npz`` file with the keys w1, b1, w2, b2 (see the module doc)."""
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            missing = [k for k in WEIGHT_KEYS if k not in keys]
            extra = sorted(keys - set(WEIGHT_KEYS))
            if missing or extra:
                raise ValueError(f"{os.fspath(path)}: sentiment head weights need exactly the keys "
                                 f"{', '.join(WEIGHT_KEYS)}; missing {missing}, unexpected {extra}")
            arrays = {k: f[k] for k in WEIGHT_KEYS}
        return cls(**arrays, backend=backend)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the weights as ``.npz`` (loadable with :meth:`load`)."""
        self._check_open()
        np.savez(path, **self._weights)

    def _check_open(self) -> None:
        if self._cpu.closed:
            raise ClosedError("SentimentHead is closed")

    @property
    def closed(self) -> bool:
        return self._cpu.closed

    # -- properties
    @property
    def in_features(self) -> int:
        return self._cpu.in_features

    @property
    def hidden(self) -> int:
        return self._cpu.hidden

    @property
    def weights(self) -> Dict[str, np.ndarray]:
        self._check_open()
        return {k: v.copy() for k, v in self._weights.items()}

    # -- inference
    def predict(self, features) -> np.ndarray:
        """(batch, in) -> (batch, 3) float32 [valence, arousal, dominance]; 1-D in, (3,) out."""
        self._check_open()
        x, single = _features(features)
        if x.shape[1] != self.in_features:
            raise ValueError(f"features have {x.shape[1]} columns, the sentiment head expects "
                             f"{self.in_features}")
        if self.backend == "cpu":
            out = self._cpu.forward(x)
        else:
            if not np.isfinite(x).all():
                raise ValueError("features hold NaN or infinity")
            out = self._predict_cuda(x)
        return out[0] if single else out

    __call__ = predict

    def _predict_cuda(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] == 0:
            return np.empty((0, 3), np.float32)
        with self._lock:
            plan = self._plans.pop(x.shape[0], None) or _GraphPlan(self, x.shape[0])
            self._plans[x.shape[0]] = plan  # most recently used last
            while len(self._plans) > _MAX_PLANS:
                self._plans.pop(next(iter(self._plans))).close()
            return plan.run(x)

    def forward_device(self, x, out, stream=None) -> None:
        """Launch the CUDA kernel on device arrays (anything :func:`as_device_array` takes):
        ``x`` (batch, in) float32, ``out`` (batch, 3) float32. Asynchronous on ``stream``;
        capturable into a :class:`Graph`."""
        from .memory import as_device_array, stream_handle

        self._check_open()
        if self._dev is None:
            raise GpuUnavailableError("this SentimentHead runs on the CPU backend; create it with "
                                 "backend='cuda' to launch on a device")
        x, out = as_device_array(x), as_device_array(out)
        if x.dtype != np.float32 or out.dtype != np.float32:
            raise TypeError("x and out must be float32 device arrays")
        if len(x.shape) != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"x must have shape (batch, {self.in_features}), got {x.shape}")
        if out.shape != (x.shape[0], 3):
            raise ValueError(f"out must have shape ({x.shape[0]}, 3), got {out.shape}")
        d = self._dev
        cuda_module().launch_sentiment(d["w1"].ptr, d["b1"].ptr, d["w2"].ptr, d["b2"].ptr,
                                       self.in_features, self.hidden, x.ptr, x.shape[0], out.ptr,
                                       stream_handle(stream))

    def close(self) -> None:
        """Free the device copy of the weights and the cached graphs (CUDA backend); every later
        call raises ClosedError. Idempotent."""
        with self._lock:
            for plan in self._plans.values():
                plan.close()
            self._plans.clear()
            self._cpu.close()
        if self._dev:
            for a in self._dev.values():
                a.close()
        self._dev = None

    def __enter__(self) -> "SentimentHead":
        self._check_open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return f"SentimentHead(closed, backend={self.backend!r})"
        return (f"SentimentHead(in_features={self.in_features}, hidden={self.hidden}, "
                f"backend={self.backend!r})")


_MAX_PLANS = 4  # cached batch sizes per CUDA sentiment head
_MAX_DEFAULT_WEIGHTS = 1 << 26  # w1 entries of SentimentHead.default (256 MB as float32)


class _GraphPlan:
    """predict() on CUDA for one batch size: pinned staging buffers, device buffers and a
    CUDA Graph holding copy-in, the kernel and copy-out, replayed by one launch per call."""

    def __init__(self, head: "SentimentHead", batch: int):
        from .graph import Graph
        from .memory import DeviceArray, PinnedBuffer, Stream

        dev = head._device
        self.stream = Stream(dev)
        self.pin_x = PinnedBuffer((batch, head.in_features))
        self.pin_out = PinnedBuffer((batch, 3))
        self.dx = DeviceArray((batch, head.in_features), np.float32, dev)
        self.dout = DeviceArray((batch, 3), np.float32, dev)
        self.graph = Graph()
        try:
            with self.graph.capture(self.stream):
                self.dx.copy_from_host(self.pin_x.array, self.stream)
                head.forward_device(self.dx, self.dout, self.stream)
                self.dout.to_host(self.pin_out.array, self.stream)
            self.graph.instantiate()
            self.graph.upload(self.stream)
        except BaseException:
            self.close()
            raise

    def run(self, x: np.ndarray) -> np.ndarray:
        self.pin_x.array[...] = x
        self.graph.launch(self.stream)
        self.stream.synchronize()
        return self.pin_out.array.copy()

    def close(self) -> None:
        for name in ("graph", "dx", "dout", "pin_x", "pin_out", "stream"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.close()


def default_weights(in_features: int = DEFAULT_IN_FEATURES, hidden: int = DEFAULT_HIDDEN,
                    seed: int = DEFAULT_SEED) -> Dict[str, np.ndarray]:
    """The built-in weights of :meth:`SentimentHead.default`."""
    for name, v in (("in_features", in_features), ("hidden", hidden), ("seed", seed)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if in_features <= 0 or hidden <= 0:
        raise ValueError("in_features and hidden must be positive")
    if in_features * hidden > _MAX_DEFAULT_WEIGHTS:  # a typo must not fill the RAM with noise
        raise ValueError(f"in_features * hidden = {in_features * hidden} is above {_MAX_DEFAULT_WEIGHTS} "
                         f"(built-in weights are a random projection; load real ones instead)")
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((hidden, in_features)) * np.sqrt(2.0 / in_features)
    w2 = rng.standard_normal((3, hidden)) * np.sqrt(1.0 / hidden)
    return {"w1": w1.astype(np.float32), "b1": np.zeros(hidden, np.float32),
            "w2": w2.astype(np.float32), "b2": np.zeros(3, np.float32)}


def cosine_similarity(queries, keys, backend: str = "auto") -> np.ndarray:
    """Cosine similarity of every query with every key: (m, d) x (n, d) -> (m, n) float32
    (a 1-D query gives (n,)). A zero vector has similarity 0 with everything."""
    q, single = _features(queries, "queries")
    k = np.asarray(keys)
    if k.dtype.kind != "f":
        raise TypeError(f"keys must be a floating-point array, got dtype {k.dtype}")
    if k.ndim != 2:
        raise ValueError(f"keys must be 2-D (n, dim), got {k.ndim}-D")
    k = np.ascontiguousarray(k, dtype=np.float32)
    if q.shape[1] != k.shape[1]:
        raise ValueError(f"queries have dim {q.shape[1]}, keys have dim {k.shape[1]}")
    if _backend.resolve(backend)[0] == "cpu":
        out = _core.cosine_matrix_cpu(q, k)
    else:
        if q.shape[1] == 0:
            raise ValueError("vectors must have at least one dimension")
        if not (np.isfinite(q).all() and np.isfinite(k).all()):
            raise ValueError("queries or keys hold NaN or infinity")
        from .memory import DeviceArray

        with DeviceArray.from_host(q) as dq, DeviceArray.from_host(k) as dk, \
                DeviceArray((q.shape[0], k.shape[0]), np.float32) as dout:
            cosine_device(dq, dk, dout)
            out = dout.to_host()
    return out[0] if single else out


def cosine_device(queries, keys, out, stream=None) -> None:
    """Launch the CUDA cosine kernel on device arrays: queries (m, d), keys (n, d),
    out (m, n), all float32. Asynchronous on ``stream``; capturable into a Graph."""
    from .memory import as_device_array, stream_handle

    q, k, o = as_device_array(queries), as_device_array(keys), as_device_array(out)
    for name, a in (("queries", q), ("keys", k), ("out", o)):
        if a.dtype != np.float32 or len(a.shape) != 2:
            raise ValueError(f"{name} must be a 2-D float32 device array, got {a.dtype}{list(a.shape)}")
    if q.shape[1] != k.shape[1]:
        raise ValueError(f"queries have dim {q.shape[1]}, keys have dim {k.shape[1]}")
    if o.shape != (q.shape[0], k.shape[0]):
        raise ValueError(f"out must have shape {(q.shape[0], k.shape[0])}, got {o.shape}")
    cuda_module().launch_cosine(q.ptr, q.shape[0], k.ptr, k.shape[0], q.shape[1], o.ptr,
                                stream_handle(stream))
