"""The token loop: one tick of all four stages (sentiment head on the CPU,
sentiment-weighted HNSW context search with routing, LinUCB over 16 arms, the
confidence), and the cost of a reward. The 100k case is the issue's target
(P99 under 1 ms per tick; see ``python -m superinstance.bench.equilibrium``
for the percentiles and the stage breakdown). ``basin_depth`` 3 restricts the
context search to the routed leaf basin (8.3% of the rows; issue #13: no dearer
than the whole-index tick, 0).
"""

import numpy as np

from superinstance.equilibrium.data import ConversationStream
from superinstance.equilibrium.demo import build_default


class Tick:
    params = [[2_400, 100_000], [0, 3]]
    param_names = ["vectors", "basin_depth"]
    timeout = 900  # building the 100k HNSW index takes ~30 s here

    def setup(self, n, basin_depth):
        b = build_default(100.0, per_subtopic=n // 12, kind="hnsw", seed=0, basin_depth=basin_depth)
        self.orch = b["orchestrator"]
        stream = ConversationStream(b["corpus"], seed=1)
        self.inputs = [next(stream) for _ in range(256)]
        self.i = 0

    def time_orchestrate_and_reward(self, n, basin_depth):
        t = self.inputs[self.i % 256]
        self.i += 1
        r = self.orch.orchestrate(t.embedding, t.features, interrupted=t.interrupted, measured_rate_hz=100.0)
        self.orch.reward(r.tick, 0.5)
