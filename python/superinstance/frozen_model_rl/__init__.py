"""superinstance.frozen_model_rl: learn which constraint weights to apply to a
frozen model, per context, with contextual bandits (C++ core, float64 state).

Quick start::

    from superinstance.frozen_model_rl import LinUCB, FeatureExtractor, constraint_grid
    arms = constraint_grid((0.5, 1.0, 2.0))           # 81 weight configurations
    fx = FeatureExtractor()
    policy = LinUCB(arms, fx.dim, alpha=0.5, ttl=1000, default_reward=0.0)
    d = policy.select(fx(measured_rate_hz=1.9, rate_hz=2.0, context_confidence=0.8,
                         valence=0.2, arousal=0.4, dominance=0.5, interruption=False))
    weights = policy.arms[d.arm]
    ...                                                # later, maybe much later
    policy.update(d, reward)

See docs/frozen_model_rl.md.
"""

from .abtest import ABDecision, ABResult, ABTest, confidence_sequence, unit_hash
from .arms import (FACTORS, ConstraintArm, FeatureExtractor, arm_matrix, combine_confidence, constraint_grid,
                   constraint_simplex)
from .offline import (Comparison, DecisionLog, Estimate, LoggedData, Summary, compare, direct_method, doubly_robust,
                      dr_shrinkage, estimate_propensities, evaluate, hyperparameter_search, ips, replay, sndr, snips,
                      summarize, switch_dr, target_probabilities)
from .reward_models import LogisticRewardModel, RewardModel, RidgeRewardModel, SharedRewardModel
from .multiobjective import MultiObjectivePolicy, ScalarizedPolicy, pareto_front, scalarize
from .policies import (Decision, DecisionBatch, DiscountedLinUCB, EpsilonGreedy, HybridLinUCB, LinearThompsonSampling,
                       LinUCB, Policy, SlidingWindowLinUCB, load_policy, policy_from_state_dict)
from .preference import IRO, KPO, plackett_luce_sample
from .simulation import (BinaryEnvironment, DriftingEnvironment, LinearEnvironment, RandomPolicy, RegretResult,
                         TwoObjectiveUser, plot_regret, simulate)

__all__ = [
    "ABDecision", "ABResult", "ABTest", "confidence_sequence", "unit_hash",
    "FACTORS", "ConstraintArm", "FeatureExtractor", "arm_matrix", "combine_confidence", "constraint_grid",
    "constraint_simplex",
    "Comparison", "DecisionLog", "Estimate", "LoggedData", "Summary", "compare", "direct_method", "doubly_robust",
    "dr_shrinkage", "estimate_propensities", "evaluate", "hyperparameter_search", "ips", "replay", "sndr", "snips",
    "summarize", "switch_dr", "target_probabilities",
    "LogisticRewardModel", "RewardModel", "RidgeRewardModel", "SharedRewardModel",
    "Decision", "DecisionBatch", "DiscountedLinUCB", "EpsilonGreedy", "HybridLinUCB", "LinearThompsonSampling",
    "LinUCB", "Policy", "SlidingWindowLinUCB", "load_policy", "policy_from_state_dict",
    "IRO", "KPO", "plackett_luce_sample",
    "BinaryEnvironment", "DriftingEnvironment", "LinearEnvironment", "RandomPolicy", "RegretResult",
    "plot_regret", "simulate", "TwoObjectiveUser",
    "MultiObjectivePolicy", "ScalarizedPolicy", "pareto_front", "scalarize",
]
