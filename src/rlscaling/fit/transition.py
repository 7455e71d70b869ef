"""Transition joint laws: base accuracy is a sigmoid in log C_pretrain (a floor, a step, a plateau), RL adds a gain.

* ``transition_additive``  acc = L + (U - L)*sig(k*ln(C_pre/C_mid)) + G*S(C_rl): RL adds the same saturating gain
  whatever the base model;
* ``transition_gated``     acc = L + (U - L + G*S(C_rl))*sig(k*ln(C_pre/C_mid)): RL's gain scales with how far
  pre-training has got (no gain below the transition, the full G above it).

``sig(z) = 1/(1 + e^-z)``; ``S(C_rl) = C_rl/(C_rl + C_half)``: 0 at C_rl = 0 (the base model), 1/2 at C_half, 1 as
C_rl -> inf. S's Hill exponent is fixed at h = 1: with four or five RL checkpoints per curve and a gain of a few
points against ~1 pp of binomial noise, h and C_half trade off along a ridge and cannot both be identified.
Limits: C_pre -> 0 gives L (+ G*S additive), C_pre -> inf gives U + G*S.

Units: C_pre, C_mid, C_rl, C_half in FLOPs; k per e-fold of C_pretrain; L, U, G and accuracy fractions.
Bounds: 0 <= L <= U <= 1; 0.1 <= k <= 100; C_mid within 3 e-folds of the fitted C_pretrain range, C_half within 4
e-folds of the positive C_rl range; G such that every prediction is an accuracy in [0, 1]: -L <= G <= 1 - U
(additive), -U <= G <= 1 - U (gated). The engine works on box-bounded ``theta = (L, p, q, ln k, ln C_mid', ln
C_half')`` with ``U = L + p(1 - L)`` and G mapping q in [0, 1] onto its range, so the bounds hold exactly.

Objective: Huber on *accuracy* residuals (not on log error as the power laws): the floor, the step and the RL gain
are additive in accuracy and the binomial noise is near-constant there; at these accuracies (well below 1) a log
error residual is the accuracy residual / (1 - acc), so ``delta`` keeps its meaning (``error_floor`` is unused).
Starts: a grid over L, U, G, k, C_mid, C_half scored in one pass, L-BFGS-B from the best few.

The (N, D) forms of :mod:`.transition_nd` (a sigmoid in log tokens with a size-dependent midpoint) share this
engine: :func:`fit_transition_engine`, the model, features, bounds and start grid take a size exponent ``a`` as a
seventh engine parameter when the features carry ``ln(N/N_ref)``.

Identification: a form whose data show no transition (every point on the floor, or only a sliver of the sigmoid)
has no identified L, U, k, C_mid; :func:`fit_transition_law` raises FitError when the fitted base accuracy rises by
less than ``MIN_RISE_RMSE`` x RMSE (and at least ``MIN_RISE``) across the observed C_pretrain range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .checks import checked_columns, require_distinct, require_points, require_variation
from .common import NO_RESAMPLING, FitError, Resampling, bootstrap_draws, goodness_of_fit, param_table
from .huber import fit_huber, grid_starts
from .identify import bound_flags, refit_starts, start_rng
from .law import JointForm
from .points import StudyPoints

TRANSITION_FORMULAS = {
    "transition_additive": "acc = L + (U - L)*sig(k*ln(C_pre/C_mid)) + G*C_rl/(C_rl + C_half)",
    "transition_gated": "acc = L + (U - L + G*C_rl/(C_rl + C_half))*sig(k*ln(C_pre/C_mid))",
}
TRANSITION_PARAMS = ("L", "U", "k", "C_mid", "G", "C_half")
MIN_RISE_RMSE = 3.0  # the observed rise of the base accuracy must exceed this many RMSEs of the fit ...
MIN_RISE = 0.005  # ... and this accuracy fraction (0.5 pp), for noise-free data
K_BOUNDS = (0.1, 100.0)  # steepness k, per e-fold of C_pretrain
MID_MARGIN, HALF_MARGIN = 3.0, 4.0  # e-folds beyond the fitted C_pretrain / positive C_rl range
N_MID_STARTS = 12  # start values of the midpoint C_mid
A_BOUNDS = (-2.0, 2.0)  # size exponent a of the (N, D) forms: both signs, so "no size effect" is inside
A_STARTS = (-0.5, 0.0, 0.5, 1.0)
FIXED_PARAMS = ("N_ref",)  # stored with the parameters of the (N, D) forms, not fitted


def _is_gated(form: str) -> bool:
    if form not in TRANSITION_FORMULAS:
        raise FitError(f"transition law: unknown form {form!r}; known: {sorted(TRANSITION_FORMULAS)}")
    return form == "transition_gated"


# --------------------------------------------------------------------------------------------------
# the laws in original units
# --------------------------------------------------------------------------------------------------


def pretrain_fraction(c_pre, c_mid: float, k: float) -> np.ndarray:
    """``sig(k ln(C_pre/C_mid))`` in [0, 1]: 0 at C_pre = 0, 1/2 at C_mid, 1 as C_pre -> inf (FLOPs)."""
    with np.errstate(divide="ignore"):
        return expit(k * (np.log(np.asarray(c_pre, dtype=float)) - np.log(c_mid)))


def rl_fraction(c_rl, c_half: float) -> np.ndarray:
    """``S = C_rl/(C_rl + C_half)`` in [0, 1]: 0 at C_rl = 0, 1/2 at C_half, 1 as C_rl -> inf (FLOPs)."""
    with np.errstate(divide="ignore"):
        return expit(np.log(np.asarray(c_rl, dtype=float)) - np.log(c_half))


def predict_transition(form: str, params: Mapping[str, float], c_pre, c_rl) -> np.ndarray:
    """Accuracy (fraction) of transition form ``form`` at C_pretrain and C_rl FLOPs; ``params`` in original units."""
    sig = pretrain_fraction(c_pre, params["C_mid"], params["k"])
    return transition_accuracy(params, sig, c_rl, _is_gated(form))


def transition_accuracy(params: Mapping[str, float], sig, c_rl, gated: bool) -> np.ndarray:
    """``L + (U - L)*sig + G*S`` (additive) or ``L + (U - L + G*S)*sig`` (gated) at pre-training fraction ``sig``."""
    gain = params["G"] * rl_fraction(c_rl, params["C_half"])
    L, U = params["L"], params["U"]
    return L + (U - L + gain) * sig if gated else L + (U - L) * sig + gain


# --------------------------------------------------------------------------------------------------
# normalised parametrisation for the engine
# --------------------------------------------------------------------------------------------------


def _linear_params(th: np.ndarray, gated: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L, U, G) from the box-bounded (L, p, q) of ``th`` (last axis): U = L + p(1 - L), G fills its bounds."""
    L, p, q = th[..., 0, None], th[..., 1, None], th[..., 2, None]
    U = L + p * (1 - L)
    return L, U, (q - U if gated else -L + q * (1 - U + L))


def _model(gated: bool, sized: bool = False):
    """``model(theta, X, jac)`` for :func:`fit_huber`: the predicted accuracy (and its Jacobian in theta); ``sized``:
    theta[6] is the size exponent ``a`` and the sigmoid's argument gains ``a * X["ln"]`` (``ln(N/N_ref)``)."""

    def model(theta, X, jac=False):
        th = np.asarray(theta, dtype=float)
        L, U, G = _linear_params(th, gated)
        k = np.exp(th[..., 3, None])
        z = k * (X["lp"] - th[..., 4, None] + (th[..., 6, None] * X["ln"] if sized else 0.0))
        sig = expit(z)
        S = X["x"] / (X["x"] + np.exp(th[..., 5, None]))
        acc = L + (U - L + G * S) * sig if gated else L + (U - L) * sig + G * S
        if not jac:
            return acc
        p, q = th[1], th[2]
        a_u, a_g = sig, (S * sig if gated else S)  # d acc / dU, dG
        a_sig, a_s = (U + G * S - L, G * sig) if gated else (U - L, G)
        dg = (-(1 - p), -(1 - L), 1.0) if gated else (-1 + q * p, -q * (1 - L), 1 - U + L)  # dG / d(L, p, q)
        ds = sig * (1 - sig)
        J = [
            (1 - sig) + a_u * (1 - p) + a_g * dg[0],
            a_u * (1 - L) + a_g * dg[1],
            a_g * dg[2],
            a_sig * ds * z,
            -a_sig * ds * k,
            -a_s * S * (1 - S),
        ] + ([a_sig * ds * k * X["ln"]] if sized else [])
        return acc, np.stack(J, axis=1)

    return model


MODELS = {form: _model(_is_gated(form)) for form in TRANSITION_FORMULAS}


@dataclass(frozen=True)
class _Data:
    """Features in the engine's units: ``lp = ln(x_pre/s_pre)`` (x_pre = C_pretrain FLOPs, or D tokens for the (N, D)
    forms), ``x = C_rl/s_rl`` and, for the (N, D) forms, ``ln = ln(N/n_ref)`` (scales: geometric means)."""

    s_pre: float
    s_rl: float
    X: dict
    n_ref: float | None = None

    @classmethod
    def of(cls, x_pre: np.ndarray, c_rl: np.ndarray, n: np.ndarray | None = None) -> _Data:
        s_pre, s_rl = _geomean(x_pre), _geomean(c_rl[c_rl > 0])
        X = {"lp": np.log(x_pre / s_pre), "x": c_rl / s_rl}
        if n is None:
            return cls(s_pre, s_rl, X)
        n_ref = _geomean(n)
        return cls(s_pre, s_rl, {**X, "ln": np.log(n / n_ref)}, n_ref)

    @property
    def sized(self) -> bool:
        return self.n_ref is not None

    def bounds(self) -> list[tuple[float, float]]:
        lp, lx = self.X["lp"], np.log(self.X["x"][self.X["x"] > 0])
        return [
            (0.0, 1.0),
            (0.0, 1.0),
            (0.0, 1.0),
            tuple(np.log(K_BOUNDS)),
            (lp.min() - MID_MARGIN, lp.max() + MID_MARGIN),
            (lx.min() - HALF_MARGIN, lx.max() + HALF_MARGIN),
        ] + ([A_BOUNDS] if self.sized else [])

    def to_params(self, theta: np.ndarray, gated: bool) -> np.ndarray:
        """Engine theta -> (L, U, k, C_mid, G, C_half) in original units (fractions, FLOPs); for the (N, D) forms
        (L, U, k, D_mid0, a, G, C_half, N_ref) (D_mid0 tokens, N_ref parameters)."""
        L, U, G = (float(v[0]) for v in _linear_params(np.asarray(theta, dtype=float), gated))
        head, tail = [L, U, np.exp(theta[3]), np.exp(theta[4]) * self.s_pre], [G, np.exp(theta[5]) * self.s_rl]
        return np.array((head + [theta[6]] + tail + [self.n_ref]) if self.sized else (head + tail))


def _geomean(values: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(values))))


def _starts(data: _Data, y: np.ndarray, gated: bool) -> np.ndarray:
    """Grid of engine starts from natural guesses: floor, plateau and gain from the accuracy quantiles; the midpoint
    between every two neighbouring C_pretrain (or D) values (at most ``N_MID_STARTS``), so a sharp step is found;
    the size exponent at ``A_STARTS`` for the (N, D) forms."""
    u, lx = np.unique(data.X["lp"]), np.log(data.X["x"][data.X["x"] > 0])
    mids = (u[:-1] + u[1:]) / 2
    lo, hi = np.quantile(y, [0.1, 0.9])
    g = grid_starts(
        [
            [y.min(), lo],
            [hi, y.max()],
            [0.0, 0.25 * np.ptp(y)],
            np.log([1.0, 4.0, 16.0, 64.0]),
            mids if len(mids) <= N_MID_STARTS else np.quantile(mids, np.linspace(0, 1, N_MID_STARTS)),
            [lx.min(), np.median(lx), lx.max()],
        ]
        + ([list(A_STARTS)] if data.sized else [])
    )
    L, U, G = g[:, 0], np.maximum(g[:, 1], g[:, 0]), g[:, 2]
    p = np.where(L < 1, (U - L) / np.maximum(1 - L, 1e-12), 0.0)
    q = U + G if gated else (G + L) / np.maximum(1 - U + L, 1e-12)
    return np.column_stack([L, p, np.clip(q, 0.0, 1.0), g[:, 3:]])


# --------------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------------


def _check_inputs(c_pre, c_rl, accuracy, form: str):
    _is_gated(form)
    (c_pre, c_rl), y = checked_columns(
        form, {"c_pretrain": (c_pre, "positive"), "c_rl": (c_rl, "nonnegative")}, accuracy
    )
    require_points(len(y), len(TRANSITION_PARAMS), form)
    require_distinct(form, {"C_pretrain values": c_pre, "positive C_rl values": c_rl[c_rl > 0]})
    require_variation(y, f"{form} accuracy")
    return c_pre, c_rl, y


def observed_rise(params: Mapping[str, float], c_pre) -> float:
    """Rise of the fitted base accuracy (fraction, at C_rl = 0) across the observed C_pretrain range (FLOPs)."""
    return base_rise(params, pretrain_fraction([np.min(c_pre), np.max(c_pre)], params["C_mid"], params["k"]))


def base_rise(params: Mapping[str, float], sig) -> float:
    """``(U - L) * (max sig - min sig)``: the rise of the base accuracy (fraction) over the sigmoid values ``sig``."""
    return float((params["U"] - params["L"]) * (np.max(sig) - np.min(sig)))


def require_transition(form: str, rise: float, rmse: float, where: str, mid: str) -> dict[str, float]:
    """FitError unless the fitted transition rises clearly (above the fit's noise) inside the data: ``rise`` (the
    fitted base accuracy's rise across the observed ``where``) >= max(MIN_RISE_RMSE x ``rmse``, MIN_RISE)."""
    need = max(MIN_RISE_RMSE * rmse, MIN_RISE)
    if not rise >= need:
        raise FitError(
            f"{form}: no transition in the data: the fitted base accuracy rises {100 * rise:.2f} pp across the "
            f"observed {where}, below {MIN_RISE_RMSE:g} x RMSE = {100 * need:.2f} pp, so the floor L, "
            f"plateau U, midpoint {mid} and steepness k are not identified"
        )
    return {"observed_rise": rise, "min_rise": need}


@dataclass(frozen=True)
class Transition:
    """What :func:`fit_transition_engine` needs to know of one form: its name, formula, parameter names (original
    units, :meth:`_Data.to_params` order), gating, and how to predict / measure the rise on the fitted points."""

    form: str
    formula: str
    names: tuple[str, ...]
    gated: bool
    predict: Callable[[Mapping[str, float]], np.ndarray]  # params -> accuracy at the fitted points
    rise: Callable[[Mapping[str, float]], float]  # params -> observed rise of the base accuracy (fraction)
    where: str  # what the rise is measured across, for the FitError
    mid: str  # name of the midpoint parameter, for the FitError


def fit_transition_engine(law: Transition, data: _Data, y: np.ndarray, delta: float, resampling: Resampling) -> dict:
    """Huber/L-BFGS-B fit of a transition form from the start grid, the no-transition guard, then bootstrap refits
    (item replicates of ``y`` in ``resampling.acc_draws``, else point resamples) from the point estimate."""
    model, bounds = _model(law.gated, data.sized), data.bounds()
    theta, loss = fit_huber(model, data.X, y, delta, bounds, _starts(data, y, law.gated), top_k=6)
    est = data.to_params(theta, law.gated)
    params = dict(zip(law.names, map(float, est)))
    gof = goodness_of_fit(y, law.predict(params))
    identified = require_transition(law.form, law.rise(params), gof["rmse"], law.where, law.mid)
    coords = ["L", "U", "G", "k", law.mid, "C_half"] + (["a"] if data.sized else [])
    box = bound_flags(theta, bounds, coords, law.names, lambda t: data.to_params(t, law.gated))
    ad = None if resampling.acc_draws is None else np.asarray(resampling.acc_draws, dtype=float)
    rng = start_rng(resampling.seed)

    def refit(target, w=None):
        th = fit_huber(model, data.X, target, delta, bounds, refit_starts(theta, bounds, rng), w=w, tight=False)[0]
        return data.to_params(th, law.gated)

    draws = bootstrap_draws(
        resampling,
        lambda i: refit(ad[i]),
        lambda idx: refit(y, np.bincount(idx, minlength=len(y)).astype(float)),
        len(y),
        len(law.names),
        f"bootstrap {law.form}",
    )
    return {
        "form": law.form,
        "formula": law.formula,
        "params": param_table(list(law.names), est, draws, resampling.ci, box, fixed=FIXED_PARAMS),
        "bounds": box,
        "n": len(y),
        "loss": loss,
        **gof,
        **identified,
        **params,
        "param_names": list(law.names),
        "theta": theta,
        "draws": draws,
    }


def fit_transition_law(
    c_pre,
    c_rl,
    accuracy,
    form: str = "transition_additive",
    *,
    delta: float = 1e-2,
    error_floor: float = 1e-3,
    resampling: Resampling = NO_RESAMPLING,
) -> dict:
    """Fit a transition form to accuracies (fractions) at (C_pretrain, C_rl) FLOPs: Huber on accuracy, L-BFGS-B.

    ``delta`` is the Huber threshold on accuracy residuals; ``error_floor`` is accepted for the joint-form interface
    and unused (no logs are taken). CIs: ``resampling`` (item replicates of the accuracies, else point resamples),
    refits starting from the point estimate. Returns parameters (original units) with CIs, R^2/RMSE on accuracy,
    ``observed_rise``, ``theta`` (engine units) and ``draws`` (B x 6, ``TRANSITION_PARAMS`` order). FitError when
    the data show no transition (see :func:`require_transition`).
    """
    del error_floor
    c_pre, c_rl, y = _check_inputs(c_pre, c_rl, accuracy, form)
    law = Transition(
        form,
        TRANSITION_FORMULAS[form],
        TRANSITION_PARAMS,
        _is_gated(form),
        lambda p: predict_transition(form, p, c_pre, c_rl),
        lambda p: observed_rise(p, c_pre),
        "C_pretrain range",
        "C_mid",
    )
    return fit_transition_engine(law, _Data.of(c_pre, c_rl), y, delta, resampling)


# --------------------------------------------------------------------------------------------------
# the forms, as the registry (:mod:`.laws`) sees them
# --------------------------------------------------------------------------------------------------


def _fit_points(form: str, pts: StudyPoints, **kw) -> dict:
    """:func:`fit_transition_law` on the study points' (C_pretrain, C_rl) FLOPs."""
    return {**fit_transition_law(pts.c_pre, pts.c_rl, pts.y, form, **kw), "variables": ["c_pretrain", "c_rl"]}


def _predict_points(form: str, params: Mapping[str, float], *, n, d, c_pre, c_rl) -> np.ndarray:
    """:func:`predict_transition` at C_pretrain and C_rl FLOPs; N and D unused."""
    return predict_transition(form, params, c_pre, c_rl)


LAWS = tuple(
    JointForm(
        form, "compute", formula, TRANSITION_PARAMS, "transition", _fit_points, _predict_points, is_transition=True
    )
    for form, formula in TRANSITION_FORMULAS.items()
)
