"""superinstance.vector_navigator: context lookup over embeddings.

Exact (flat) and approximate (HNSW) vector search on a C++ core with SIMD
kernels chosen at run time, payload-aware scoring inside the search loop
(VAD sentiment, time decay, label and id filters), atomic persistence with a
read-only memory-mapped open, and named hierarchical "basins". ShardedIndex
spreads one index over Ray actors (optional dependency: superinstance[distributed]).

Scores are "higher is better" for every metric:

* ``cosine``: cosine similarity (vectors are stored unit length);
* ``ip``: inner product;
* ``l2``: the *negative* squared Euclidean distance;
* a custom metric: whatever the user's compiled function returns.

See docs/vector_navigator.md for the scoring formulas.
"""

from __future__ import annotations

from ._index import NO_ID, Index, sentiment_similarity
from ._navigator import Navigator
from ._sharded import ShardedIndex, ShardUnavailableError

__all__ = ["Index", "Navigator", "NO_ID", "ShardedIndex", "ShardUnavailableError", "sentiment_similarity"]
