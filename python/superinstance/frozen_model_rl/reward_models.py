"""Reward models q(x, a[, position]) for the direct method and doubly robust estimators (numpy).

One interface for every model:

* ``fit(data, weights=None)`` learns from the decisions of a :class:`LoggedData` whose
  reward arrived; with ``data.positions`` it learns one model per position
  (as obp's ``RegressionModel(len_list=L)`` does);
* ``predict(contexts, positions=None)`` returns the (n, K) predicted rewards, or
  (n, K, L) for a model fitted with positions; with ``positions`` (one per row) the
  (n, K) predictions at each row's position;
* ``fit_predict(data, n_folds=1, seed=0)`` returns out-of-fold predictions for every
  row of the log (K-fold cross-fitting, obp's ``RegressionModel.fit_predict(n_folds=)``):
  with ``n_folds > 1`` a row's prediction comes from a model that did not see it.

Models:

* :class:`RidgeRewardModel`: per-arm ridge regression with an unpenalised intercept.
* :class:`LogisticRewardModel`: per-arm L2-penalised logistic regression for rewards
  in [0, 1] (0/1 clicks); predictions stay inside (0, 1).
* :class:`SharedRewardModel`: one model on (context, action features) shared by all
  arms, ``q = b + w_x.x + w_f.f_a + x' M f_a`` (the last term with ``interactions``),
  identity or logistic link; arms with few observations borrow strength from similar arms.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

__all__ = ["RewardModel", "RidgeRewardModel", "LogisticRewardModel", "SharedRewardModel"]


def _check_lam(lam: Any) -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating)):
        raise TypeError(f"lam must be a number, got {type(lam).__name__}")
    if not (np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be finite and > 0, got {lam}")
    return float(lam)


def _penalised_solve(Phi: np.ndarray, y: np.ndarray, w: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """argmin sum w (y - Phi beta)^2 + sum penalty beta^2 (penalty 0 on the intercept:
    positive definite as soon as sum(w) > 0, see the callers)."""
    Pw = Phi * w[:, None]
    A = Pw.T @ Phi
    A[np.diag_indices_from(A)] += penalty
    return np.linalg.solve(A, Pw.T @ y)


def _logistic_irls(Phi: np.ndarray, y: np.ndarray, w: np.ndarray, penalty: np.ndarray, max_iter: int,
                   tol: float) -> np.ndarray:
    """Penalised logistic regression by Newton's method (IRLS) with step halving; y in [0, 1]."""
    beta = np.zeros(Phi.shape[1])
    ybar = float(np.sum(w * y) / np.sum(w))
    beta[0] = np.log(np.clip(ybar, 1e-6, 1 - 1e-6) / (1 - np.clip(ybar, 1e-6, 1 - 1e-6)))

    def loss(b: np.ndarray) -> float:
        z = Phi @ b
        return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * np.sum(penalty * b * b))

    current = loss(beta)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(Phi @ beta)))
        grad = Phi.T @ (w * (p - y)) + penalty * beta
        H = (Phi * (w * p * (1 - p))[:, None]).T @ Phi
        H[np.diag_indices_from(H)] += penalty
        step = np.linalg.solve(H, grad)
        t = 1.0
        while True:  # step halving keeps the penalised likelihood increasing
            candidate = beta - t * step
            new = loss(candidate)
            if new <= current or t < 1e-8:
                break
            t *= 0.5
        beta, done = candidate, abs(current - new) <= tol * (1.0 + abs(new))
        current = new
        if done:
            break
    return beta


def _positions_of(data: Any) -> Tuple[Optional[np.ndarray], int]:
    if data.positions is None:
        return None, 1
    return data.positions, int(data.n_positions)


class RewardModel:
    """Base class: the position handling, prediction shapes and cross-fitting;
    subclasses implement ``_fit_rows`` and ``_predict_rows`` for one position."""

    def __init__(self) -> None:
        self._params: Optional[List[Any]] = None
        self.n_arms: Optional[int] = None
        self.n_positions: Optional[int] = None  # None: fitted without positions

    # -- subclass hooks
    def _fit_rows(self, X: np.ndarray, arms: np.ndarray, rewards: np.ndarray, weights: np.ndarray,
                  data: Any) -> Any:
        raise NotImplementedError

    def _predict_rows(self, params: Any, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _check_rewards(self, rewards: np.ndarray) -> None:
        pass

    # -- the interface
    @property
    def fitted(self) -> bool:
        return self._params is not None

    def fit(self, data: Any, weights: Optional[Any] = None) -> "RewardModel":
        """Learn from the rows of ``data`` whose reward arrived (``weights``: one per row of data)."""
        from .offline import LoggedData

        if not isinstance(data, LoggedData):
            raise TypeError(f"fit needs a LoggedData, got {type(data).__name__}")
        w = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(data),) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite, >= 0, one per logged decision")
        keep = ~np.isnan(data.rewards)
        self._check_rewards(data.rewards[keep])
        positions, L = _positions_of(data)
        params = []
        for pos in range(L):
            m = keep if positions is None else keep & (positions == pos)
            params.append(self._fit_rows(data.contexts[m], data.arms[m], data.rewards[m], w[m], data))
        self._params = params
        self.n_arms = data.n_arms
        self.n_positions = None if positions is None else L
        self._dim = data.dim
        return self

    def predict(self, contexts: Any, positions: Optional[Any] = None) -> np.ndarray:
        """(n, K) predictions; (n, K, L) for a model fitted with positions, unless
        ``positions`` (n,) picks each row's position, giving (n, K)."""
        if self._params is None:
            raise ValueError(f"{type(self).__name__}: call fit() first")
        X = np.asarray(contexts, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self._dim:
            raise ValueError(f"contexts must be (n, {self._dim}), got shape {X.shape}")
        if positions is None:
            if self.n_positions is None:
                return self._predict_rows(self._params[0], X)
            return np.stack([self._predict_rows(p, X) for p in self._params], axis=2)
        pos = np.asarray(positions)
        if pos.shape != (X.shape[0],) or pos.dtype.kind not in "iu":
            raise ValueError("positions must be (n,) integers, one per context")
        L = self.n_positions or 1
        if pos.size and (pos.min() < 0 or pos.max() >= L):
            raise ValueError(f"positions must be in [0, {L}) for this model, got {pos.min()}..{pos.max()}")
        out = np.empty((X.shape[0], self.n_arms))  # type: ignore[arg-type]
        for p in range(L):
            m = pos == p
            if m.any():
                out[m] = self._predict_rows(self._params[p], X[m])
        return out

    def fit_predict(self, data: Any, n_folds: int = 1, seed: int = 0) -> np.ndarray:
        """Out-of-fold predictions (n, K[, L]) for every row of ``data``, pending rows
        included: the rows are split at random (``seed``) into ``n_folds`` folds and
        each fold is predicted by a model fitted on the other folds. ``n_folds=1``:
        fit on everything and predict everything (obp's default). The model is left
        fitted on the whole log."""
        if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 1:
            raise ValueError(f"n_folds must be an int >= 1, got {n_folds!r}")
        n = len(data)
        if n_folds == 1:
            return self.fit(data).predict(data.contexts)
        if n_folds > n:
            raise ValueError(f"n_folds = {n_folds} is more than the {n} logged decisions")
        folds = np.array_split(np.random.default_rng(seed).permutation(n), n_folds)
        out: Optional[np.ndarray] = None
        for test in folds:
            train = np.ones(n, bool)
            train[test] = False
            self.fit(data.subset(train))
            pred = self.predict(data.contexts[test])
            if out is None:
                out = np.empty((n,) + pred.shape[1:])
            out[test] = pred
        self.fit(data)  # the model left fitted is the one on the whole log
        return out  # type: ignore[return-value]


class RidgeRewardModel(RewardModel):
    """Per-arm ridge regression ``q(x, a) = b_a + theta_a . x`` (intercept not penalised).
    An arm without observations predicts the mean logged reward."""

    def __init__(self, lam: float = 1.0, intercept: bool = True) -> None:
        super().__init__()
        self.lam = _check_lam(lam)
        self.intercept = bool(intercept)

    def _fit_rows(self, X, arms, rewards, weights, data):
        K, d = data.n_arms, data.dim
        theta, bias = np.zeros((K, d)), np.zeros(K)
        fallback = float(np.average(rewards, weights=weights)) if weights.sum() > 0 else 0.0
        pen = np.full(d + self.intercept, self.lam)
        if self.intercept:
            pen[0] = 0.0
        for a in range(K):
            m = arms == a
            if weights[m].sum() <= 0:
                bias[a] = fallback if self.intercept else 0.0
                continue
            Phi = np.hstack([np.ones((int(m.sum()), 1)), X[m]]) if self.intercept else X[m]
            beta = _penalised_solve(Phi, rewards[m], weights[m], pen)
            if self.intercept:
                bias[a], theta[a] = beta[0], beta[1:]
            else:
                theta[a] = beta
        return theta, bias

    def _predict_rows(self, params, X):
        theta, bias = params
        return X @ theta.T + bias

    @property
    def theta(self) -> Optional[np.ndarray]:
        """(K, d) slopes of the model without positions (the first position's otherwise)."""
        return None if self._params is None else self._params[0][0]

    @property
    def bias(self) -> Optional[np.ndarray]:
        return None if self._params is None else self._params[0][1]


class LogisticRewardModel(RewardModel):
    """Per-arm L2-penalised logistic regression, ``q(x, a) = sigmoid(b_a + theta_a . x)``,
    for rewards in [0, 1] (fitted by Newton's method; the intercept gets a tiny penalty,
    1e-6 * lam, so that an arm whose rewards are all 0 or all 1 keeps a finite one)."""

    def __init__(self, lam: float = 1.0, max_iter: int = 50, tol: float = 1e-10) -> None:
        super().__init__()
        self.lam = _check_lam(lam)
        self.max_iter, self.tol = int(max_iter), float(tol)

    def _check_rewards(self, rewards):
        if rewards.size and (rewards.min() < 0 or rewards.max() > 1):
            raise ValueError("LogisticRewardModel needs rewards in [0, 1] (use RidgeRewardModel otherwise)")

    def _fit_rows(self, X, arms, rewards, weights, data):
        K, d = data.n_arms, data.dim
        beta = np.zeros((K, d + 1))
        total = weights.sum()
        fallback = float(np.clip(np.average(rewards, weights=weights), 1e-6, 1 - 1e-6)) if total > 0 else 0.5
        pen = np.full(d + 1, self.lam)
        pen[0] = 1e-6 * self.lam
        for a in range(K):
            m = arms == a
            if weights[m].sum() <= 0:
                beta[a, 0] = np.log(fallback / (1 - fallback))
                continue
            Phi = np.hstack([np.ones((int(m.sum()), 1)), X[m]])
            beta[a] = _logistic_irls(Phi, rewards[m], weights[m], pen, self.max_iter, self.tol)
        return beta

    def _predict_rows(self, params, X):
        z = X @ params[:, 1:].T + params[:, 0]
        return 1.0 / (1.0 + np.exp(-z))


class SharedRewardModel(RewardModel):
    """One model over (context, action features) shared by all arms:
    ``z(x, a) = b + w_x.x + w_f.f_a (+ x' M f_a with interactions)``, ``q = z`` (link
    "identity", ridge) or ``sigmoid(z)`` (link "logistic", rewards in [0, 1]).

    action_context: (K, m) features of the arms; default ``data.action_context``.
    """

    def __init__(self, action_context: Optional[Any] = None, lam: float = 1.0, interactions: bool = True,
                 link: str = "identity", max_iter: int = 50, tol: float = 1e-10) -> None:
        super().__init__()
        if link not in ("identity", "logistic"):
            raise ValueError(f"link must be 'identity' or 'logistic', got {link!r}")
        self.lam = _check_lam(lam)
        self.interactions, self.link = bool(interactions), link
        self.max_iter, self.tol = int(max_iter), float(tol)
        self.action_context = None if action_context is None else np.asarray(action_context, dtype=np.float64)
        self._F: Optional[np.ndarray] = None

    def _features(self, data: Any) -> np.ndarray:
        F = self.action_context if self.action_context is not None else data.action_context
        if F is None:
            raise ValueError("SharedRewardModel needs action features: LoggedData(action_context=...) or "
                             "SharedRewardModel(action_context=...)")
        if F.ndim != 2 or F.shape[0] != data.n_arms or not np.all(np.isfinite(F)):
            raise ValueError(f"action_context must be finite (n_arms, m) = ({data.n_arms}, m), got {F.shape}")
        return F

    def _design(self, X: np.ndarray, Fa: np.ndarray) -> np.ndarray:
        parts = [np.ones((X.shape[0], 1)), X, Fa]
        if self.interactions:
            parts.append((X[:, :, None] * Fa[:, None, :]).reshape(X.shape[0], -1))
        return np.hstack(parts)

    def _check_rewards(self, rewards):
        if self.link == "logistic" and rewards.size and (rewards.min() < 0 or rewards.max() > 1):
            raise ValueError("link='logistic' needs rewards in [0, 1]")

    def _fit_rows(self, X, arms, rewards, weights, data):
        F = self._features(data)
        self._F = F
        Phi = self._design(X, F[arms])
        pen = np.full(Phi.shape[1], self.lam)
        if weights.sum() <= 0:
            return np.zeros(Phi.shape[1])
        if self.link == "logistic":
            pen[0] = 1e-6 * self.lam
            return _logistic_irls(Phi, rewards, weights, pen, self.max_iter, self.tol)
        pen[0] = 0.0
        return _penalised_solve(Phi, rewards, weights, pen)

    def _predict_rows(self, beta, X):
        F = self._F
        d, m = X.shape[1], F.shape[1]  # type: ignore[union-attr]
        z = beta[0] + (X @ beta[1:1 + d])[:, None] + (F @ beta[1 + d:1 + d + m])[None, :]
        if self.interactions:
            M = beta[1 + d + m:].reshape(d, m)
            z = z + X @ M @ F.T  # type: ignore[union-attr]
        return z if self.link == "identity" else 1.0 / (1.0 + np.exp(-z))
