"""The C++ API: a program built with CMake against the installed package
(find_package(superinstance CONFIG), superinstance::core) waits for timer
ticks, searches an index, runs a bandit and records into a histogram; its
results equal the Python API's on the same inputs."""

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cxx_app(installed_package, tmp_path_factory):
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not on PATH")
    build = tmp_path_factory.mktemp("cxx_app")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(HERE / "cxx_app"), "-B", str(build), *generator, "-DCMAKE_BUILD_TYPE=Release",
                    f"-Dsuperinstance_DIR={installed_package['cmake_dir']}"], check=True, capture_output=True)
    r = subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return build


def _inputs(path, rng):
    n, dim, nq, k, n_arms, arm_dim, rounds = 500, 24, 7, 5, 4, 6, 300
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    queries = rng.standard_normal((nq, dim)).astype(np.float32)
    contexts = rng.standard_normal((rounds, arm_dim))
    truth = rng.standard_normal((n_arms, arm_dim))
    rewards = contexts @ truth.T + 0.1 * rng.standard_normal((rounds, n_arms))
    with open(path, "wb") as f:
        f.write(struct.pack("<7I", n, dim, nq, k, n_arms, arm_dim, rounds))
        for a in (vectors, queries, contexts, rewards):
            f.write(np.ascontiguousarray(a).tobytes())
    return vectors, queries, k, contexts, rewards, n_arms


def test_cxx_program_against_the_python_api(cxx_app, tmp_path):
    from superinstance import LatencyHistogram
    from superinstance.frozen_model_rl import LinUCB
    from superinstance.vector_navigator import Index

    vectors, queries, k, contexts, rewards, n_arms = _inputs(tmp_path / "in.bin", np.random.default_rng(7))
    r = subprocess.run([str(cxx_app / "cxx_app"), str(tmp_path / "in.bin")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["on_time"]

    index = Index(vectors.shape[1], metric="cosine", kind="flat")
    index.add(vectors)
    ids, _ = index.search(queries, k=k)
    assert np.array_equal(np.asarray(out["ids"]).reshape(ids.shape), ids)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # brute force, float64
    brute = np.argsort(-(queries.astype(np.float64) @ unit.T.astype(np.float64)), axis=1)[:, :k]
    assert np.array_equal(np.asarray(out["ids"]).reshape(ids.shape)[:, 0], brute[:, 0])

    policy = LinUCB(n_arms, contexts.shape[1], alpha=0.5)
    arms = []
    for x, rew in zip(contexts, rewards):
        d = policy.select(x)
        policy.update(d.id, float(rew[d.arm]))
        arms.append(d.arm)
    assert out["arms"] == arms

    h = LatencyHistogram()
    for v in range(1, 1001):
        h.record(v * 1000)
    assert (out["hist_count"], out["hist_max"]) == (1000, 1_000_000)
    assert out["hist_p50"] == pytest.approx(h.percentile(50), abs=1e-3)


def test_c_reader_builds_from_the_installed_headers(cxx_app, shm_name):
    from superinstance.realtime_core import Timer, VirtualClock

    with Timer(rate_hz=100, clock=VirtualClock(0), publish=shm_name) as t:
        t.tick()
        out = subprocess.run([str(cxx_app / "rate_state_reader"), shm_name], capture_output=True, text=True,
                             check=True).stdout
    assert json.loads(out)["ticks"] == 1


def test_get_include_holds_every_core_header():
    import superinstance

    include = Path(superinstance.get_include())
    for header in ("realtime_core/rate_state.h", "realtime_core/timer.hpp", "vector_navigator/index.hpp",
                   "frozen_model_rl/bandit.hpp", "common/histogram.hpp"):
        assert (include / header).is_file(), header
