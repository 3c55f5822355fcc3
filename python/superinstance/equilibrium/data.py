"""Built-in default data, so that the loop runs with no setup.

* :func:`default_corpus`: a deterministic conversation corpus. Four topics with
  three subtopics each form basins ``("conversation", topic, subtopic)``; each
  utterance has a 384-d unit embedding (topic direction + subtopic direction +
  noise), a VAD label (valence in [-1, 1], arousal and dominance in [0, 1])
  around its subtopic's mood, and a timestamp.
* :class:`ConversationStream`: the newest inputs each tick: the conversation
  drifts between subtopics (a Markov chain that mostly stays), each tick brings
  an utterance embedding near its subtopic, a feature frame for the sentiment
  head (the subtopic's VAD, plus noise, written into a fixed random projection),
  and an interruption flag (about 1 tick in 12).
* :class:`SimulatedUser`: the user's satisfaction with the constraint weights
  the bandit chose. The user has an ideal weight vector that depends linearly
  on the loop's state (more weight on the interruption factor when
  interrupted, on sentiment when aroused, on context when context is
  confident, on rate when the rate is off). Expected satisfaction is
  ``1 - ||w - w*(state)||^2 / 4`` clipped to [0, 1]; observed rewards add
  Gaussian noise (sd 0.1) and are clipped. Because the expected reward is known,
  regret against the best arm is exact.

Everything is seeded: the same seed gives the same corpus, stream and rewards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["TOPICS", "SUBTOPIC_MOOD", "Corpus", "default_corpus", "Tick", "ConversationStream",
           "SimulatedUser", "FEATURE_DIM"]

DIM = 384
FEATURE_DIM = 32  # length of the sentiment feature frame

TOPICS: Dict[str, Tuple[str, ...]] = {
    "technical": ("rust", "python", "gpu"),
    "music": ("jazz", "symphony", "pop"),
    "outdoors": ("fishing", "sailing", "hiking"),
    "daily": ("food", "travel", "family"),
}

# (valence, arousal, dominance) per subtopic; fishing, jazz and symphony are the originals' scenarios.
SUBTOPIC_MOOD: Dict[str, Tuple[float, float, float]] = {
    "rust": (0.2, 0.6, 0.7), "python": (0.4, 0.4, 0.6), "gpu": (0.1, 0.7, 0.5),
    "jazz": (0.3, 0.8, 0.6), "symphony": (0.7, 0.4, 0.8), "pop": (0.6, 0.7, 0.5),
    "fishing": (0.8, 0.3, 0.7), "sailing": (0.6, 0.5, 0.6), "hiking": (0.5, 0.6, 0.5),
    "food": (0.7, 0.3, 0.5), "travel": (0.5, 0.6, 0.4), "family": (0.4, 0.5, 0.3),
}


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


@dataclass
class Corpus:
    embeddings: np.ndarray          # (n, 384) float32, unit norm
    ids: np.ndarray                 # (n,) uint64
    vad: np.ndarray                 # (n, 3) float32
    timestamps: np.ndarray          # (n,) float64 seconds since the epoch
    paths: List[Tuple[str, str, str]]  # basin of each row
    centers: Dict[Tuple[str, str, str], np.ndarray] = field(repr=False, default_factory=dict)

    @property
    def basins(self) -> List[Tuple[str, str, str]]:
        return list(self.centers)

    def __len__(self) -> int:
        return len(self.ids)


def default_corpus(per_subtopic: int = 200, dim: int = DIM, seed: int = 0, now: float = 1.7e9) -> Corpus:
    """The built-in corpus: 12 subtopic basins x ``per_subtopic`` utterances."""
    if per_subtopic < 1:
        raise ValueError("per_subtopic must be >= 1")
    rng = np.random.default_rng(seed)
    embeddings, vads, paths, centers = [], [], [], {}
    for topic, subs in TOPICS.items():
        topic_dir = rng.standard_normal(dim)
        for sub in subs:
            center = _unit(topic_dir + 0.8 * rng.standard_normal(dim))
            path = ("conversation", topic, sub)
            centers[path] = center
            noise = rng.standard_normal((per_subtopic, dim)) * (0.9 / np.sqrt(dim))
            embeddings.append(_unit(center + noise))
            mood = np.array(SUBTOPIC_MOOD[sub])
            v = np.clip(mood + rng.normal(0, 0.08, (per_subtopic, 3)), [-1, 0, 0], [1, 1, 1])
            vads.append(v.astype(np.float32))
            paths.extend([path] * per_subtopic)
    n = len(paths)
    ages_h = rng.exponential(48.0, n)  # most utterances are recent
    return Corpus(embeddings=np.concatenate(embeddings), ids=np.arange(1, n + 1, dtype=np.uint64),
                  vad=np.concatenate(vads), timestamps=now - ages_h * 3600.0, paths=paths, centers=centers)


@dataclass(frozen=True)
class Tick:
    """The newest inputs at one tick of the loop."""

    embedding: np.ndarray   # (384,) float32 utterance embedding
    features: np.ndarray    # (FEATURE_DIM,) float32 sentiment feature frame
    interrupted: bool
    path: Tuple[str, str, str]  # the true basin (for evaluation)
    vad: Tuple[float, float, float]  # the true mood (for evaluation)


class ConversationStream:
    """An endless, seeded stream of :class:`Tick` inputs over a corpus's basins."""

    def __init__(self, corpus: Corpus, seed: int = 1, stay: float = 0.9, interrupt_rate: float = 1 / 12):
        self.corpus = corpus
        self.rng = np.random.default_rng(seed)
        self.stay = stay
        self.interrupt_rate = interrupt_rate
        self.basins = corpus.basins
        self.current = int(self.rng.integers(len(self.basins)))
        proj_rng = np.random.default_rng(12345)
        self.projection = proj_rng.standard_normal((FEATURE_DIM, 3)).astype(np.float32)
        self.dim = corpus.embeddings.shape[1]

    def __iter__(self):
        return self

    def __next__(self) -> Tick:
        if self.rng.random() > self.stay:
            self.current = int(self.rng.integers(len(self.basins)))
        path = self.basins[self.current]
        center = self.corpus.centers[path]
        emb = _unit(center + self.rng.standard_normal(self.dim) * (0.9 / np.sqrt(self.dim)))
        mood = np.clip(np.array(SUBTOPIC_MOOD[path[2]]) + self.rng.normal(0, 0.08, 3), [-1, 0, 0], [1, 1, 1])
        features = (self.projection @ mood + self.rng.normal(0, 0.05, FEATURE_DIM)).astype(np.float32)
        interrupted = bool(self.rng.random() < self.interrupt_rate)
        return Tick(emb, features, interrupted, path, tuple(float(x) for x in mood))


class SimulatedUser:
    """Satisfaction with constraint weights ``w = (rate, context, sentiment, interruption)``.

    ``state`` is ``(rate_error, context_confidence, arousal, interrupted)``, each in [0, 1].
    """

    def __init__(self, noise: float = 0.1, seed: int = 2):
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def ideal_weights(state: Sequence[float]) -> np.ndarray:
        rate_error, context_conf, arousal, interrupted = (float(s) for s in state)
        return np.array([0.5 + 1.0 * rate_error, 0.3 + 1.2 * context_conf,
                         0.4 + 1.4 * arousal, 0.3 + 1.4 * interrupted])

    def expected(self, weights: Sequence[float], state: Sequence[float]) -> float:
        d = np.asarray(weights, dtype=np.float64) - self.ideal_weights(state)
        return float(np.clip(1.0 - d @ d / 4.0, 0.0, 1.0))

    def reward(self, weights: Sequence[float], state: Sequence[float]) -> float:
        return float(np.clip(self.expected(weights, state) + self.rng.normal(0, self.noise), 0.0, 1.0))

    def best(self, arms: Sequence[Sequence[float]], state: Sequence[float]) -> Tuple[int, float]:
        values = [self.expected(a, state) for a in arms]
        i = int(np.argmax(values))
        return i, values[i]
