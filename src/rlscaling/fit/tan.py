"""Tan et al. (2025) size-aware RL law: ``err(N, C) = ((C0 * N^r) / C)^(k_max * N / (N + N0))``.

N in parameters, C = C_rl in FLOPs (> 0), err = 1 - accuracy.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from .checks import finite_array, require_points, require_variation
from .common import NO_RESAMPLING, FitError, Resampling, bootstrap_draws, goodness_of_fit, log_error, param_table

TAN_PARAMS = ["C0", "r", "k_max", "N0"]


def tan_error(n_params, c_rl, c0: float, r: float, k_max: float, n0: float) -> np.ndarray:
    """Model-size-aware RL error law (N in parameters, C in FLOPs > 0); error is 1 - accuracy."""
    n = np.asarray(n_params, dtype=float)
    c = np.asarray(c_rl, dtype=float)
    k = k_max * n / (n + n0)
    return np.exp(k * (np.log(c0) + r * np.log(n) - np.log(c)))


def _log_err(q, ln, lc):
    """Log error of the law in the normalised parameters ``q = (log C0', r, log k_max, log N0')``."""
    k = np.exp(q[2]) / (1 + np.exp(q[3] - ln))
    return k * (q[0] + q[1] * ln - lc)


def _fit_normalised(yy, ln, lc, scales: tuple[float, float], error_floor: float, starts=None):
    """Least-squares fit on log error of accuracies ``yy`` at normalised log N / log C (``scales`` = the geometric
    means of N and C); returns ``(q, parameters in original units: C0 FLOPs, r, k_max, N0 parameters)``."""
    sn, sc = scales
    target = log_error(yy, error_floor)
    if starts is None:
        starts = [
            np.array([0.0, 0.0, np.log(kk), n0])
            for kk in (0.1, 0.5)
            for n0 in np.linspace(ln.min() - 1, ln.max() + 1, 4)
        ]
    best = None
    for q0 in starts:
        res = least_squares(lambda q: _log_err(q, ln, lc) - target, q0, method="lm", max_nfev=400)
        if best is None or res.cost < best.cost:
            best = res
    if best is None or not np.all(np.isfinite(best.x)):
        raise FitError("Tan et al. law: least squares failed")
    q = best.x
    return q, np.array([np.exp(q[0]) * sc / sn ** q[1], q[1], np.exp(q[2]), np.exp(q[3]) * sn])


def fit_tan_law(n_params, c_rl, accuracy, resampling: Resampling = NO_RESAMPLING, *, error_floor: float = 1e-3) -> dict:
    """Fit Tan et al.'s law by least squares on log error, over points with C_rl > 0.

    Parameters are fitted as (log C0', r, log k_max, log N0') with N and C normalised by their geometric
    means; multiple starts over N0 spanning the sizes. Needs >= 2 model sizes and >= 5 points.
    """
    n = finite_array("n_params", n_params, positive=True)
    c = finite_array("c_rl", c_rl, nonnegative=True)
    y = finite_array("accuracy", accuracy)
    keep = c > 0
    n, c, y = n[keep], c[keep], y[keep]
    require_points(len(y), 4, "Tan et al. law (points with C_rl > 0)")
    if np.unique(n).size < 2:
        raise FitError("Tan et al. law: need >= 2 model sizes to identify k_max and N0")
    require_variation(y, "Tan et al. law accuracy")
    sn, sc = np.exp(np.mean(np.log(n))), np.exp(np.mean(np.log(c)))
    ln, lc = np.log(n / sn), np.log(c / sc)

    def fit_once(yy, ln_=ln, lc_=lc, starts=None):
        return _fit_normalised(yy, ln_, lc_, (sn, sc), error_floor, starts)

    q_est, est = fit_once(y)
    r = resampling.columns(keep)
    draws = bootstrap_draws(
        r,
        lambda i: fit_once(np.asarray(r.acc_draws[i], dtype=float), starts=[q_est])[1],
        lambda idx: fit_once(y[idx], ln[idx], lc[idx], starts=[q_est])[1],
        len(y),
        4,
        "bootstrap Tan law",
    )
    acc_hat = 1 - tan_error(n, c, *est)
    out = {"params": param_table(TAN_PARAMS, est, draws, resampling.ci), "n": len(y), **goodness_of_fit(y, acc_hat)}
    out.update(dict(zip(TAN_PARAMS, map(float, est))))
    out["draws"] = draws
    return out
