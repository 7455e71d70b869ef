"""Gain power law ``gain = a * N^b`` by least squares in log-log space (N in billions, gain in pp)."""

from __future__ import annotations

import numpy as np

from .checks import finite_array, require_points
from .common import FitError, goodness_of_fit, param_table


def _loglog_ols(logx: np.ndarray, logy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of log y on log x along the last axis; returns (log a, b) (vectorised)."""
    xm = logx.mean(axis=-1, keepdims=True)
    ym = logy.mean(axis=-1, keepdims=True)
    sxx = np.sum((logx - xm) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.sum((logx - xm) * (logy - ym), axis=-1) / sxx
    b = np.where(sxx > 0, b, np.nan)
    return ym[..., 0] - b * xm[..., 0], b


def power_law(x, a: float, b: float) -> np.ndarray:
    """``a * x^b``."""
    return a * np.power(np.asarray(x, dtype=float), b)


def fit_power_law(
    x, y, *, y_draws: np.ndarray | None = None, bootstrap: int = 0, seed: int = 0, ci: float = 0.95
) -> dict:
    """Fit ``y = a * x^b`` by least squares in log-log space (needs x > 0, y > 0).

    CIs: from ``y_draws`` (B x n bootstrap replicates of y, e.g. from resampled eval items) when given,
    otherwise by resampling the points ``bootstrap`` times. Draws with a non-positive y or a single
    distinct x are dropped and counted in ``n_failed``. Returns ``a, b, ci, r2, rmse, n, draws``.
    """
    x = finite_array("power law x", x, positive=True)
    y = finite_array("power law y", y)
    if len(x) != len(y):
        raise FitError(f"power law: x has {len(x)} values, y has {len(y)}")
    require_points(len(x), 2, "power law a*N^b")
    if np.ptp(x) == 0:
        raise FitError("power law: all x values are equal; the exponent is not identifiable")
    if np.any(y <= 0):
        bad = ", ".join(f"x={xi:.4g}: y={yi:.4g}" for xi, yi in zip(x, y) if yi <= 0)
        raise FitError(f"power law needs positive y to fit in log space; non-positive at {bad}")
    loga, b = _loglog_ols(np.log(x), np.log(y))
    a = float(np.exp(loga))
    rng = np.random.default_rng(seed)
    if y_draws is not None:
        yd = np.asarray(y_draws, dtype=float)
        xd = np.broadcast_to(x, yd.shape)
    elif bootstrap > 0:
        idx = rng.integers(0, len(x), size=(bootstrap, len(x)))
        xd, yd = x[idx], y[idx]
    else:
        xd = yd = None
    draws = None
    if yd is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            la, bb = _loglog_ols(np.log(xd), np.log(np.where(yd > 0, yd, np.nan)))
        draws = np.column_stack([np.exp(la), bb])
        draws[~np.all(np.isfinite(draws), axis=1)] = np.nan
    out = {"a": a, "b": float(b), "n": len(x), **goodness_of_fit(y, power_law(x, a, float(b)))}
    out["params"] = param_table(["a", "b"], [a, float(b)], draws, ci)
    out["ci"] = {k: (v["ci_low"], v["ci_high"]) for k, v in out["params"].items()}
    out["n_failed"] = 0 if draws is None else int(np.isnan(draws[:, 0]).sum())
    out["draws"] = draws
    return out
