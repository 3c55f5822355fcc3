"""Writes format-version-2 bandit states (state_v2_<case>.bin: the raw bytes of
BanditCore.state_bytes()) with the build of main at 3d94b7b, before the bandit
was split into one class per algorithm (#17), and what they must give after
loading (v2_expected.json: scores of probe contexts and the next decisions).
test_state_bytes.py checks that loading each state and writing it again gives
the same bytes, so the writer's format cannot drift.

    PYTHONPATH=<main's build>/python python make_v2_fixtures.py tests/frozen_model_rl/data
"""
import json
import os
import sys

import numpy as np
from superinstance import _core

# Every algorithm and every section of the format: pending decisions (imputed
# or not), rewarded and expired ids, window entries of both clocks, the hybrid
# shared part, default rewards.
CASES = {
    "linucb": dict(algo="linucb", ttl=20, default_reward=0.0),
    "linucb_retract": dict(algo="linucb", ttl=15, max_pending=5, reinvert_every=5),
    "lints": dict(algo="lints", ttl=20, seed=5),
    "epsilon_greedy": dict(algo="epsilon_greedy", epsilon=0.3, seed=9, ttl=25, default_reward=-0.5),
    "hybrid_linucb": dict(algo="hybrid_linucb", arm_features=np.arange(8.0).reshape(4, 2) / 8.0),
    "dlinucb": dict(algo="dlinucb", gamma=0.95, reinvert_every=7, ttl=30, default_reward=0.0),
    "dlinucb_update": dict(algo="dlinucb", gamma=0.97, clock="update", idle_gamma=0.999),
    "sw_linucb": dict(algo="sw_linucb", window=25, ttl=30),
    "sw_linucb_update": dict(algo="sw_linucb", window=24, clock="update", max_age=40),
}
N_ARMS, DIM = 4, 3


def build(case):
    kw = dict(CASES[case])
    algo = kw.pop("algo")
    core = _core.BanditCore(algo, N_ARMS, DIM, alpha=0.8, **kw)
    rng = np.random.default_rng(17)
    X = rng.normal(size=(90, DIM))
    for i, x in enumerate(X[:70]):
        d = core.select(x)
        if i % 3:
            core.update(d[0], float(x[0] - 0.5 * x[2]))
        if i % 11 == 0:
            core.update_arm(i % N_ARMS, x, 0.25)
    return core, X


def main(out):
    assert _core.BanditCore.format_version == 2
    expect = {}
    for case in CASES:
        core, X = build(case)
        with open(os.path.join(out, f"state_v2_{case}.bin"), "wb") as f:
            f.write(core.state_bytes())
        scores = [core.scores(x).tolist() for x in X[70:74]]
        arms = []
        for x in X[70:]:
            d = core.select(x)
            arms.append(int(d[1]))
            core.update(d[0], float(x[0] - 0.5 * x[2]))
        expect[case] = {"contexts": X[70:].tolist(), "scores": scores, "next_arms": arms}
    with open(os.path.join(out, "v2_expected.json"), "w") as f:
        json.dump(expect, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
