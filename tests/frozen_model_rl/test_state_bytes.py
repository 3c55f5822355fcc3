"""The saved bandit format does not drift: states written by main before the
bandit was split into one class per algorithm (#17; data/make_v2_fixtures.py)
load, are written back byte for byte, and decide as they did."""

import json
import pathlib

import numpy as np
import pytest

from superinstance import _core

DATA = pathlib.Path(__file__).parent / "data"
EXPECT = json.loads((DATA / "v2_expected.json").read_text())
CASES = sorted(EXPECT)


def test_every_algorithm_has_a_fixture():
    algos = {_core.BanditCore.from_state_bytes((DATA / f"state_v2_{c}.bin").read_bytes()).algo for c in CASES}
    assert algos == {"linucb", "hybrid_linucb", "lints", "epsilon_greedy", "dlinucb", "sw_linucb"}


@pytest.mark.parametrize("case", CASES)
def test_state_is_written_back_byte_for_byte(case, tmp_path):
    blob = (DATA / f"state_v2_{case}.bin").read_bytes()
    core = _core.BanditCore.from_state_bytes(blob)
    assert core.state_bytes() == blob
    assert core.copy().state_bytes() == blob
    path = tmp_path / "state.si"
    core.save(str(path))
    assert _core.BanditCore.load(str(path)).state_bytes() == blob
    assert path.read_bytes().endswith(blob)  # the file is a header, then these bytes


@pytest.mark.parametrize("case", CASES)
def test_loaded_state_decides_as_main_did(case):
    # Same state, so the scores differ from main's only by the SIMD level's
    # rounding of d = 3 dot products (~1e-16 relative): 1e-9 is far above it and
    # far below any change in the model.
    core = _core.BanditCore.from_state_bytes((DATA / f"state_v2_{case}.bin").read_bytes())
    exp = EXPECT[case]
    X = np.array(exp["contexts"])
    for x, want in zip(X[:4], exp["scores"]):
        np.testing.assert_allclose(core.scores(x), want, rtol=1e-9, atol=1e-12)
    arms = []
    for x in X:
        d = core.select(x)
        arms.append(d[1])
        core.update(d[0], float(x[0] - 0.5 * x[2]))
    assert arms == exp["next_arms"]
