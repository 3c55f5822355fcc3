"""IRO and KPO, adapted to constraint-weight arms (DESIGN.md section 1.4).

IRO (Iterative Reweight-then-Optimize, arXiv 2506.17828) aligns a frozen model
at test time: each iteration reweights samples by exp(value / beta) and fits a
light value model, so the policy becomes ``pi_t(a|x) ∝ pi_{t-1}(a|x) *
exp(V_t(x, a) / beta)``. Here the "samples" are logged decisions (context, arm,
propensity, reward): the weight of a logged sample under the current policy is
``pi_{t-1}(a|x) / p`` -- exactly the previous weight times exp(V_{t-1}/beta)
up to the per-context normaliser -- and the value model is a per-arm ridge
regression fit with those weights. Use it to turn a log of rewarded
decisions into a sharper policy offline, without touching a bandit's state.

KPO (K-wise Preference Optimization, arXiv 2506.00441) learns from top-K
rankings instead of rewards: a linear utility ``u(x, a) = w . kron(f_a, x)``
(f_a: the arm's weight vector) is fit by maximising the Plackett-Luce top-K
likelihood ``prod_j exp(u_(j)) / sum_{l not yet ranked} exp(u_l)``. Use it
when feedback arrives as preferences ("configuration B felt better than A and
C") rather than as scalar rewards.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .offline import LoggedData, _complete
from .reward_models import RidgeRewardModel

__all__ = ["IRO", "KPO", "plackett_luce_sample"]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class IRO:
    """Iterative reweight-then-optimise over logged decisions.

    beta: temperature (> 0); smaller sharpens faster. n_iter: iterations.
    lam: ridge regularisation of each value model. reference: callable
    X -> (n, K) probabilities of the starting policy pi_0 (default uniform).
    """

    def __init__(self, n_arms: int, dim: int, *, beta: float = 0.1, n_iter: int = 5, lam: float = 1.0,
                 reference: Optional[Any] = None) -> None:
        if n_arms < 1 or dim < 1:
            raise ValueError("n_arms and dim must be >= 1")
        if not beta > 0:
            raise ValueError("beta must be > 0")
        if n_iter < 1:
            raise ValueError("n_iter must be >= 1")
        self.n_arms, self.dim, self.beta, self.n_iter, self.lam = int(n_arms), int(dim), float(beta), int(n_iter), float(lam)
        self.reference = reference
        self.value_models: list = []      # theta (K, d) per iteration
        self.weights_history: list = []   # effective sample size per iteration

    def _log_ref(self, X: np.ndarray) -> np.ndarray:
        if self.reference is None:
            return np.full((X.shape[0], self.n_arms), -np.log(self.n_arms))
        P = np.asarray(self.reference(X), dtype=np.float64)
        if P.shape != (X.shape[0], self.n_arms):
            raise ValueError("reference must return (n, n_arms) probabilities")
        with np.errstate(divide="ignore"):
            return np.log(P)

    def logits(self, X: Any, n_models: Optional[int] = None) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.dim:
            raise ValueError(f"contexts have {X.shape[1]} features, expected {self.dim}")
        z = self._log_ref(X)
        for th in self.value_models[:n_models]:
            z = z + (X @ th.T) / self.beta
        return z

    def predict_proba(self, X: Any, n_models: Optional[int] = None) -> np.ndarray:
        """(n, K) probabilities of the current policy."""
        return _softmax(self.logits(X, n_models))

    def select(self, x: Any) -> int:
        """Most probable arm for x."""
        return int(np.argmax(self.logits(x)[0]))

    def fit(self, data: LoggedData) -> "IRO":
        data = _complete(data)
        if data.dim != self.dim or data.n_arms != self.n_arms:
            raise ValueError("log dimensions do not match")
        self.value_models, self.weights_history = [], []
        idx = np.arange(len(data))
        for _ in range(self.n_iter):
            P = self.predict_proba(data.contexts)
            w = P[idx, data.arms] / data.propensities
            w = w / w.mean()
            self.weights_history.append(float(w.sum() ** 2 / (w ** 2).sum()))
            q = RidgeRewardModel(self.lam, intercept=False).fit(data, weights=w)
            self.value_models.append(q.theta.copy())
        return self


def plackett_luce_sample(utilities: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Top-k rankings drawn from Plackett-Luce (Gumbel-max trick); utilities (n, C)."""
    g = rng.gumbel(size=utilities.shape)
    return np.argsort(-(utilities + g), axis=1)[:, :k]


class KPO:
    """Linear utility over (context, arm) learnt from top-K rankings.

    arm_features: (K, m) arm descriptions (e.g. ``arm_matrix(arms)``); the
    utility features are ``kron(arm_features[a], x)`` (m * d values).
    lam: L2 penalty. Fit by Newton's method on the concave Plackett-Luce
    top-K log-likelihood.
    """

    def __init__(self, arm_features: Any, dim: int, *, lam: float = 1e-3, max_iter: int = 50, tol: float = 1e-8) -> None:
        self.arm_features = np.ascontiguousarray(arm_features, dtype=np.float64)
        if self.arm_features.ndim != 2 or self.arm_features.shape[0] < 2:
            raise ValueError("arm_features must be (n_arms >= 2, m)")
        if not np.all(np.isfinite(self.arm_features)):
            raise ValueError("arm_features contain NaN or Inf")
        if not lam >= 0:
            raise ValueError("lam must be >= 0")
        self.dim, self.lam, self.max_iter, self.tol = int(dim), float(lam), int(max_iter), float(tol)
        self.n_arms, self.m = self.arm_features.shape
        self.w = np.zeros(self.m * self.dim)
        self.log_likelihood_: Optional[float] = None
        self.n_iter_ = 0

    def features(self, X: np.ndarray) -> np.ndarray:
        """(n, K, m*d) utility features kron(arm_features[a], x)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return np.einsum("km,nd->nkmd", self.arm_features, X).reshape(X.shape[0], self.n_arms, -1)

    def utilities(self, X: Any) -> np.ndarray:
        """(n, K) utilities."""
        return self.features(X) @ self.w

    def select(self, x: Any) -> int:
        return int(np.argmax(self.utilities(x)[0]))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each arm being ranked first."""
        return _softmax(self.utilities(X))

    def _loglik(self, w: np.ndarray, Phi: np.ndarray, rankings: np.ndarray, avail: np.ndarray,
                need_derivs: bool):
        n, C, p = Phi.shape
        k = rankings.shape[1]
        u = Phi @ w
        ll = -0.5 * self.lam * w @ w
        g = -self.lam * w
        H = -self.lam * np.eye(p)
        remaining = avail.copy()
        rows = np.arange(n)
        for j in range(k):
            z = np.where(remaining, u, -np.inf)
            zmax = z.max(axis=1, keepdims=True)
            e = np.where(remaining, np.exp(z - zmax), 0.0)
            s = e.sum(axis=1, keepdims=True)
            pr = e / s
            ch = rankings[:, j]
            ll += float(np.sum(u[rows, ch] - (zmax[:, 0] + np.log(s[:, 0]))))
            if need_derivs:
                mu = np.einsum("nc,ncp->np", pr, Phi)
                g += (Phi[rows, ch] - mu).sum(axis=0)
                flat = Phi.reshape(-1, p)
                H -= (flat * pr.reshape(-1, 1)).T @ flat - mu.T @ mu
            remaining[rows, ch] = False
        return ll, g, H

    def fit(self, X: Any, rankings: Any, candidates: Optional[Any] = None) -> "KPO":
        """X: (n, d) contexts. rankings: (n, k) arm indices, best first.
        candidates: optional (n, C) arm indices offered in each context (the
        ranking is over these); default: all arms."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        R = np.atleast_2d(np.asarray(rankings, dtype=np.int64))
        if X.shape[1] != self.dim:
            raise ValueError(f"contexts have {X.shape[1]} features, expected {self.dim}")
        if R.shape[0] != X.shape[0]:
            raise ValueError("one ranking per context")
        if not np.all(np.isfinite(X)):
            raise ValueError("contexts contain NaN or Inf")
        if R.min() < 0 or R.max() >= self.n_arms:
            raise ValueError(f"ranked arms must be in [0, {self.n_arms})")
        if any(len(set(r)) != len(r) for r in R.tolist()):
            raise ValueError("a ranking lists an arm twice")
        n = X.shape[0]
        Phi_all = self.features(X)
        if candidates is None:
            avail = np.ones((n, self.n_arms), bool)
            Phi, Rp = Phi_all, R
        else:
            Cd = np.atleast_2d(np.asarray(candidates, dtype=np.int64))
            if Cd.shape[0] != n or Cd.min() < 0 or Cd.max() >= self.n_arms:
                raise ValueError("candidates must be (n, C) arm indices")
            Phi = Phi_all[np.arange(n)[:, None], Cd]
            avail = np.ones(Cd.shape, bool)
            Rp = np.empty_like(R)
            for i in range(n):
                pos = {a: j for j, a in enumerate(Cd[i].tolist())}
                try:
                    Rp[i] = [pos[a] for a in R[i].tolist()]
                except KeyError:
                    raise ValueError(f"ranking {i} contains an arm that is not among its candidates") from None
        w = self.w.copy() if self.w.shape[0] == Phi.shape[2] else np.zeros(Phi.shape[2])
        ll, g, H = self._loglik(w, Phi, Rp, avail, True)
        for it in range(self.max_iter):
            try:
                step = np.linalg.solve(H - 1e-9 * np.eye(H.shape[0]), -g)
            except np.linalg.LinAlgError:
                step = g / max(np.abs(np.diag(H)).max(), 1.0)
            t = 1.0
            while True:
                ll_new, _, _ = self._loglik(w + t * step, Phi, Rp, avail, False)
                if ll_new >= ll - 1e-12 or t < 1e-6:
                    break
                t *= 0.5
            w = w + t * step
            improvement = ll_new - ll
            ll, g, H = self._loglik(w, Phi, Rp, avail, True)
            self.n_iter_ = it + 1
            if abs(improvement) < self.tol * max(1.0, abs(ll)):
                break
        self.w = w
        self.log_likelihood_ = float(ll)
        return self
