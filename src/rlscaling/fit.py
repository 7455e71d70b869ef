"""Scaling-law fits with bootstrap confidence intervals.

Pure functions over arrays and DataFrames. Units throughout:

* compute ``C_pretrain`` / ``C_rl``: FLOPs (floats); ``C_rl = 0`` is the base model;
* model size ``N``: parameters, except the gain law which uses **billions** of parameters (as the seed);
* accuracy: fraction in [0, 1]; error = 1 - accuracy; gains: **percentage points** (100 x fraction).

Forms fitted
------------
* gain power law            ``gain = a * N^b``                                 (log-log least squares)
* ScaleRL sigmoid           ``R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)``      (grid over A, C_mid; B by LS)
* Tan et al. (2025)         ``err(N, C) = ((C0 * N^r) / C)^(k_max * N / (N + N0))``
* joint law, two forms      ``err = E + A*C_pre^-alpha + B*(C_rl + C0)^-beta [+ D*C_pre^-alpha*(C_rl + C0)^-beta]``
* generic engine            ``y = E + A/x1^alpha + B/x2^beta``  (Huber on log y, L-BFGS, LSE parametrisation)

Confidence intervals are percentile bootstrap intervals: evaluation items are resampled from the per-item
records when available (accuracies recomputed, every form refitted), otherwise the fitted points are resampled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, minimize

try:  # progress bars are optional niceties
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    def tqdm(it, **_):  # type: ignore[no-redef]
        return it


SUMMARY_COLUMNS = (
    "study", "model", "n_params", "pretrain_tokens", "c_pretrain", "rl_step", "c_rl",
    "benchmark", "subset", "shots", "scorer", "n_items", "accuracy", "ci_low", "ci_high",
)
FIT_COLUMNS = ("model", "n_params", "pretrain_tokens", "c_pretrain", "rl_step", "c_rl",
               "benchmark", "subset", "shots", "scorer", "accuracy")
RECORD_COLUMNS = ("model", "pretrain_tokens", "rl_step", "benchmark", "subset", "shots", "scorer",
                  "item_id", "score")
CONDITION_KEYS = ["model", "pretrain_tokens", "rl_step"]


class FitError(ValueError):
    """A fit cannot be made from the given data; the message says why."""


# --------------------------------------------------------------------------------------------------
# configuration and small helpers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitConfig:
    """What to fit and how. ``from_mapping`` accepts the workflow config (its ``fit`` section)."""

    benchmark: str = "gsm8k"
    scorer: str = "custom_flexible"
    shots: int = 0
    subset: str = "all"
    bootstrap: int = 1000
    ci: float = 0.95
    seed: int = 0
    huber_delta: float = 1e-2    # joint law, on log error: ~1% relative error, below binomial noise
    error_floor: float = 1e-3      # error rates are clipped below at this fraction before taking logs
    budgets: tuple[float, ...] = ()  # allocation budgets in FLOPs; empty = derived from the data
    progress: bool = False

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> FitConfig:
        """Build from a dict: either the ``fit`` section itself or a whole config holding one."""
        if not config:
            return cls()
        section = dict(config.get("fit", config))
        if "seed" not in section and "seed" in config:
            section["seed"] = config["seed"]
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise FitError(f"config fit: unknown key(s) {unknown}; known: {sorted(known)}")
        if "budgets" in section:
            section["budgets"] = tuple(float(b) for b in section["budgets"])
        cfg = cls(**section)
        if not 0 < cfg.ci < 1:
            raise FitError(f"config fit.ci must lie in (0, 1), got {cfg.ci}")
        if cfg.bootstrap < 0:
            raise FitError(f"config fit.bootstrap must be >= 0, got {cfg.bootstrap}")
        return cfg


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...] | list[str], what: str) -> None:
    """Raise ``FitError`` naming every column of ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FitError(f"{what}: missing column(s) {missing}")


def _finite_array(name: str, values, *, positive: bool = False, nonnegative: bool = False) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(arr)):
        raise FitError(f"{name}: contains NaN or infinite values")
    if positive and np.any(arr <= 0):
        raise FitError(f"{name}: must be > 0 (got min {arr.min():.4g})")
    if nonnegative and np.any(arr < 0):
        raise FitError(f"{name}: compute must be >= 0 FLOPs (got min {arr.min():.4g})")
    return arr


def _require_points(n: int, n_params: int, form: str) -> None:
    if n < n_params + 1:
        raise FitError(f"{form}: {n} point(s) for {n_params} parameters; need at least {n_params + 1}")


def _require_variation(y: np.ndarray, what: str) -> None:
    if np.ptp(y) == 0:
        raise FitError(f"{what}: all values are equal ({y[0]:.4g}); nothing to fit")


def percentile_ci(draws: np.ndarray, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the first axis, ignoring failed (NaN) draws."""
    draws = np.asarray(draws, dtype=float)
    tail = 100 * (1 - ci) / 2
    with np.errstate(all="ignore"):
        return np.nanpercentile(draws, tail, axis=0), np.nanpercentile(draws, 100 - tail, axis=0)


def param_table(names: list[str], estimate, draws: np.ndarray | None, ci: float) -> dict[str, dict]:
    """``{name: {estimate, ci_low, ci_high}}``; CI bounds are None without bootstrap draws."""
    estimate = np.asarray(estimate, dtype=float)
    if draws is None or len(draws) == 0 or np.all(np.isnan(draws)):
        low = high = [None] * len(names)
    else:
        low, high = percentile_ci(draws, ci)
    return {n: {"estimate": float(e), "ci_low": None if lo is None else float(lo),
                "ci_high": None if hi is None else float(hi)}
            for n, e, lo, hi in zip(names, estimate, low, high)}


def goodness_of_fit(y: np.ndarray, y_hat: np.ndarray) -> dict[str, float]:
    """R^2 and RMSE of predictions, in the units of ``y``."""
    resid = y - y_hat
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    return {"r2": r2, "rmse": float(np.sqrt(np.mean(resid**2)))}


def _bootstrap_loop(n_boot: int, refit: Callable[[int], np.ndarray], n_params: int,
                    desc: str, progress: bool) -> np.ndarray:
    """Call ``refit(i)`` for every draw; a draw whose refit raises FitError becomes a NaN row."""
    out = np.full((n_boot, n_params), np.nan)
    for i in tqdm(range(n_boot), desc=desc, disable=not progress, leave=False):
        try:
            with np.errstate(all="ignore"):
                row = refit(i)
        except (FitError, FloatingPointError, np.linalg.LinAlgError):
            continue
        if np.all(np.isfinite(row)):
            out[i] = row
    return out


# --------------------------------------------------------------------------------------------------
# gain power law: gain = a * N^b
# --------------------------------------------------------------------------------------------------


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


def fit_power_law(x, y, *, y_draws: np.ndarray | None = None, bootstrap: int = 0, seed: int = 0,
                  ci: float = 0.95) -> dict:
    """Fit ``y = a * x^b`` by least squares in log-log space (needs x > 0, y > 0).

    CIs: from ``y_draws`` (B x n bootstrap replicates of y, e.g. from resampled eval items) when given,
    otherwise by resampling the points ``bootstrap`` times. Draws with a non-positive y or a single
    distinct x are dropped and counted in ``n_failed``. Returns ``a, b, ci, r2, rmse, n, draws``.
    """
    x = _finite_array("power law x", x, positive=True)
    y = _finite_array("power law y", y)
    if len(x) != len(y):
        raise FitError(f"power law: x has {len(x)} values, y has {len(y)}")
    _require_points(len(x), 2, "power law a*N^b")
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


# --------------------------------------------------------------------------------------------------
# log-sum-exp Huber engine (two-factor power law and the joint laws)
# --------------------------------------------------------------------------------------------------
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
    res = minimize(_lse_loss_grad, theta0, args=(spec, L1, X2, logy, w, delta), jac=True,
                   method="L-BFGS-B", bounds=spec.bounds,
                   options={"maxiter": 2000, "ftol": 1e-14 if tight else 1e-10,
                            "gtol": 1e-10 if tight else 1e-7})
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


def _lse_fit(spec: _LSESpec, L1, X2, logy, delta, *, w=None, starts: np.ndarray | None = None,
             top_k: int = 4) -> tuple[np.ndarray, float]:
    """Best L-BFGS fit over the ``top_k`` best grid starts (or over ``starts`` when given)."""
    w = np.ones_like(logy) if w is None else w
    tight = starts is None  # warm starts (bootstrap refits) stop a little earlier
    if starts is None:
        grid = _lse_grid(spec, logy, X2)
        losses = np.concatenate([_lse_loss_batch(chunk, spec, L1, X2, logy, delta)
                                 for chunk in np.array_split(grid, max(1, len(grid) // 2000))])
        starts = grid[np.argsort(losses)[:top_k]]
    best, best_loss = None, np.inf
    for theta0 in starts:
        theta, loss = _lbfgs(theta0, spec, L1, X2, logy, w, delta, tight)
        if np.all(np.isfinite(theta)) and loss < best_loss:
            best, best_loss = theta, loss
    if best is None:
        raise FitError("Huber/L-BFGS fit did not converge from any start")
    return best, best_loss


def fit_two_factor_power_law(x1, x2, y, delta: float = 1e-3, bootstrap: int = 0, seed: int = 0,
                             ci: float = 0.95, progress: bool = False) -> dict:
    """Fit ``y = E + A / x1^alpha + B / x2^beta`` (Chinchilla-style; all inputs > 0).

    Huber loss (``delta``) on log y, L-BFGS with the analytic gradient from the best starts of a grid,
    log-sum-exp parametrisation. Inputs are normalised by their geometric means internally; returned
    parameters are in the original units. ``bootstrap > 0`` resamples points and refits (warm start),
    adding ``ci = {key: (low, high)}`` percentile intervals and ``draws`` (B x 5).
    """
    x1 = _finite_array("x1", x1, positive=True)
    x2 = _finite_array("x2", x2, positive=True)
    y = _finite_array("y", y, positive=True)
    if not len(x1) == len(x2) == len(y):
        raise FitError(f"two-factor power law: lengths differ (x1 {len(x1)}, x2 {len(x2)}, y {len(y)})")
    _require_points(len(y), 5, "two-factor power law")
    _require_variation(y, "two-factor power law y")
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

        draws = _bootstrap_loop(bootstrap, refit, 5, "bootstrap two-factor law", progress)
        low, high = percentile_ci(draws, ci)
        out["ci"] = {k: (float(lo), float(hi)) for k, lo, hi in zip(names, low, high)}
        out["draws"] = draws
    return out


# --------------------------------------------------------------------------------------------------
# RL-compute sigmoid (ScaleRL)
# --------------------------------------------------------------------------------------------------

SIGMOID_PARAMS = ["R0", "A", "C_mid", "B"]


def rl_sigmoid(c_rl, r0: float, a: float, c_mid: float, b: float) -> np.ndarray:
    """``R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)``; C in FLOPs, R(0) = R0 (accuracy fraction)."""
    c = np.asarray(c_rl, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        s = 1.0 / (1.0 + np.power(c_mid / c, b))
    return r0 + (a - r0) * np.where(c > 0, s, 0.0)


def _sigmoid_grid_fit(c: np.ndarray, y: np.ndarray, n_a=24, n_mid=30, n_b=25) -> np.ndarray:
    """Grid over A and C_mid (and a 1-D grid over B); R0 in closed form (least squares, clipped to [0, A])."""
    pos = c[c > 0]
    a_grid = np.linspace(max(0.0, y.max() - 0.05), 1.0, n_a)
    mid_grid = np.logspace(np.log10(pos.min()) - 1, np.log10(pos.max()) + 1, n_mid)
    b_grid = np.logspace(-1, 1, n_b)
    with np.errstate(divide="ignore", over="ignore"):
        ratio = np.log(mid_grid[:, None, None] / np.where(c > 0, c, np.nan))     # (M, 1, n)
        s = 1.0 / (1.0 + np.exp(np.clip(b_grid[None, :, None] * ratio, -700, 700)))  # (M, Bg, n)
    s = np.nan_to_num(s, nan=0.0)[None]                                        # (1, M, Bg, n)
    A = a_grid[:, None, None, None]
    one_m = 1 - s
    r0 = np.sum((y - A * s) * one_m, axis=-1) / np.maximum(np.sum(one_m**2, axis=-1), 1e-300)
    r0 = np.clip(r0, 0.0, a_grid[:, None, None])
    sse = np.sum((r0[..., None] * one_m + A * s - y) ** 2, axis=-1)
    i, j, k = np.unravel_index(np.argmin(sse), sse.shape)
    return np.array([r0[i, j, k], a_grid[i], mid_grid[j], b_grid[k]])


_SIGMOID_LO = np.array([0.0, 0.0, -30.0, np.log(1e-2)])
_SIGMOID_HI = np.array([1.0, 1.0, 30.0, np.log(50.0)])


def _sigmoid_resid_jac(Q: np.ndarray, lc: np.ndarray, pos: np.ndarray, Y: np.ndarray):
    """Residuals (D, n) and Jacobian (D, n, 4) for D parameter rows q = (A, u = R0/A, log C_mid', log B).

    ``lc`` is log(C / scale) for C > 0 (``pos``); points with C = 0 sit at R0 exactly.
    """
    A, u, lm, lb = (Q[:, i, None] for i in range(4))
    B = np.exp(lb)
    z = np.where(pos, B * (lm - lc), 0.0)
    sg = np.where(pos, 1.0 / (1.0 + np.exp(np.clip(z, -700, 700))), 0.0)
    ds = -A * (1 - u) * sg * (1 - sg)
    J = np.stack([u + (1 - u) * sg, A * (1 - sg), ds * B, ds * z], axis=-1)
    return A * (u + (1 - u) * sg) - Y, J


def _batched_lm(Q0: np.ndarray, lc, pos, Y: np.ndarray, iters: int = 60) -> np.ndarray:
    """Projected Levenberg-Marquardt on many sigmoid least-squares problems at once (rows of Y)."""
    Q = np.clip(Q0, _SIGMOID_LO, _SIGMOID_HI).copy()
    r, J = _sigmoid_resid_jac(Q, lc, pos, Y)
    sse = np.sum(r**2, axis=1)
    lam = np.full(len(Q), 1e-2)
    for _ in range(iters):
        JtJ = np.einsum("dni,dnj->dij", J, J)
        g = np.einsum("dni,dn->di", J, r)
        H = JtJ + lam[:, None, None] * (np.eye(4) * (np.diagonal(JtJ, axis1=1, axis2=2)[:, None, :] + 1e-9))
        try:
            step = np.linalg.solve(H, -g[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a flat parameter direction (e.g. A = 0 or a flat curve): least-norm step
            step = -(np.linalg.pinv(H) @ g[..., None])[..., 0]
        Qn = np.clip(Q + step, _SIGMOID_LO, _SIGMOID_HI)
        rn, Jn = _sigmoid_resid_jac(Qn, lc, pos, Y)
        ssen = np.sum(rn**2, axis=1)
        better = ssen < sse
        Q[better], r[better], J[better], sse[better] = Qn[better], rn[better], Jn[better], ssen[better]
        lam = np.where(better, lam / 3, np.minimum(lam * 4, 1e8))
    return Q


def _sigmoid_to_q(p: np.ndarray, scale: float) -> np.ndarray:
    r0, a, mid, b = p
    return np.array([a, r0 / a if a > 0 else 0.0, np.log(mid / scale), np.log(b)])


def _q_to_sigmoid(Q: np.ndarray, scale: float) -> np.ndarray:
    A, u, lm, lb = Q.T
    return np.column_stack([A * u, A, np.exp(lm) * scale, np.exp(lb)])


def _sigmoid_polish(c, Y: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """Refine from ``p0`` for each row of ``Y`` (accuracies at ``c``); keeps 0 <= R0 <= A <= 1."""
    pos = c > 0
    scale = float(np.exp(np.mean(np.log(c[pos]))))
    lc = np.where(pos, np.log(np.where(pos, c, 1.0) / scale), 0.0)
    Y = np.atleast_2d(Y)
    Q0 = np.repeat(_sigmoid_to_q(p0, scale)[None], len(Y), axis=0)
    return _q_to_sigmoid(_batched_lm(Q0, lc, pos, Y), scale)


def fit_rl_sigmoid(c_rl, accuracy, *, acc_draws: np.ndarray | None = None, bootstrap: int = 0,
                   seed: int = 0, ci: float = 0.95, progress: bool = False) -> dict:
    """Fit the ScaleRL saturating sigmoid to one model's RL curve (C in FLOPs, accuracy fraction).

    Bounds 0 <= R0 <= A <= 1, B > 0. Robust: grid over A and C_mid, least squares for B (1-D grid) with
    R0 in closed form, then a bounded Levenberg-Marquardt polish kept only if it lowers the error.
    ``acc_draws`` (D x n) are bootstrap replicates of the accuracies (item resampling); otherwise points
    are resampled ``bootstrap`` times. Bootstrap refits start from the point estimate and run batched.
    """
    c = _finite_array("c_rl", c_rl, nonnegative=True)
    y = _finite_array("accuracy", accuracy)
    if np.any((y < 0) | (y > 1)):
        raise FitError("RL sigmoid: accuracy must be a fraction in [0, 1]")
    _require_points(len(y), 4, "RL sigmoid")
    if np.unique(c[c > 0]).size < 2:
        raise FitError("RL sigmoid: need RL compute at >= 2 distinct positive C_rl values")
    _require_variation(y, "RL sigmoid accuracy")
    grid = _sigmoid_grid_fit(c, y)
    polished = _sigmoid_polish(c, y, grid)[0]
    sse = lambda p: np.sum((rl_sigmoid(c, *p) - y) ** 2)  # noqa: E731
    est = polished if sse(polished) <= sse(grid) else grid
    draws = None
    if acc_draws is not None:
        draws = _sigmoid_polish(c, np.asarray(acc_draws, dtype=float), est)
    elif bootstrap > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(c), size=(bootstrap, len(c)))
        draws = np.full((bootstrap, 4), np.nan)
        for i in tqdm(range(bootstrap), desc="bootstrap RL sigmoid", disable=not progress, leave=False):
            if np.unique(c[idx[i]][c[idx[i]] > 0]).size >= 2:
                draws[i] = _sigmoid_polish(c[idx[i]], y[idx[i]], est)[0]
    out = {"params": param_table(SIGMOID_PARAMS, est, draws, ci), "n": len(y),
           **goodness_of_fit(y, rl_sigmoid(c, *est))}
    out.update(dict(zip(SIGMOID_PARAMS, map(float, est))))
    out["draws"] = draws
    return out


# --------------------------------------------------------------------------------------------------
# Tan et al. (2025): err(N, C) = ((C0 * N^r) / C)^(k_max * N / (N + N0))
# --------------------------------------------------------------------------------------------------

TAN_PARAMS = ["C0", "r", "k_max", "N0"]


def tan_error(n_params, c_rl, c0: float, r: float, k_max: float, n0: float) -> np.ndarray:
    """Model-size-aware RL error law (N in parameters, C in FLOPs > 0); error is 1 - accuracy."""
    n = np.asarray(n_params, dtype=float)
    c = np.asarray(c_rl, dtype=float)
    k = k_max * n / (n + n0)
    return np.exp(k * (np.log(c0) + r * np.log(n) - np.log(c)))


def fit_tan_law(n_params, c_rl, accuracy, *, acc_draws: np.ndarray | None = None, bootstrap: int = 0,
                seed: int = 0, ci: float = 0.95, error_floor: float = 1e-3, progress: bool = False) -> dict:
    """Fit Tan et al.'s law by least squares on log error, over points with C_rl > 0.

    Parameters are fitted as (log C0', r, log k_max, log N0') with N and C normalised by their geometric
    means; multiple starts over N0 spanning the sizes. Needs >= 2 model sizes and >= 5 points.
    """
    n = _finite_array("n_params", n_params, positive=True)
    c = _finite_array("c_rl", c_rl, nonnegative=True)
    y = _finite_array("accuracy", accuracy)
    keep = c > 0
    n, c, y = n[keep], c[keep], y[keep]
    _require_points(len(y), 4, "Tan et al. law (points with C_rl > 0)")
    if np.unique(n).size < 2:
        raise FitError("Tan et al. law: need >= 2 model sizes to identify k_max and N0")
    _require_variation(y, "Tan et al. law accuracy")
    sn, sc = np.exp(np.mean(np.log(n))), np.exp(np.mean(np.log(c)))
    ln, lc = np.log(n / sn), np.log(c / sc)

    def log_err(q, ln_=ln, lc_=lc):
        k = np.exp(q[2]) / (1 + np.exp(q[3] - ln_))
        return k * (q[0] + q[1] * ln_ - lc_)

    def fit_once(yy, ln_=ln, lc_=lc, starts=None):
        target = np.log(np.clip(1 - yy, error_floor, None))
        if starts is None:
            starts = [np.array([0.0, 0.0, np.log(kk), n0]) for kk in (0.1, 0.5)
                      for n0 in np.linspace(ln_.min() - 1, ln_.max() + 1, 4)]
        best = None
        for q0 in starts:
            res = least_squares(lambda q: log_err(q, ln_, lc_) - target, q0, method="lm", max_nfev=400)
            if best is None or res.cost < best.cost:
                best = res
        if best is None or not np.all(np.isfinite(best.x)):
            raise FitError("Tan et al. law: least squares failed")
        q = best.x
        return q, np.array([np.exp(q[0]) * sc / sn ** q[1], q[1], np.exp(q[2]), np.exp(q[3]) * sn])

    q_est, est = fit_once(y)
    rng = np.random.default_rng(seed)
    draws = None
    if acc_draws is not None:
        ad = np.asarray(acc_draws, dtype=float)[:, keep]
        draws = _bootstrap_loop(len(ad), lambda i: fit_once(ad[i], starts=[q_est])[1], 4,
                                "bootstrap Tan law", progress)
    elif bootstrap > 0:
        def refit(_):
            idx = rng.integers(0, len(y), len(y))
            return fit_once(y[idx], ln[idx], lc[idx], starts=[q_est])[1]
        draws = _bootstrap_loop(bootstrap, refit, 4, "bootstrap Tan law", progress)
    acc_hat = 1 - tan_error(n, c, *est)
    out = {"params": param_table(TAN_PARAMS, est, draws, ci), "n": len(y), **goodness_of_fit(y, acc_hat)}
    out.update(dict(zip(TAN_PARAMS, map(float, est))))
    out["draws"] = draws
    return out


# --------------------------------------------------------------------------------------------------
# joint law: accuracy = f(C_pretrain, C_rl)
# --------------------------------------------------------------------------------------------------

JOINT_FORMS: dict[str, _LSESpec] = {
    "additive": _LSESpec(interaction=False, offset=True),
    "interaction": _LSESpec(interaction=True, offset=True),
}
JOINT_FORMULAS = {
    "additive": "err = E + A*C_pre^-alpha + B*(C_rl + C0)^-beta",
    "interaction": "err = E + A*C_pre^-alpha + B*(C_rl + C0)^-beta + D*C_pre^-alpha*(C_rl + C0)^-beta",
}


def joint_param_names(form: str) -> list[str]:
    return ["E", "A", "alpha", "B", "beta"] + (["D"] if JOINT_FORMS[form].interaction else []) + ["C0"]


def predict_joint(params: Mapping[str, float], c_pre, c_rl) -> np.ndarray:
    """Accuracy (fraction) predicted by a joint law; ``params`` in original units (FLOPs)."""
    c_pre = np.asarray(c_pre, dtype=float)
    c_rl = np.asarray(c_rl, dtype=float)
    pre = np.power(c_pre, -params["alpha"])
    rl = np.power(c_rl + params["C0"], -params["beta"])
    err = params["E"] + params["A"] * pre + params["B"] * rl + params.get("D", 0.0) * pre * rl
    return 1.0 - err


@dataclass(frozen=True)
class _JointData:
    L1: np.ndarray
    X2: np.ndarray
    s1: float
    s2: float

    @classmethod
    def from_compute(cls, c_pre: np.ndarray, c_rl: np.ndarray, s1=None, s2=None) -> _JointData:
        s1 = float(np.exp(np.mean(np.log(c_pre)))) if s1 is None else s1
        s2 = float(np.exp(np.mean(np.log(c_rl[c_rl > 0])))) if s2 is None else s2
        return cls(np.log(c_pre / s1), c_rl / s2, s1, s2)

    def to_params(self, theta: np.ndarray, form: str) -> np.ndarray:
        """Normalised theta -> original-unit parameters in ``joint_param_names(form)`` order."""
        e, a, al, b, be = theta[:5]
        l1, l2 = np.log(self.s1), np.log(self.s2)
        out = [e, a + al * l1, np.nan, b + be * l2, np.nan]
        if JOINT_FORMS[form].interaction:
            out.append(theta[5] + al * l1 + be * l2)
        out.append(theta[-1] + l2)
        with np.errstate(over="ignore"):
            out = np.exp(out)
        out[2], out[4] = al, be
        return out


def _check_joint_inputs(c_pre, c_rl, accuracy, form: str):
    if form not in JOINT_FORMS:
        raise FitError(f"joint law: unknown form {form!r}; known: {sorted(JOINT_FORMS)}")
    c_pre = _finite_array("c_pretrain", c_pre, positive=True)
    c_rl = _finite_array("c_rl", c_rl, nonnegative=True)
    y = _finite_array("accuracy", accuracy)
    if not len(c_pre) == len(c_rl) == len(y):
        raise FitError("joint law: c_pretrain, c_rl and accuracy differ in length")
    if np.any((y < 0) | (y > 1)):
        raise FitError("joint law: accuracy must be a fraction in [0, 1]")
    _require_points(len(y), JOINT_FORMS[form].n_params, f"joint law ({form})")
    if np.unique(c_pre).size < 2:
        raise FitError("joint law: need >= 2 distinct C_pretrain values")
    if np.unique(c_rl[c_rl > 0]).size < 2:
        raise FitError("joint law: need >= 2 distinct positive C_rl values")
    _require_variation(y, "joint law accuracy")
    return c_pre, c_rl, y


def fit_joint_law(c_pre, c_rl, accuracy, form: str = "additive", *, delta: float = 1e-3,
                  error_floor: float = 1e-3, acc_draws: np.ndarray | None = None, bootstrap: int = 0,
                  seed: int = 0, ci: float = 0.95, progress: bool = False) -> dict:
    """Fit a joint law of error = 1 - accuracy on (C_pretrain, C_rl) FLOPs, Huber on log error.

    ``form`` is ``additive`` or ``interaction`` (see ``JOINT_FORMULAS``); C_rl = 0 (base models) is
    handled by the fitted offset C0 (FLOPs). Error rates are clipped below at ``error_floor``.
    Returns parameters (original units) with CIs, R^2/RMSE on accuracy, ``theta`` (normalised) and
    ``draws`` (B x P, original units) for downstream use (allocation CIs).
    """
    c_pre, c_rl, y = _check_joint_inputs(c_pre, c_rl, accuracy, form)
    spec = JOINT_FORMS[form]
    data = _JointData.from_compute(c_pre, c_rl)

    def logerr(acc):
        return np.log(np.clip(1 - np.asarray(acc, dtype=float), error_floor, None))

    theta, loss = _lse_fit(spec, data.L1, data.X2, logerr(y), delta)
    names = joint_param_names(form)
    est = data.to_params(theta, form)
    rng = np.random.default_rng(seed)
    draws = None
    if acc_draws is not None:
        ad = np.asarray(acc_draws, dtype=float)
        draws = _bootstrap_loop(
            len(ad), lambda i: data.to_params(_lse_fit(spec, data.L1, data.X2, logerr(ad[i]), delta,
                                                       starts=[theta])[0], form),
            len(names), f"bootstrap joint law ({form})", progress)
    elif bootstrap > 0:
        n = len(y)
        ly = logerr(y)

        def refit(_):
            w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
            return data.to_params(_lse_fit(spec, data.L1, data.X2, ly, delta, w=w, starts=[theta])[0], form)

        draws = _bootstrap_loop(bootstrap, refit, len(names), f"bootstrap joint law ({form})", progress)
    params = dict(zip(names, map(float, est)))
    out = {"form": form, "formula": JOINT_FORMULAS[form], "params": param_table(names, est, draws, ci),
           "n": len(y), "loss": loss, **goodness_of_fit(y, predict_joint(params, c_pre, c_rl))}
    out.update(params)
    out["param_names"] = names
    out["draws"] = draws
    return out


def leave_one_size_out(groups, c_pre, c_rl, accuracy, form: str, *, delta: float = 1e-3,
                       error_floor: float = 1e-3) -> dict:
    """Leave-one-size-out prediction error of a joint form: RMSE (accuracy fraction) over held-out sizes.

    Sizes whose training remainder is too small to fit are skipped and listed in ``skipped``.
    """
    groups = np.asarray(groups)
    c_pre, c_rl, y = (np.asarray(v, dtype=float) for v in (c_pre, c_rl, accuracy))
    errors, per_size, skipped = [], {}, {}
    for g in np.unique(groups):
        hold = groups == g
        try:
            fit = fit_joint_law(c_pre[~hold], c_rl[~hold], y[~hold], form, delta=delta,
                                error_floor=error_floor)
        except FitError as exc:
            skipped[str(g)] = str(exc)
            continue
        resid = predict_joint(fit, c_pre[hold], c_rl[hold]) - y[hold]
        errors.append(resid)
        per_size[str(g)] = float(np.sqrt(np.mean(resid**2)))
    if not errors:
        raise FitError(f"leave-one-size-out ({form}): no size could be held out ({skipped})")
    rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    return {"rmse": rmse, "per_size": per_size, "skipped": skipped}


# --------------------------------------------------------------------------------------------------
# from summary.csv / records to fits
# --------------------------------------------------------------------------------------------------


def _selection_mask(frame: pd.DataFrame, cfg: FitConfig) -> pd.Series:
    """Rows of ``cfg``'s benchmark/scorer/shots/subset (shots compared numerically; blanks never match)."""
    return ((frame["benchmark"] == cfg.benchmark) & (frame["scorer"] == cfg.scorer)
            & (pd.to_numeric(frame["shots"], errors="coerce") == int(cfg.shots))
            & (frame["subset"].astype(str) == str(cfg.subset)))


def select_rows(summary: pd.DataFrame, cfg: FitConfig) -> pd.DataFrame:
    """Rows of one benchmark/subset/shots/scorer, sorted by model size, budget and RL step."""
    require_columns(summary, FIT_COLUMNS, "summary")
    sel = summary[_selection_mask(summary, cfg)]
    if sel.empty:
        raise FitError(f"summary: no rows for benchmark={cfg.benchmark!r} scorer={cfg.scorer!r} "
                       f"shots={cfg.shots} subset={cfg.subset!r}")
    for col in ("c_pretrain", "c_rl"):
        if (sel[col].astype(float) < 0).any():
            raise FitError(f"summary: negative compute in column {col!r}")
    dup = sel.duplicated(CONDITION_KEYS)
    if dup.any():
        raise FitError(f"summary: duplicate rows for {sel.loc[dup, CONDITION_KEYS].iloc[0].to_dict()}")
    return sel.sort_values(["n_params", "pretrain_tokens", "rl_step"]).reset_index(drop=True)


def item_bootstrap_accuracies(rows: pd.DataFrame, records: pd.DataFrame, cfg: FitConfig,
                              n_boot: int, seed: int) -> np.ndarray:
    """(n_boot x len(rows)) accuracies from resampling evaluation items (paired across conditions).

    Items are resampled once per draw and shared by every model/checkpoint, so differences (gains)
    keep their pairing. Repeated samples of one item are averaged first.
    """
    require_columns(records, RECORD_COLUMNS, "records")
    rec = records[_selection_mask(records, cfg)]
    if rec.empty:
        raise FitError(f"records: no rows for benchmark={cfg.benchmark!r} scorer={cfg.scorer!r} "
                       f"shots={cfg.shots} subset={cfg.subset!r}")
    keys = pd.MultiIndex.from_frame(rows[CONDITION_KEYS])
    table = rec.pivot_table(index="item_id", columns=CONDITION_KEYS, values="score", aggfunc="mean")
    missing = keys.difference(table.columns)
    if len(missing):
        raise FitError(f"records: no per-item scores for condition(s) {list(missing)[:3]}")
    S = table.reindex(columns=keys).to_numpy(dtype=float)               # items x conditions
    mask = np.isfinite(S)
    S = np.where(mask, S, 0.0)
    n_items = S.shape[0]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ S) / (counts @ mask)


def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy types/arrays to Python and non-finite floats to None (strict JSON)."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_jsonable(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def _status_failed(exc: Exception, **extra) -> dict:
    return {**extra, "status": "failed", "reason": str(exc)}


def _public(fit: dict) -> dict:
    """Drop arrays not meant for fits.json."""
    return {k: v for k, v in fit.items() if k not in ("draws", "theta")}


def gains_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (model, pretrain budget): base and final-checkpoint accuracy and gain in percentage points.

    Also returns the row positions ``base_row`` / ``final_row`` (into ``rows``) so bootstrap replicates of
    the accuracies can be turned into gains without regrouping. Every model needs an rl_step 0 row and
    at least one RL checkpoint; otherwise FitError names the model.
    """
    out = []
    steps = rows["rl_step"].to_numpy()
    for (model, tokens), pos in rows.groupby(["model", "pretrain_tokens"], sort=False).indices.items():
        base = pos[steps[pos] == 0]
        if base.size == 0:
            raise FitError(f"gain: model {model!r} (pretrain_tokens={tokens}) has no rl_step 0 row")
        final = pos[np.argmax(steps[pos])]
        if steps[final] == 0:
            raise FitError(f"gain: model {model!r} (pretrain_tokens={tokens}) has no RL checkpoint")
        b, f = rows["accuracy"].iloc[base[0]], rows["accuracy"].iloc[final]
        out.append({"model": model, "pretrain_tokens": float(tokens),
                    "n_params": float(rows["n_params"].iloc[final]), "final_step": int(steps[final]),
                    "base_accuracy": float(b), "final_accuracy": float(f), "gain_pp": 100 * float(f - b),
                    "base_row": int(base[0]), "final_row": int(final)})
    return pd.DataFrame(out)


def _fit_gain_laws(rows, draws, cfg) -> list[dict]:
    out = []
    for tokens, g in rows.groupby("pretrain_tokens", sort=True):
        idx = g.index.to_numpy()
        entry = {"pretrain_tokens": float(tokens), "units": {"N": "billion parameters",
                                                               "gain": "percentage points"}}
        try:
            table = gains_table(g.reset_index(drop=True))
            gd = None
            points = table.drop(columns=["base_row", "final_row"]).to_dict("records")
            if draws is not None:
                sub = draws[:, idx]
                gd = 100 * (sub[:, table["final_row"]] - sub[:, table["base_row"]])
                for point, low, high in zip(points, *percentile_ci(gd, cfg.ci)):
                    point.update(gain_ci_low=float(low), gain_ci_high=float(high))  # paired: same item draws
            entry["points"] = points  # kept when the law cannot be fitted (e.g. a non-positive gain)
            fit = fit_power_law(table["n_params"] / 1e9, table["gain_pp"], y_draws=gd,
                                bootstrap=cfg.bootstrap, seed=cfg.seed, ci=cfg.ci)
            entry.update(status="ok", **_public(fit), bootstrap_params=fit["draws"])
        except FitError as exc:
            entry.update(_status_failed(exc))
        out.append(entry)
    return out


def _fit_sigmoids(rows, draws, cfg) -> list[dict]:
    out = []
    for (model, tokens), g in rows.groupby(["model", "pretrain_tokens"], sort=False):
        idx = g.index.to_numpy()
        entry = {"model": model, "pretrain_tokens": float(tokens), "n_params": float(g["n_params"].iloc[0]),
                 "units": {"C": "FLOPs", "R": "accuracy fraction"}}
        try:
            fit = fit_rl_sigmoid(g["c_rl"], g["accuracy"], acc_draws=None if draws is None else draws[:, idx],
                                 bootstrap=cfg.bootstrap, seed=cfg.seed, ci=cfg.ci, progress=cfg.progress)
            entry.update(status="ok", **_public(fit))
        except FitError as exc:
            entry.update(_status_failed(exc))
        out.append(entry)
    return out


def _fit_tan(rows, draws, cfg) -> list[dict]:
    out = []
    for tokens, g in rows.groupby("pretrain_tokens", sort=True):
        idx = g.index.to_numpy()
        entry = {"pretrain_tokens": float(tokens), "units": {"N": "parameters", "C": "FLOPs",
                                                               "error": "1 - accuracy"}}
        try:
            fit = fit_tan_law(g["n_params"], g["c_rl"], g["accuracy"],
                              acc_draws=None if draws is None else draws[:, idx], bootstrap=cfg.bootstrap,
                              seed=cfg.seed, ci=cfg.ci, error_floor=cfg.error_floor, progress=cfg.progress)
            entry.update(status="ok", **_public(fit))
        except FitError as exc:
            entry.update(_status_failed(exc))
        out.append(entry)
    return out


def _fit_joint(rows, draws, cfg) -> dict:
    c_pre, c_rl, y = (rows[k].to_numpy(float) for k in ("c_pretrain", "c_rl", "accuracy"))
    kw = {"delta": cfg.huber_delta, "error_floor": cfg.error_floor}
    forms: dict[str, dict] = {}
    for form in JOINT_FORMS:  # point fits and LOSO first; only the chosen form is bootstrapped
        try:
            fit = fit_joint_law(c_pre, c_rl, y, form, **kw)
            loso = leave_one_size_out(rows["model"], c_pre, c_rl, y, form, **kw)
            forms[form] = {"status": "ok", **_public(fit), "loso": loso}
        except FitError as exc:
            forms[form] = _status_failed(exc, formula=JOINT_FORMULAS[form])
    ok = {f: v for f, v in forms.items() if v["status"] == "ok"}
    chosen = min(ok, key=lambda f: ok[f]["loso"]["rmse"]) if ok else None
    if chosen is not None and (draws is not None or cfg.bootstrap > 0):
        fit = fit_joint_law(c_pre, c_rl, y, chosen, **kw, acc_draws=draws, bootstrap=cfg.bootstrap,
                            seed=cfg.seed, ci=cfg.ci, progress=cfg.progress)
        forms[chosen].update(_public(fit), bootstrap_params=fit["draws"])
    return {"forms": forms, "chosen": chosen,
            "selection_rule": "lowest leave-one-size-out RMSE on accuracy; CIs for the chosen form only",
            "fitted_range": {"c_pretrain": [float(c_pre.min()), float(c_pre.max())],
                             "c_rl": [float(c_rl.min()), float(c_rl.max())],
                             "c_total": [float((c_pre + c_rl).min()), float((c_pre + c_rl).max())]},
            "units": {"C": "FLOPs", "err": "1 - accuracy (fraction)"}}


def extrapolation_check(rows: pd.DataFrame, draws: np.ndarray | None, cfg: FitConfig,
                        form: str = "additive") -> dict:
    """Fit the joint law without the largest model, predict its points; report error and CI coverage."""
    largest = rows.loc[rows["n_params"].idxmax(), "model"]
    hold = (rows["model"] == largest).to_numpy()
    train = rows[~hold]
    c_pre, c_rl, y = (train[k].to_numpy(float) for k in ("c_pretrain", "c_rl", "accuracy"))
    fit = fit_joint_law(c_pre, c_rl, y, form, delta=cfg.huber_delta, error_floor=cfg.error_floor,
                        acc_draws=None if draws is None else draws[:, ~hold], bootstrap=cfg.bootstrap,
                        seed=cfg.seed, ci=cfg.ci, progress=cfg.progress)
    test = rows[hold]
    tp, tr, ty = (test[k].to_numpy(float) for k in ("c_pretrain", "c_rl", "accuracy"))
    pred = predict_joint(fit, tp, tr)
    out = {"held_out_model": str(largest), "form": form, "n_params": float(test["n_params"].iloc[0]),
           "points": []}
    if fit["draws"] is not None:
        ok = fit["draws"][np.all(np.isfinite(fit["draws"]), axis=1)]
        preds = np.stack([predict_joint(dict(zip(fit["param_names"], d)), tp, tr) for d in ok])
        low, high = percentile_ci(preds, cfg.ci)
    else:
        low = high = np.full(len(ty), np.nan)
    for i in range(len(ty)):
        out["points"].append({"pretrain_tokens": float(test["pretrain_tokens"].iloc[i]),
                              "rl_step": int(test["rl_step"].iloc[i]), "c_pretrain": tp[i], "c_rl": tr[i],
                              "observed": ty[i], "predicted": float(pred[i]),
                              "pred_ci_low": float(low[i]), "pred_ci_high": float(high[i]),
                              "inside_ci": bool(low[i] <= ty[i] <= high[i])})
    resid = pred - ty
    out.update(mae=float(np.mean(np.abs(resid))), rmse=float(np.sqrt(np.mean(resid**2))),
               coverage=float(np.mean([p["inside_ci"] for p in out["points"]])),
               units="accuracy fraction")
    return out


def fit_summary(summary_df: pd.DataFrame, records_df: pd.DataFrame | None = None,
                config: Mapping[str, Any] | FitConfig | None = None) -> dict:
    """Every fit for ``fits.json``: gain law, RL sigmoids, Tan et al., joint law + choice, extrapolation.

    Bootstrap: item resampling from ``records_df`` when given, otherwise point resampling. A form that
    cannot be fitted is recorded with ``status: failed`` and the ``reason``; only a missing selection or
    malformed summary raises ``FitError``.
    """
    cfg = config if isinstance(config, FitConfig) else FitConfig.from_mapping(config)
    rows = select_rows(summary_df, cfg)
    draws = None
    if records_df is not None and cfg.bootstrap > 0:
        draws = item_bootstrap_accuracies(rows, records_df, cfg, cfg.bootstrap, cfg.seed)
    result: dict[str, Any] = {
        "selection": {"benchmark": cfg.benchmark, "scorer": cfg.scorer, "shots": int(cfg.shots),
                      "subset": cfg.subset},
        "bootstrap": {"n": cfg.bootstrap, "ci": cfg.ci, "seed": cfg.seed,
                      "resampling": "items" if draws is not None else "points"},
        "n_points": len(rows),
        "models": rows.groupby("model", sort=False)["n_params"].first().astype(float).to_dict(),
        "allocation_budgets": list(cfg.budgets),
    }
    result["gain_power_law"] = _fit_gain_laws(rows, draws, cfg)
    result["rl_sigmoid"] = _fit_sigmoids(rows, draws, cfg)
    result["tan2025"] = _fit_tan(rows, draws, cfg)
    result["joint_law"] = _fit_joint(rows, draws, cfg)
    chosen = result["joint_law"]["chosen"]
    try:
        if chosen is None:
            raise FitError("no joint form could be fitted")
        if rows["model"].nunique() < 3:
            raise FitError("extrapolation check needs >= 3 model sizes (2 to fit, 1 to predict)")
        result["extrapolation"] = {"status": "ok", **extrapolation_check(rows, draws, cfg, chosen)}
    except FitError as exc:
        result["extrapolation"] = _status_failed(exc)
    return result


def fit_seed_gains(table: pd.DataFrame, *, benchmark: str = "gsm8k",
                   size_column: str = "n_params_nonembedding_b", bootstrap: int = 1000, seed: int = 0,
                   ci: float = 0.95) -> dict:
    """Gain power law on a published gain table (N in billions, gain in percentage points).

    ``table`` has columns ``benchmark``, ``size_column`` and ``gain_pp`` (rows with a missing gain are
    dropped and listed). No per-item data exist, so CIs come from resampling the table's points.
    """
    require_columns(table, ("benchmark", size_column, "gain_pp"), "seed table")
    rows = table[table["benchmark"] == benchmark]
    if rows.empty:
        raise FitError(f"seed table: no rows for benchmark {benchmark!r}")
    dropped = rows.loc[rows["gain_pp"].isna(), size_column].tolist()
    rows = rows.dropna(subset=["gain_pp"])
    fit = fit_power_law(rows[size_column], rows["gain_pp"], bootstrap=bootstrap, seed=seed, ci=ci)
    points = [{"n_params_b": float(n), "gain_pp": float(g)} for n, g in zip(rows[size_column], rows["gain_pp"])]
    return {"benchmark": benchmark, "size_column": size_column, "dropped_sizes_missing_gain": dropped,
            "units": {"N": "billion parameters", "gain": "percentage points"}, "resampling": "points",
            **_public(fit), "points": points, "bootstrap_params": fit["draws"]}


# --------------------------------------------------------------------------------------------------
# synthetic studies (tests, benchmarks, documentation)
# --------------------------------------------------------------------------------------------------


def synthetic_study(law: Mapping[str, float], *, n_params=(1e5, 3e5, 1e6), pretrain_tokens=(2e5, 6e5),
                    rl_steps=(0, 10, 20, 40), rl_tokens_per_step: float = 2e4, n_items: int = 200,
                    seed: int = 0, benchmark: str = "gsm8k", scorer: str = "custom_flexible",
                    shots: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw a (summary, records) pair from a known joint law, with Bernoulli item scores.

    ``C_pretrain = 6 N D`` and ``C_rl = 6 N x rl_tokens_per_step x step`` FLOPs. Accuracy comes from
    ``predict_joint(law, ...)`` clipped to [0, 1]; each item is scored 0/1 independently, so the summary's
    accuracy carries realistic binomial noise for ``n_items`` items.
    """
    rng = np.random.default_rng(seed)
    rows, recs = [], []
    for n in n_params:
        model = f"m{n:.0e}".replace("+", "")
        for d in pretrain_tokens:
            for step in rl_steps:
                c_pre, c_rl = 6.0 * n * d, 6.0 * n * rl_tokens_per_step * step
                p = float(np.clip(predict_joint(law, c_pre, c_rl), 0.0, 1.0))
                scores = (rng.random(n_items) < p).astype(float)
                acc = float(scores.mean())
                half = 1.96 * np.sqrt(max(acc * (1 - acc), 1e-12) / n_items)
                rows.append({"study": "synthetic", "model": model, "n_params": float(n),
                             "pretrain_tokens": float(d), "c_pretrain": c_pre, "rl_step": int(step),
                             "c_rl": c_rl, "benchmark": benchmark, "subset": "all", "shots": shots,
                             "scorer": scorer, "n_items": n_items, "accuracy": acc,
                             "ci_low": max(0.0, acc - half), "ci_high": min(1.0, acc + half)})
                recs.append(pd.DataFrame({"model": model, "pretrain_tokens": float(d), "rl_step": int(step),
                                          "benchmark": benchmark, "subset": "all", "shots": shots,
                                          "scorer": scorer, "item_id": [f"q{i}" for i in range(n_items)],
                                          "score": scores}))
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)), pd.concat(recs, ignore_index=True)
