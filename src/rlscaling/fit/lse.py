"""Log-sum-exp Huber/L-BFGS engine for sums of power laws, and the Chinchilla-style two-factor law.

``y = E + A / x1^alpha + B / x2^beta`` (plus an interaction term and an offset on x2 for the compute-only
joint laws in :mod:`rlscaling.fit.joint`). Huber loss on log y, L-BFGS-B with the analytic gradient, started
from the best points of a scale-free grid (Hoffmann et al. 2022; Besiroglu et al. 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .checks import finite_array, require_points, require_variation
from .common import FitError, bootstrap_loop, percentile_ci

# theta = [e, a, alpha, b, beta, (d if interaction), (c0 if offset)] in normalised units:
#   T0 = e,  T1 = a - alpha*L1,  T2 = b - beta*L2,  T3 = d - alpha*L1 - beta*L2,
#   L1 = log x1,  L2 = log x2  or  log(x2 + exp(c0)) with an offset.
#   log y_hat = LSE(T).  Loss = mean Huber_delta(log y_hat - log y) / delta.


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    a = np.abs(r)
    val = np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))
    return val, np.clip(r, -delta, delta)


@dataclass(frozen=True)
class _LSESpec:
    interaction: bool = False
    offset: bool = False

    @property
    def n_params(self) -> int:
        return 5 + self.interaction + self.offset

    @property
    def bounds(self) -> list[tuple[float | None, float | None]]:
        """Box for L-BFGS-B: exponents in [0, 10]; log-coefficients kept finite (>= -25)."""
        b = [(-25.0, None), (-25.0, None), (0.0, 10.0), (-25.0, None), (0.0, 10.0)]
        if self.interaction:
            b.append((-25.0, None))
        if self.offset:
            b.append((-25.0, 25.0))
        return b

    def terms(self, theta: np.ndarray, L1: np.ndarray, X2: np.ndarray) -> np.ndarray:
        """Terms (..., K, n) for parameter rows theta (..., P); used to score grids of starts."""
        theta = np.asarray(theta, dtype=float)
        e, a, al, b, be = (theta[..., i, None] for i in range(5))
        L2 = np.log(X2 + np.exp(theta[..., -1, None])) if self.offset else X2 + 0 * e
        t = [e + 0 * L2, a - al * L1, b - be * L2]
        if self.interaction:
            t.append(theta[..., 5, None] - al * L1 - be * L2)
        return np.stack(t, axis=-2)


def _logsumexp(T: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable log-sum-exp over ``axis`` and the matching softmax weights."""
    m = T.max(axis=axis, keepdims=True)
    ex = np.exp(T - m)
    tot = ex.sum(axis=axis, keepdims=True)
    return (np.log(tot) + m).squeeze(axis), ex / tot


def _lse_loss_grad(theta, spec: _LSESpec, L1, X2, logy, w, delta):
    """Mean Huber loss / delta and its analytic gradient for one parameter vector (hot path)."""
    if spec.offset:
        c0 = np.exp(theta[-1])
        X2c = X2 + c0
        L2, dL2 = np.log(X2c), c0 / X2c
    else:
        L2, dL2 = X2, None
    T = np.empty((3 + spec.interaction, L1.size))
    T[0] = theta[0]
    np.subtract(theta[1], theta[2] * L1, out=T[1])
    np.subtract(theta[3], theta[4] * L2, out=T[2])
    if spec.interaction:
        np.subtract(T[1] + T[2] - theta[1] - theta[3], -theta[5], out=T[3])
    m = T.max(axis=0)
    ex = np.exp(T - m)
    tot = ex.sum(axis=0)
    s = ex / tot
    r = np.log(tot) + m - logy
    ar = np.abs(r)
    quad = ar <= delta
    val = np.where(quad, 0.5 * r * r, delta * (ar - 0.5 * delta))
    scale = w / (delta * w.sum())
    g = np.clip(r, -delta, delta) * scale
    grad = np.empty(spec.n_params)
    grad[0] = g @ s[0]
    grad[1] = g @ s[1]
    grad[3] = g @ s[2]
    s_rl = s[2] + (s[3] if spec.interaction else 0)
    s_pre = s[1] + (s[3] if spec.interaction else 0)
    grad[2] = -(g * L1) @ s_pre
    grad[4] = -(g * L2) @ s_rl
    if spec.interaction:
        grad[5] = g @ s[3]
    if spec.offset:
        grad[-1] = -theta[4] * ((g * dL2) @ s_rl)
    return float(val @ scale), grad


def _lse_loss_batch(thetas: np.ndarray, spec: _LSESpec, L1, X2, logy, delta) -> np.ndarray:
    T = spec.terms(thetas, L1, X2)
    val, _ = _huber(_logsumexp(T, axis=-2)[0] - logy, delta)
    return val.mean(axis=-1) / delta


def _lbfgs(theta0, spec, L1, X2, logy, w, delta, tight: bool = True) -> tuple[np.ndarray, float]:
    lo = np.array([-np.inf if b[0] is None else b[0] for b in spec.bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in spec.bounds])
    theta0 = np.clip(theta0, lo, hi)
    res = minimize(
        _lse_loss_grad,
        theta0,
        args=(spec, L1, X2, logy, w, delta),
        jac=True,
        method="L-BFGS-B",
        bounds=spec.bounds,
        options={"maxiter": 2000, "ftol": 1e-14 if tight else 1e-10, "gtol": 1e-10 if tight else 1e-7},
    )
    return res.x, float(res.fun)


def _lse_grid(spec: _LSESpec, logy: np.ndarray, X2: np.ndarray) -> np.ndarray:
    """Scale-free grid of starts (inputs are normalised by their geometric means)."""
    ymin, ymed = float(np.exp(logy.min())), float(np.exp(np.median(logy)))
    e = np.log(ymin * np.array([0.05, 0.3, 0.6, 0.9]))
    coef = np.log(ymed * np.array([0.01, 0.1, 0.3, 1.0]))
    expo = np.array([0.05, 0.2, 0.4, 0.7, 1.0, 1.5])
    axes = [e, coef, expo, coef, expo]
    if spec.interaction:
        axes.append(np.log(ymed * np.array([0.01, 0.3])))
    if spec.offset:
        pos = X2[X2 > 0]
        axes.append(np.log(np.array([pos.min() / 10, pos.min(), np.median(pos)])))
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _lse_fit(
    spec: _LSESpec, L1, X2, logy, delta, *, w=None, starts: np.ndarray | None = None, top_k: int = 4
) -> tuple[np.ndarray, float]:
    """Best L-BFGS fit over the ``top_k`` best grid starts (or over ``starts`` when given)."""
    w = np.ones_like(logy) if w is None else w
    tight = starts is None  # warm starts (bootstrap refits) stop a little earlier
    if starts is None:
        grid = _lse_grid(spec, logy, X2)
        losses = np.concatenate(
            [
                _lse_loss_batch(chunk, spec, L1, X2, logy, delta)
                for chunk in np.array_split(grid, max(1, len(grid) // 2000))
            ]
        )
        starts = grid[np.argsort(losses)[:top_k]]
    best, best_loss = None, np.inf
    for theta0 in starts:
        theta, loss = _lbfgs(theta0, spec, L1, X2, logy, w, delta, tight)
        if np.all(np.isfinite(theta)) and loss < best_loss:
            best, best_loss = theta, loss
    if best is None:
        raise FitError("Huber/L-BFGS fit did not converge from any start")
    return best, best_loss


def fit_two_factor_power_law(
    x1, x2, y, delta: float = 1e-3, bootstrap: int = 0, seed: int = 0, ci: float = 0.95, progress: bool = False
) -> dict:
    """Fit ``y = E + A / x1^alpha + B / x2^beta`` (Chinchilla-style; all inputs > 0).

    Huber loss (``delta``) on log y, L-BFGS with the analytic gradient from the best starts of a grid,
    log-sum-exp parametrisation. Inputs are normalised by their geometric means internally; returned
    parameters are in the original units. ``bootstrap > 0`` resamples points and refits (warm start),
    adding ``ci = {key: (low, high)}`` percentile intervals and ``draws`` (B x 5).
    """
    x1 = finite_array("x1", x1, positive=True)
    x2 = finite_array("x2", x2, positive=True)
    y = finite_array("y", y, positive=True)
    if not len(x1) == len(x2) == len(y):
        raise FitError(f"two-factor power law: lengths differ (x1 {len(x1)}, x2 {len(x2)}, y {len(y)})")
    require_points(len(y), 5, "two-factor power law")
    require_variation(y, "two-factor power law y")
    s1, s2 = np.exp(np.mean(np.log(x1))), np.exp(np.mean(np.log(x2)))
    L1, L2, logy = np.log(x1 / s1), np.log(x2 / s2), np.log(y)
    spec = _LSESpec()
    theta, loss = _lse_fit(spec, L1, L2, logy, delta)

    def to_params(t):
        return np.array([np.exp(t[0]), np.exp(t[1]) * s1 ** t[2], np.exp(t[3]) * s2 ** t[4], t[2], t[4]])

    names = ["E", "A", "B", "alpha", "beta"]
    est = to_params(theta)
    out = dict(zip(names, map(float, est)))
    out["loss"] = loss
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        n = len(y)

        def refit(_):
            counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
            t, _ = _lse_fit(spec, L1, L2, logy, delta, w=counts, starts=[theta])
            return to_params(t)

        draws = bootstrap_loop(bootstrap, refit, 5, "bootstrap two-factor law", progress)
        low, high = percentile_ci(draws, ci)
        out["ci"] = {k: (float(lo), float(hi)) for k, lo, hi in zip(names, low, high)}
        out["draws"] = draws
    return out
