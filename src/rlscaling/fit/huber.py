"""Generic Huber/L-BFGS engine for laws written as ``log y_hat = model(theta, X)`` with an analytic Jacobian.

The loss is ``mean_w Huber_delta(log y_hat - log y) / delta`` (Huber on log values, as Hoffmann et al. 2022);
L-BFGS-B from the ``top_k`` best points of a grid of starts scored in one vectorised pass.
A model is ``model(theta, X, jac) -> log_y_hat`` (``theta`` of shape (..., P), broadcasting over leading
axes when ``jac`` is False) or ``(log_y_hat (n,), J (n, P))`` for one theta when ``jac`` is True.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import minimize

from .common import FitError

LogModel = Callable[..., "np.ndarray | tuple[np.ndarray, np.ndarray]"]


def huber(r: np.ndarray, delta: float) -> np.ndarray:
    """Huber function of residuals ``r``: quadratic within ``delta``, linear outside."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_loss_grad(
    theta: np.ndarray, model: LogModel, X: Mapping, logy: np.ndarray, w: np.ndarray, delta: float
) -> tuple[float, np.ndarray]:
    """Weighted mean Huber loss / delta of one parameter vector and its gradient."""
    logp, J = model(theta, X, jac=True)
    r = logp - logy
    scale = w / (delta * w.sum())
    return float(huber(r, delta) @ scale), J.T @ (np.clip(r, -delta, delta) * scale)


def batch_loss(thetas: np.ndarray, model: LogModel, X: Mapping, logy: np.ndarray, delta: float) -> np.ndarray:
    """Unweighted loss of every row of ``thetas`` (K, P), for ranking grid starts."""
    with np.errstate(all="ignore"):
        loss = huber(model(thetas, X, jac=False) - logy, delta).mean(axis=-1) / delta
    return np.where(np.isfinite(loss), loss, np.inf)


def grid_starts(axes: Sequence[Sequence[float]]) -> np.ndarray:
    """Cartesian product of per-parameter start values, one row per start."""
    mesh = np.meshgrid(*[np.asarray(a, dtype=float) for a in axes], indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def fit_huber(
    model: LogModel,
    X: Mapping,
    logy: np.ndarray,
    delta: float,
    bounds: Sequence[tuple[float | None, float | None]],
    starts: np.ndarray,
    *,
    w: np.ndarray | None = None,
    top_k: int = 4,
    tight: bool = True,
) -> tuple[np.ndarray, float]:
    """Best L-BFGS-B fit from the ``top_k`` best of ``starts``; returns (theta, loss). FitError if none converge."""
    w = np.ones_like(logy) if w is None else np.asarray(w, dtype=float)
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    if len(starts) > top_k:
        losses = np.concatenate(
            [batch_loss(chunk, model, X, logy, delta) for chunk in np.array_split(starts, max(1, len(starts) // 1000))]
        )
        starts = starts[np.argsort(losses, kind="stable")[:top_k]]
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    options = {"maxiter": 3000, "ftol": 1e-14 if tight else 1e-10, "gtol": 1e-10 if tight else 1e-7}
    best, best_loss = None, np.inf
    for theta0 in starts:
        with np.errstate(all="ignore"):
            res = minimize(
                huber_loss_grad,
                np.clip(theta0, lo, hi),
                args=(model, X, logy, w, delta),
                jac=True,
                method="L-BFGS-B",
                bounds=list(bounds),
                options=options,
            )
        if np.all(np.isfinite(res.x)) and np.isfinite(res.fun) and res.fun < best_loss:
            best, best_loss = res.x, float(res.fun)
    if best is None:
        raise FitError("Huber/L-BFGS fit did not converge from any start")
    return best, best_loss
