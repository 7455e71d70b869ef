"""Joint laws that separate model size N from pre-training tokens D: error = f(N, D, C_rl).

Both forms build on a Chinchilla-style pre-training term ``P(N, D) = E + A/N^alpha + B/D^beta`` (the base
model's error, C_rl = 0) and differ in how RL compute acts on it:

* ``size_tokens_additive``  err = E + A/N^alpha + B/D^beta + G*(C_rl + C0)^-gamma: RL removes an absolute
  amount of error, the same for every model (its efficiency does not depend on N or D);
* ``size_tokens_ceiling``   err = P(N, D) * (1 - F * C_rl^k / (C_rl^k + C_mid^k)): RL removes a fraction F of the
  base model's errors at saturation, so the pre-training term sets the RL ceiling ``1 - P*(1 - F)``.

Units: N parameters (non-embedding), D tokens, C_rl and C0/C_mid FLOPs, err = 1 - accuracy (fraction).
In both forms N and D enter only through P, so for a pre-training compute ``C_pre = 6(N + H)D`` (``H`` the output
head's parameters, :mod:`rlscaling.compute`) the best (N, D) depends on C_pre alone, whatever the RL compute:
Chinchilla's closed form without a head, a 1-D solve with one (:func:`compute_optimal_size`).
Fitted with the generic Huber/L-BFGS engine on log error, inputs normalised by their geometric means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rlscaling.compute import HeadParams, pretrain_tokens

from .checks import checked_columns, require_distinct, require_points, require_variation
from .common import NO_RESAMPLING, FitError, Resampling, goodness_of_fit, log_error, param_table
from .huber import fit_huber, grid_starts
from .identify import bound_flags, refit_starts, start_rng
from .law import JointForm
from .points import StudyPoints

FORMULAS = {
    "size_tokens_additive": "err = E + A/N^alpha + B/D^beta + G*(C_rl + C0)^-gamma",
    "size_tokens_ceiling": "err = (E + A/N^alpha + B/D^beta) * (1 - F / (1 + (C_mid/C_rl)^k))",
}
PARAM_NAMES = {
    "size_tokens_additive": ["E", "A", "alpha", "B", "beta", "G", "gamma", "C0"],
    "size_tokens_ceiling": ["E", "A", "alpha", "B", "beta", "F", "C_mid", "k"],
}
_PRE_BOUNDS = [(-25.0, None), (-25.0, None), (0.0, 5.0), (-25.0, None), (0.0, 5.0)]
BOUNDS = {
    "size_tokens_additive": _PRE_BOUNDS + [(-25.0, None), (0.0, 5.0), (-25.0, 25.0)],
    "size_tokens_ceiling": _PRE_BOUNDS + [(-12.0, 12.0), (-30.0, 30.0), (np.log(0.05), np.log(20.0))],
}


# --------------------------------------------------------------------------------------------------
# the laws in original units
# --------------------------------------------------------------------------------------------------


def pretrain_error(params: Mapping[str, float], n_params, tokens) -> np.ndarray:
    """``P = E + A/N^alpha + B/D^beta``: the base model's error (fraction) at N parameters and D tokens."""
    n, d = np.asarray(n_params, dtype=float), np.asarray(tokens, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        return params["E"] + params["A"] * n ** -params["alpha"] + params["B"] * d ** -params["beta"]


def rl_saturation(c_rl, c_mid: float, k: float) -> np.ndarray:
    """``C^k / (C^k + C_mid^k)`` in [0, 1): 0 at C_rl = 0 (FLOPs), 1/2 at C_mid."""
    c = np.asarray(c_rl, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(c > 0, 1.0 / (1.0 + np.power(c_mid / np.where(c > 0, c, 1.0), k)), 0.0)


def size_tokens_error(form: str, params: Mapping[str, float], n_params, tokens, c_rl) -> np.ndarray:
    """Error (1 - accuracy) predicted by form ``form`` at N parameters, D tokens and C_rl FLOPs."""
    pre = pretrain_error(params, n_params, tokens)
    c = np.asarray(c_rl, dtype=float)
    if form == "size_tokens_additive":
        return pre + params["G"] * np.power(c + params["C0"], -params["gamma"])
    if form == "size_tokens_ceiling":
        return pre * (1.0 - params["F"] * rl_saturation(c, params["C_mid"], params["k"]))
    raise FitError(f"size/tokens law: unknown form {form!r}; known: {sorted(FORMULAS)}")


def compute_optimal_size(
    params: Mapping[str, float], c_pretrain, heads: HeadParams | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(N*, D*) (parameters, tokens) minimising ``A/N^alpha + B/D^beta`` at ``6 (N + H(N)) D = C_pretrain`` FLOPs.

    ``heads``: the output head's parameters ``H`` at any N (:class:`rlscaling.compute.HeadParams`); None counts no
    head, ``H = 0``, and gives Chinchilla's closed form (Hoffmann et al. 2022, eq. 4)
    ``N* = G (C/6)^(beta/(alpha+beta))`` with ``G = (alpha A / (beta B))^(1/(alpha+beta))``. With a head the
    optimum is solved numerically (:func:`_optimal_log_size_with_head`), over all N (not only the fitted range,
    like the closed form: the caller flags an extrapolated N). Exponents are floored at 1e-6 so a vanishing term
    gives an extreme (and flagged) size rather than a division by zero.
    """
    a, b = max(params["alpha"], 1e-6), max(params["beta"], 1e-6)
    c = np.asarray(c_pretrain, dtype=float)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_g = (np.log(a * params["A"]) - np.log(b * params["B"])) / (a + b)
        x0 = log_g + b / (a + b) * np.log(c / 6.0)  # ln N* without a head
        if heads is None:
            n = np.exp(x0)
            return n, c / 6.0 / n
        n = np.exp(_optimal_log_size_with_head(params["A"], a, params["B"], b, c, x0, heads))
    return n, pretrain_tokens(c, n, head_params=heads.at(n))


HEAD_SPAN = 30.0  # e-folds of N beyond the smallest / largest model over which the outer pieces are tabulated
HEAD_GRID = 513  # points per piece of the tabulated optimality condition (the start of the Newton steps)
NEWTON_STEPS = 1


def _optimal_log_size_with_head(A: float, a: float, B: float, b: float, c: np.ndarray, x0: np.ndarray, heads):
    """``ln N*`` minimising ``L(N) = A N^-a + B D^-b`` with ``D = C / (6 m)``, ``m = N + H(N)``, at every ``C`` of
    ``c`` (FLOPs); ``x0`` is ``ln N*`` without a head (the closed form).

    ``H`` is a power law ``H = H_0 (N/N_0)^s`` on each piece between the study's models (and beyond the end ones:
    :class:`~rlscaling.compute.HeadParams`). On a piece ``ln m`` is convex in ``x = ln N`` (a log-sum-exp of affine
    functions), so ``L`` is strictly convex in ``x`` and its stationary point is unique: ``dL/dx = 0`` reads
    ``F(x) = (a + b)(x - x0) + ln q(x) = 0`` with ``q = (1 + r)^(b-1) (1 + s r)``, ``r = H/N`` (``q = 1`` without a
    head), ``F`` strictly increasing. Each piece's minimiser is found by interpolating ``x`` at ``x0`` in a table of
    ``x - F(x)/(a + b)`` (continued linearly beyond ``HEAD_SPAN``), then Newton steps on ``F`` kept inside the piece
    (at its end when the stationary point lies outside), all pieces at once; the optimum is the best piece by ``L``.
    """
    knots = np.log(np.unique(np.asarray(heads.sizes, dtype=float)))
    edges = np.concatenate([[knots[0] - HEAD_SPAN], knots, [knots[-1] + HEAD_SPAN]])
    lo, hi = edges[:-1, None], edges[1:, None]  # one row per piece
    h_lo, h_hi = np.log(heads.at(np.exp(lo))), np.log(heads.at(np.exp(hi)))
    s = (h_hi - h_lo) / (hi - lo)  # H ~ N^s on each piece

    def ratio(x):  # r = H/N
        return np.exp(h_lo + s * (x - lo) - x)

    def ln_q(x):
        r = ratio(x)
        return (b - 1.0) * np.log1p(r) + np.log1p(s * r)

    grid = lo + (hi - lo) * np.linspace(0.0, 1.0, HEAD_GRID)
    table = grid + ln_q(grid) / (a + b)  # the x0 whose stationary point on the piece is x
    bad = ~np.all(np.diff(table, axis=1) > 0, axis=1)
    if bad.any():
        k = int(np.argmax(bad))
        raise FitError(
            f"compute-optimal size: the output head's parameters fall too fast with N between {np.exp(lo[k, 0]):.3g} "
            f"and {np.exp(hi[k, 0]):.3g} parameters (H ~ N^{s[k, 0]:.3g}); the optimum is not unique"
        )
    x0 = np.broadcast_to(x0, c.shape).ravel()
    x = np.stack([np.interp(x0, t, g) for t, g in zip(table, grid)])
    below, above = x0 < table[0, 0], x0 > table[-1, -1]  # past the outer pieces' tables: their end slopes continue
    x[0] = np.where(
        below, grid[0, 0] + (x0 - table[0, 0]) * (grid[0, 1] - grid[0, 0]) / (table[0, 1] - table[0, 0]), x[0]
    )
    x[-1] = np.where(
        above,
        grid[-1, -1] + (x0 - table[-1, -1]) * (grid[-1, -1] - grid[-1, -2]) / (table[-1, -1] - table[-1, -2]),
        x[-1],
    )
    low, high = lo.copy(), hi.copy()
    low[0], high[-1] = -np.inf, np.inf
    for _ in range(NEWTON_STEPS):
        r = ratio(x)
        f = (a + b) * (x - x0) + ln_q(x)
        df = (a + b) + (s - 1.0) * r * ((b - 1.0) / (1.0 + r) + s / (1.0 + s * r))
        x = np.clip(x - f / df, low, high)
    loss = A * np.exp(-a * x) + B * (c.ravel() / (6.0 * np.exp(x) * (1.0 + ratio(x)))) ** -b
    return x[np.argmin(loss, axis=0), np.arange(x.shape[1])].reshape(c.shape)


# --------------------------------------------------------------------------------------------------
# normalised parametrisation for the engine
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scales:
    """Geometric means of N, D and the positive C_rl values (the engine's units)."""

    n: float
    d: float
    c: float

    @classmethod
    def of(cls, n: np.ndarray, d: np.ndarray, c_rl: np.ndarray) -> _Scales:
        gm = lambda v: float(np.exp(np.mean(np.log(v))))
        return cls(gm(n), gm(d), gm(c_rl[c_rl > 0]))

    def features(self, n, d, c_rl) -> dict[str, np.ndarray]:
        x = np.asarray(c_rl, dtype=float) / self.c
        pos = x > 0
        return {
            "lN": np.log(n / self.n),
            "lD": np.log(d / self.d),
            "x": x,
            "pos": pos,
            "lc": np.log(np.where(pos, x, 1.0)),
        }


def _lse(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = T.max(axis=-2, keepdims=True)
    ex = np.exp(T - m)
    tot = ex.sum(axis=-2, keepdims=True)
    return (np.log(tot) + m)[..., 0, :], ex / tot


def _pre_terms(th: np.ndarray, X: Mapping) -> list[np.ndarray]:
    e, a, al, b, be = (th[..., i, None] for i in range(5))
    return [e + 0 * X["lN"], a - al * X["lN"], b - be * X["lD"]]


def _pre_jac(s: np.ndarray, X: Mapping) -> list[np.ndarray]:
    return [s[0], s[1], -X["lN"] * s[1], s[2], -X["lD"] * s[2]]


def _additive_model(theta, X, jac=False):
    th = np.asarray(theta, dtype=float)
    c0 = np.exp(th[..., 7, None])
    L3 = np.log(X["x"] + c0)
    T = np.stack(_pre_terms(th, X) + [th[..., 5, None] - th[..., 6, None] * L3], axis=-2)
    logp, s = _lse(T)
    if not jac:
        return logp
    rl = [s[3], -L3 * s[3], -th[6] * c0 / (X["x"] + c0) * s[3]]
    return logp, np.stack(_pre_jac(s, X) + rl, axis=1)


def _ceiling_model(theta, X, jac=False):
    th = np.asarray(theta, dtype=float)
    logp_pre, s = _lse(np.stack(_pre_terms(th, X), axis=-2))
    f = 1.0 / (1.0 + np.exp(-th[..., 5, None]))
    k = np.exp(th[..., 7, None])
    z = k * (X["lc"] - th[..., 6, None])
    sat = np.where(X["pos"], 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700))), 0.0)
    q = 1.0 - f * sat
    logp = logp_pre + np.log(q)
    if not jac:
        return logp
    ds = sat * (1 - sat)
    rl = [-f * (1 - f) * sat / q, f * k * ds / q, -f * z * ds / q]
    return logp, np.stack(_pre_jac(s, X) + rl, axis=1)


def _starts(form: str, logy: np.ndarray, X: Mapping) -> np.ndarray:
    ymin, ymed = float(np.exp(logy.min())), float(np.exp(np.median(logy)))
    expo = [0.15, 0.5, 1.2]
    axes = [
        np.log(ymin * np.array([0.1, 0.5, 0.9])),
        np.log(ymed * np.array([0.05, 0.3])),
        expo,
        np.log(ymed * np.array([0.05, 0.3])),
        expo,
    ]
    xpos = X["x"][X["pos"]]
    if form == "size_tokens_additive":
        axes += [
            np.log(ymed * np.array([0.05, 0.3, 1.0])),
            expo,
            np.log([xpos.min() / 10, xpos.min(), np.median(xpos)]),
        ]
    else:
        lc = X["lc"][X["pos"]]
        axes += [[-1.0, 1.0, 3.0], [lc.min(), np.median(lc), lc.max()], np.log([0.5, 1.5, 4.0])]
    return grid_starts(axes)


def _to_params(form: str, theta: np.ndarray, sc: _Scales) -> np.ndarray:
    e, a, al, b, be, u, v, w = theta
    with np.errstate(over="ignore"):
        pre = [np.exp(e), np.exp(a) * sc.n**al, al, np.exp(b) * sc.d**be, be]
        if form == "size_tokens_additive":
            return np.array(pre + [np.exp(u) * sc.c**v, v, np.exp(w) * sc.c])
        return np.array(pre + [1.0 / (1.0 + np.exp(-u)), np.exp(v) * sc.c, np.exp(w)])


MODELS: dict[str, Callable] = {"size_tokens_additive": _additive_model, "size_tokens_ceiling": _ceiling_model}


# --------------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------------


@dataclass
class SizeTokensFit:
    """Result of :func:`fit_size_tokens_law`: parameters in original units (N, D, FLOPs) and bootstrap draws."""

    form: str
    estimate: dict[str, float]
    draws: np.ndarray | None  # (B, P) in ``PARAM_NAMES[form]`` order; NaN rows = failed refits
    loss: float
    n: int
    r2: float
    rmse: float  # accuracy fraction
    ci: float = 0.95
    bounds: dict = field(default_factory=dict)  # each parameter's box and whether it is at a bound (.identify)

    @property
    def param_names(self) -> list[str]:
        return PARAM_NAMES[self.form]

    def as_dict(self) -> dict:
        """The fits.json entry (``draws`` kept for the caller to store or drop)."""
        est = [self.estimate[k] for k in self.param_names]
        return {
            "form": self.form,
            "formula": FORMULAS[self.form],
            "variables": ["n_params", "pretrain_tokens", "c_rl"],
            "params": param_table(self.param_names, est, self.draws, self.ci, self.bounds),
            "bounds": self.bounds,
            "n": self.n,
            "loss": self.loss,
            "r2": self.r2,
            "rmse": self.rmse,
            **self.estimate,
            "param_names": self.param_names,
            "draws": self.draws,
        }


def _check_inputs(n, d, c_rl, accuracy, form: str):
    if form not in FORMULAS:
        raise FitError(f"size/tokens law: unknown form {form!r}; known: {sorted(FORMULAS)}")
    (n, d, c), y = checked_columns(
        form, {"n_params": (n, "positive"), "pretrain_tokens": (d, "positive"), "c_rl": (c_rl, "nonnegative")}, accuracy
    )
    require_points(len(y), len(PARAM_NAMES[form]), form)
    require_distinct(form, {"model sizes N": n, "pre-training token counts D": d, "positive C_rl values": c[c > 0]})
    require_variation(y, f"{form} accuracy")
    return n, d, c, y


def fit_size_tokens_law(
    n_params,
    tokens,
    c_rl,
    accuracy,
    form: str = "size_tokens_ceiling",
    *,
    delta: float = 1e-2,
    error_floor: float = 1e-3,
    resampling: Resampling = NO_RESAMPLING,
) -> SizeTokensFit:
    """Fit a size/tokens form (Huber on log error, L-BFGS) to accuracies at (N, D, C_rl).

    CIs: ``resampling`` (item replicates of the accuracies, else point resamples; no progress bar). Refits start
    from the point estimate. Errors are clipped below at ``error_floor``.
    """
    n, d, c, y = _check_inputs(n_params, tokens, c_rl, accuracy, form)
    sc = _Scales.of(n, d, c)
    X = sc.features(n, d, c)
    model, bounds = MODELS[form], BOUNDS[form]

    def logerr(acc):
        return log_error(acc, error_floor)

    ly = logerr(y)
    theta, loss = fit_huber(model, X, ly, delta, bounds, _starts(form, ly, X))
    est = dict(zip(PARAM_NAMES[form], map(float, _to_params(form, theta, sc))))
    draws = _bootstrap(form, model, X, ly, logerr, theta, sc, delta, resampling)
    acc_hat = 1 - size_tokens_error(form, est, n, d, c)
    names = PARAM_NAMES[form]
    box = bound_flags(theta, bounds, names, names, lambda t: _to_params(form, t, sc))
    gof = goodness_of_fit(y, acc_hat)
    return SizeTokensFit(form, est, draws, loss, len(y), **gof, ci=resampling.ci, bounds=box)


def _bootstrap(form, model, X, ly, logerr, theta, sc, delta, resampling: Resampling) -> np.ndarray | None:
    acc_draws, bootstrap, seed = resampling.acc_draws, resampling.bootstrap, resampling.seed
    from .common import bootstrap_loop

    bounds, P = BOUNDS[form], len(PARAM_NAMES[form])
    perturb = start_rng(seed)

    def starts():
        return refit_starts(theta, bounds, perturb)

    if acc_draws is not None:
        ad = np.asarray(acc_draws, dtype=float)
        return bootstrap_loop(
            len(ad),
            lambda i: _to_params(form, fit_huber(model, X, logerr(ad[i]), delta, bounds, starts(), tight=False)[0], sc),
            P,
            form,
            False,
        )
    if bootstrap <= 0:
        return None
    rng = np.random.default_rng(seed)

    def refit(_):
        w = np.bincount(rng.integers(0, len(ly), len(ly)), minlength=len(ly)).astype(float)
        return _to_params(form, fit_huber(model, X, ly, delta, bounds, starts(), w=w, tight=False)[0], sc)

    return bootstrap_loop(bootstrap, refit, P, form, False)


# --------------------------------------------------------------------------------------------------
# the forms, as the registry (:mod:`.laws`) sees them
# --------------------------------------------------------------------------------------------------


def _fit_points(form: str, pts: StudyPoints, **kw) -> dict:
    """:func:`fit_size_tokens_law` on the study points' N (parameters), D (tokens) and C_rl (FLOPs)."""
    return fit_size_tokens_law(pts.n, pts.d, pts.c_rl, pts.y, form, **kw).as_dict()


def _predict_points(form: str, params: Mapping[str, float], *, n, d, c_pre, c_rl) -> np.ndarray:
    """Accuracy ``1 - size_tokens_error`` at N, D and C_rl; C_pretrain unused."""
    return 1.0 - size_tokens_error(form, params, n, d, c_rl)


def _optimal_size(form: str, params: Mapping[str, float], c_pre, c_rl, n_bounds, heads) -> tuple:
    """Chinchilla's optimum (:func:`compute_optimal_size`): independent of the form, of C_rl and of ``n_bounds``."""
    return compute_optimal_size(params, c_pre, heads)


LAWS = tuple(
    JointForm(
        form,
        "size_tokens",
        formula,
        tuple(PARAM_NAMES[form]),
        "size_tokens",
        _fit_points,
        _predict_points,
        _optimal_size,
    )
    for form, formula in FORMULAS.items()
)
