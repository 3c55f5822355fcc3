"""Writes version-1 bandit state files with the pre-change build (main at 85d3d9a)
and what they must give after loading: scores of probe contexts and the next
decisions (tests/frozen_model_rl/data/)."""
import json, os, sys
import numpy as np
from superinstance import _core
from superinstance.frozen_model_rl import DiscountedLinUCB, LinUCB, SlidingWindowLinUCB

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
assert _core.BanditCore.format_version == 1
rng = np.random.default_rng(42)
X = rng.normal(size=(80, 3))
expect = {"contexts": X.tolist()}
kw = dict(alpha=0.7, seed=3, ttl=50, default_reward=0.0)
for name, pol in (("linucb", LinUCB(4, 3, **kw)),
                  ("dlinucb", DiscountedLinUCB(4, 3, gamma=0.97, **kw)),
                  ("sw_linucb", SlidingWindowLinUCB(4, 3, window=30, **kw))):
    for i, x in enumerate(X[:60]):
        d = pol.select(x)
        if i % 4:
            pol.update(d, float(x[0] - x[1]))
    pol.save(os.path.join(out, f"{name}_v1.si"))
    scores = [pol.scores(x).tolist() for x in X[60:64]]
    arms = []
    for x in X[60:]:
        d = pol.select(x)
        arms.append(d.arm)
        pol.update(d, float(x[0] - x[1]))
    expect[name] = {"scores": scores, "next_arms": arms, "stats": pol.stats()}
with open(os.path.join(out, "v1_expected.json"), "w") as f:
    json.dump(expect, f, indent=1)
