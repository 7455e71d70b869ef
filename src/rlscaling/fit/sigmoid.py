"""ScaleRL saturating sigmoid of accuracy in RL compute, fitted per RL curve.

``R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)``; C in FLOPs, R an accuracy fraction, R(0) = R0.
"""

from __future__ import annotations

import numpy as np

from .checks import finite_array, require_points, require_variation
from .common import NO_RESAMPLING, FitError, Resampling, goodness_of_fit, param_table, tqdm

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
        ratio = np.log(mid_grid[:, None, None] / np.where(c > 0, c, np.nan))  # (M, 1, n)
        s = 1.0 / (1.0 + np.exp(np.clip(b_grid[None, :, None] * ratio, -700, 700)))  # (M, Bg, n)
    s = np.nan_to_num(s, nan=0.0)[None]  # (1, M, Bg, n)
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


def _sigmoid_draws(c: np.ndarray, y: np.ndarray, est: np.ndarray, r: Resampling) -> np.ndarray | None:
    """Bootstrap parameter draws (B x 4): all item replicates polished together, else point resamples one by one
    (a resample with fewer than 2 distinct positive C_rl stays NaN)."""
    if r.acc_draws is not None:
        return _sigmoid_polish(c, np.asarray(r.acc_draws, dtype=float), est)
    if r.bootstrap <= 0:
        return None
    idx = np.random.default_rng(r.seed).integers(0, len(c), size=(r.bootstrap, len(c)))
    draws = np.full((r.bootstrap, 4), np.nan)
    for i in tqdm(range(r.bootstrap), desc="bootstrap RL sigmoid", disable=not r.progress, leave=False):
        if np.unique(c[idx[i]][c[idx[i]] > 0]).size >= 2:
            draws[i] = _sigmoid_polish(c[idx[i]], y[idx[i]], est)[0]
    return draws


def fit_rl_sigmoid(c_rl, accuracy, resampling: Resampling = NO_RESAMPLING) -> dict:
    """Fit the ScaleRL saturating sigmoid to one model's RL curve (C in FLOPs, accuracy fraction).

    Bounds 0 <= R0 <= A <= 1, B > 0. Robust: grid over A and C_mid, least squares for B (1-D grid) with
    R0 in closed form, then a bounded Levenberg-Marquardt polish kept only if it lowers the error.
    CIs: ``resampling`` (item replicates of the accuracies, else point resamples). Bootstrap refits start from
    the point estimate and run batched.
    """
    c = finite_array("c_rl", c_rl, nonnegative=True)
    y = finite_array("accuracy", accuracy)
    if np.any((y < 0) | (y > 1)):
        raise FitError("RL sigmoid: accuracy must be a fraction in [0, 1]")
    require_points(len(y), 4, "RL sigmoid")
    if np.unique(c[c > 0]).size < 2:
        raise FitError("RL sigmoid: need RL compute at >= 2 distinct positive C_rl values")
    require_variation(y, "RL sigmoid accuracy")
    grid = _sigmoid_grid_fit(c, y)
    polished = _sigmoid_polish(c, y, grid)[0]
    sse = lambda p: np.sum((rl_sigmoid(c, *p) - y) ** 2)
    est = polished if sse(polished) <= sse(grid) else grid
    draws = _sigmoid_draws(c, y, est, resampling)
    out = {
        "params": param_table(SIGMOID_PARAMS, est, draws, resampling.ci),
        "n": len(y),
        **goodness_of_fit(y, rl_sigmoid(c, *est)),
    }
    out.update(dict(zip(SIGMOID_PARAMS, map(float, est))))
    out["draws"] = draws
    return out
