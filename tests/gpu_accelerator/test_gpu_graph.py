"""The CUDA Graph state machine, tested without a GPU through _core.GraphLifecycle
(the same C++ class the CUDA Graph uses) and through _cuda.Graph's checks that
precede any CUDA call; real capture/instantiate/update/replay when a GPU exists."""

import numpy as np
import pytest

import superinstance.gpu_accelerator as ga
from superinstance import _core
from superinstance.errors import ClosedError, GpuUnavailableError

HAS_GPU = ga.default_backend() == "cuda"
gpu = pytest.mark.skipif(not HAS_GPU, reason=f"no usable GPU: {ga.backend_reason()}")


def capture(g, ok=True):
    g.check_begin_capture()
    g.on_begin_capture()
    g.check_end_capture()
    g.on_end_capture(ok)


def test_lifecycle_happy_path():
    g = _core.GraphLifecycle()
    assert g.state == "empty" and not g.has_graph and not g.has_exec
    capture(g)
    assert g.state == "captured" and g.has_graph and not g.has_exec and g.captures == 1
    g.check_instantiate()
    g.on_instantiate()
    assert g.state == "instantiated" and g.has_exec and not g.exec_stale
    for _ in range(3):
        g.check_launch()
        g.on_launch()
    g.check_launch("upload")
    assert g.launches == 3
    capture(g)  # new parameters
    assert g.state == "captured" and g.exec_stale
    g.check_update()
    g.on_update(True)
    assert g.state == "instantiated" and g.updates_in_place == 1
    capture(g)
    g.on_update(False)
    assert g.reinstantiations == 1
    g.on_close()
    assert g.state == "closed" and not g.has_exec


def test_lifecycle_misuse_is_refused():
    g = _core.GraphLifecycle()
    with pytest.raises(RuntimeError, match="not instantiated"):
        g.check_launch()
    with pytest.raises(RuntimeError, match="nothing captured yet"):
        g.check_instantiate()
    with pytest.raises(RuntimeError, match="never instantiated"):
        g.check_update()
    with pytest.raises(RuntimeError, match="no capture is in progress"):
        g.check_end_capture()
    g.check_begin_capture()
    g.on_begin_capture()
    for check in (g.check_begin_capture, g.check_instantiate, g.check_update, g.check_launch):
        with pytest.raises(RuntimeError, match="capture"):
            check()
    g.on_end_capture(True)
    with pytest.raises(RuntimeError, match="nothing new|never instantiated"):
        g.check_update()
    g.on_instantiate()
    with pytest.raises(RuntimeError, match="nothing new to apply"):
        g.check_update()
    capture(g)
    with pytest.raises(RuntimeError, match="captured again since it was instantiated"):
        g.check_launch()


def test_failed_capture_restores_the_previous_state():
    g = _core.GraphLifecycle()
    capture(g, ok=False)
    assert g.state == "empty" and not g.has_graph and g.captures == 0
    capture(g)
    g.on_instantiate()
    capture(g, ok=False)
    assert g.state == "instantiated" and not g.exec_stale
    g.check_launch()  # the old executable graph is still usable


def test_closed_lifecycle_raises_closed_error():
    g = _core.GraphLifecycle()
    g.on_close()
    for check in (g.check_begin_capture, g.check_end_capture, g.check_instantiate, g.check_update,
                  g.check_launch):
        with pytest.raises(ClosedError, match="closed"):
            check()


def test_cuda_graph_checks_precede_cuda_calls():
    """_cuda.Graph refuses misuse before touching the driver, so this runs without a GPU."""
    try:
        g = ga.Graph()
    except GpuUnavailableError:  # pragma: no cover - _cuda not built
        pytest.skip("superinstance._cuda is not built")
    assert g.state == "empty" and g.n_nodes == 0
    with pytest.raises(RuntimeError, match="not instantiated"):
        g.launch()
    with pytest.raises(RuntimeError, match="not instantiated"):
        g.upload()
    with pytest.raises(RuntimeError, match="nothing captured"):
        g.instantiate()
    with pytest.raises(RuntimeError, match="never instantiated"):
        g.update()
    with pytest.raises(ValueError, match="needs a Stream"):
        with g.capture(None):
            pass
    with pytest.raises(ValueError, match="default stream cannot be captured"):
        g._g.begin_capture(0)
    with pytest.raises(TypeError, match="stream must be"):
        g._g.begin_capture("s")
    assert g.state == "empty"
    g.close()
    g.close()
    with pytest.raises(ClosedError):
        g.launch()
    with pytest.raises(ClosedError):
        g.instantiate()


# ------------------------------------------------------------------ on a GPU
@pytest.mark.gpu
@gpu
def test_graph_capture_replay_and_update():
    head = ga.SentimentHead.default(backend="cuda")
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal((256, head.in_features)).astype(np.float32)
    x2 = rng.standard_normal((256, head.in_features)).astype(np.float32)
    cpu = ga.SentimentHead.default(backend="cpu")
    with ga.Stream() as s, ga.Graph() as g, ga.DeviceArray.from_host(x1) as d1, \
            ga.DeviceArray.from_host(x2) as d2, ga.DeviceArray((256, 3)) as out:
        with g.capture(s):
            head.forward_device(d1, out, s)
        assert g.state == "captured" and g.n_nodes == 1
        out.fill_zero()
        g.instantiate()
        g.upload(s)
        g.launch(s)
        s.synchronize()
        np.testing.assert_allclose(out.to_host(), cpu.predict(x1), rtol=1e-5, atol=1e-6)
        with g.capture(s):  # same kernel, new input pointer
            head.forward_device(d2, out, s)
        with pytest.raises(RuntimeError, match="captured again"):
            g.launch(s)
        assert g.update() == "in_place"
        g.launch(s)
        s.synchronize()
        np.testing.assert_allclose(out.to_host(), cpu.predict(x2), rtol=1e-5, atol=1e-6)
        with g.capture(s):  # another topology: two kernels
            head.forward_device(d1, out, s)
            head.forward_device(d2, out, s)
        assert g.update() == "reinstantiated"
        g.launch(s)
        s.synchronize()
        np.testing.assert_allclose(out.to_host(), cpu.predict(x2), rtol=1e-5, atol=1e-6)
        assert g.launches == 3 and g.updates_in_place == 1 and g.reinstantiations == 1


@pytest.mark.gpu
@gpu
def test_error_during_capture_ends_it_cleanly():
    with ga.Stream() as s, ga.Graph() as g, ga.DeviceArray((4,)) as d:
        with pytest.raises(Exception, match="(?i)capture|not permitted|unsupported"):
            with g.capture(s):
                d.fill_zero(s)
                s.synchronize()  # synchronizing a capturing stream is not capturable
        assert g.state == "empty"
        with pytest.raises(KeyError):
            with g.capture(s):
                raise KeyError("user error")
        assert g.state == "empty"
        # the stream and device still work
        d.copy_from_host(np.arange(4, dtype=np.float32), s)
        s.synchronize()
        assert d.to_host().tolist() == [0, 1, 2, 3]


def test_capture_on_a_foreign_stream_maps_cuda_errors_and_keeps_state():
    """Other libraries' streams (.cuda_stream / .ptr / int) reach cudaStreamBeginCapture; without a
    driver the CUDA error becomes GpuUnavailableError and the graph stays usable (state unchanged)."""
    if HAS_GPU:
        pytest.skip("needs a machine without a usable GPU")
    try:
        g = ga.Graph()
    except GpuUnavailableError:
        pytest.skip("superinstance._cuda is not built")

    class TorchLikeStream:
        cuda_stream = 0x1234

    class CupyLikeStream:
        ptr = 0x5678

    for s in (TorchLikeStream(), CupyLikeStream(), 0x9abc):
        with pytest.raises(GpuUnavailableError, match="cudaStreamBeginCapture failed"):
            with g.capture(s):
                pass
        assert g.state == "empty"
    g.close()
