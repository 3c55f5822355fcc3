"""The built-in data: deterministic, well-formed, and a learnable simulated user."""

import numpy as np

from superinstance.equilibrium.data import (FEATURE_DIM, ConversationStream, SimulatedUser, default_corpus)


def test_corpus_is_deterministic_and_well_formed():
    a, b = default_corpus(per_subtopic=20, seed=3), default_corpus(per_subtopic=20, seed=3)
    assert np.array_equal(a.embeddings, b.embeddings) and a.paths == b.paths
    assert a.embeddings.shape == (240, 384) and a.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.embeddings, axis=1), 1.0, rtol=1e-5)
    assert (a.vad[:, 0] >= -1).all() and (a.vad[:, 0] <= 1).all()
    assert (a.vad[:, 1:] >= 0).all() and (a.vad[:, 1:] <= 1).all()
    assert len(set(a.paths)) == 12 and len(np.unique(a.ids)) == 240
    assert not np.array_equal(default_corpus(per_subtopic=20, seed=4).embeddings, a.embeddings)


def test_stream_utterances_sit_in_their_basin():
    corpus = default_corpus(per_subtopic=10)
    stream = ConversationStream(corpus, seed=5)
    hits = 0
    for _ in range(100):
        t = next(stream)
        assert t.features.shape == (FEATURE_DIM,) and t.embedding.shape == (384,)
        sims = {p: float(c @ t.embedding) for p, c in corpus.centers.items()}
        hits += max(sims, key=sims.get) == t.path
    assert hits >= 95


def test_simulated_user_optimum_is_the_ideal_weights():
    user = SimulatedUser(noise=0.0)
    state = (0.2, 0.9, 0.7, 1.0)
    ideal = user.ideal_weights(state)
    assert user.expected(ideal, state) == 1.0
    assert user.expected(ideal + 0.5, state) < 1.0
    arms = [ideal + d for d in (0.0, 0.3, -0.4)]
    assert user.best(arms, state) == (0, 1.0)
    noisy = SimulatedUser(noise=0.1, seed=1)
    rewards = [noisy.reward(ideal + 0.3, state) for _ in range(2000)]
    assert abs(np.mean(rewards) - user.expected(ideal + 0.3, state)) < 0.02
