"""Closed means closed: every public method and property of each closable gpu_accelerator
object raises ClosedError after close() (close, closed, __exit__ and __repr__ stay valid).
Each member is called in a forked child (tests/closed_harness.py), so a crash fails the test
by name. The CUDA objects need a device and are marked ``gpu``."""

import pytest

from closed_harness import assert_closed_everywhere
from superinstance.gpu_accelerator import backend_reason, default_backend

HAS_GPU = default_backend() == "cuda"
gpu = pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU: {backend_reason()}")

X16 = "np.zeros((2, 16), np.float32)"


def _cuda_module_built() -> bool:
    try:
        from superinstance import _cuda  # noqa: F401
    except ImportError:
        return False
    return True


needs_cuda_module = pytest.mark.skipif(not _cuda_module_built(), reason="superinstance._cuda is not built")


def test_sentiment_head_cpu_backend():
    assert_closed_everywhere(f'''
import numpy as np
from superinstance.gpu_accelerator import SentimentHead
def make():
    return SentimentHead.default(backend="cpu")
ARGS = {{"predict": ({X16},), "__call__": ({X16},), "save": ("/tmp/never_written.npz",),
        "forward_device": ({X16}, {X16})}}
''')


def test_sentiment_head_cpu_twin():
    assert_closed_everywhere(f'''
import numpy as np
from superinstance import _core
from superinstance.gpu_accelerator import default_weights
def make():
    w = default_weights()
    return _core.SentimentHeadCpu(w["w1"], w["b1"], w["w2"], w["b2"])
ARGS = {{"forward": ({X16},)}}
''')


def test_closed_sentiment_head_refuses_before_reading_its_input():
    from superinstance.errors import ClosedError
    from superinstance.gpu_accelerator import SentimentHead

    head = SentimentHead.default(backend="cpu")
    head.close()
    head.close()  # idempotent
    assert head.closed and "closed" in repr(head)
    with pytest.raises(ClosedError, match="SentimentHead is closed"):
        head.predict("not even an array")


@pytest.mark.gpu
@gpu
def test_sentiment_head_cuda_backend():
    assert_closed_everywhere(f'''
import numpy as np
from superinstance.gpu_accelerator import SentimentHead
def make():
    return SentimentHead.default(backend="cuda")
ARGS = {{"predict": ({X16},), "__call__": ({X16},), "save": ("/tmp/never_written.npz",),
        "forward_device": ({X16}, {X16})}}
''')


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("snippet", [
    '''
from superinstance.gpu_accelerator import Stream
def make():
    return Stream()
''',
    '''
from superinstance.gpu_accelerator import Event
def make():
    return Event()
ARGS = {"elapsed_ms": (Event().record(),)}
''',
    '''
import numpy as np
from superinstance.gpu_accelerator import DeviceArray
def make():
    return DeviceArray((4,), np.float32)
ARGS = {"copy_from_host": (np.zeros(4, np.float32),), "copy_from": (DeviceArray((4,), np.float32),)}
''',
    '''
from superinstance.gpu_accelerator import PinnedBuffer
def make():
    return PinnedBuffer((4,))
''',
    '''
from superinstance import _cuda
def make():
    return _cuda.DeviceBuffer(16)
''',
    '''
from superinstance import _cuda
def make():
    return _cuda.Stream()
''',
    '''
from superinstance import _cuda
def make():
    return _cuda.Event()
ARGS = {"elapsed_ms": (_cuda.Event(),)}
''',
    '''
from superinstance.gpu_accelerator.dp_device import DeviceStatus
def make():
    return DeviceStatus()
''',
    '''
import numpy as np
from superinstance.gpu_accelerator import DeviceArray
from superinstance.gpu_accelerator.dp_device import AlignPlan
def make():
    return AlignPlan("ACD", [3, 4])
ARGS = {"pack": (["ACD", "ACDE"],),
        "launch": (DeviceArray((7,), np.uint8), DeviceArray((2,), np.int32))}
''',
], ids=["Stream", "Event", "DeviceArray", "PinnedBuffer", "_cuda.DeviceBuffer", "_cuda.Stream", "_cuda.Event",
        "DeviceStatus", "AlignPlan"])
def test_cuda_objects(snippet):
    assert_closed_everywhere(snippet)


# A Graph is made and closed without touching the driver: these need the CUDA module, not a GPU.
@needs_cuda_module
def test_graph():
    assert_closed_everywhere('''
from superinstance.gpu_accelerator import Graph
def make():
    return Graph()
ARGS = {"capture": (1,)}
''')


@needs_cuda_module
def test_native_graph():
    assert_closed_everywhere('''
from superinstance import _cuda
def make():
    return _cuda.Graph()
ARGS = {"end_capture": (False,), "begin_capture": (None,), "launch": (None,), "upload": (None,)}
''')
