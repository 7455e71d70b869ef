"""Transition joint laws in (N, D, C_rl): base accuracy a sigmoid in log tokens whose midpoint depends on model size.

* ``transition_nd_additive``  acc = L + (U - L)*sig(z) + G*S(C_rl);
* ``transition_nd_gated``     acc = L + (U - L + G*S(C_rl))*sig(z);

with ``z = k*(ln D - ln D_mid0 + a*ln(N/N_ref))``, i.e. the step sits at ``D_mid(N) = D_mid0*(N/N_ref)^-a`` tokens
(a > 0: bigger models learn the step with fewer tokens; a = 0: no size effect; a < 0: the opposite), and
``S(C_rl) = C_rl/(C_rl + C_half)`` as in :mod:`.transition`, whose engine (Huber on accuracy, start grid,
L-BFGS-B, bootstrap, no-transition guard) fits these forms with ``a`` as a seventh engine parameter.

Why: in the embedded study base accuracy is not a function of C_pretrain = 6ND across sizes (the 98.8K model at
2M tokens, 1.2e12 FLOPs, is far above the 861K model at 1M tokens, 5.2e12 FLOPs); it steps in D at an N-dependent
token count.

Units: N and N_ref parameters, D and D_mid0 tokens, C_rl and C_half FLOPs; k per e-fold of D; a dimensionless;
L, U, G and accuracy fractions. ``N_ref`` is not fitted: it is the geometric mean of the fitted N, stored with the
parameters (its CI is the point) so a fit predicts on its own. Bounds: as :mod:`.transition` (0 <= L <= U <= 1,
0.1 <= k <= 100, D_mid0 within 3 e-folds of the fitted D range, C_half within 4 e-folds of the positive C_rl range,
G keeps every prediction in [0, 1]) and ``A_BOUNDS`` = [-2, 2] for a.

Compute-optimal size: at fixed ``C_pretrain = 6ND``, ``z`` is linear in ln N with slope ``k*(a - 1)``, so these
laws put the optimum on a corner of whatever N range is searched; counting the output head
(``C_pretrain = 6(N + H)D``) bends it and the optimum may lie inside (:func:`compute_optimal_size_nd`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit

from rlscaling.compute import HeadParams, pretrain_tokens

from .checks import checked_columns, require_distinct, require_points, require_variation
from .common import NO_RESAMPLING, FitError, Resampling
from .law import JointForm
from .points import StudyPoints
from .transition import (
    FIXED_PARAMS,
    Transition,
    _Data,
    base_rise,
    fit_transition_engine,
    rl_fraction,
    transition_accuracy,
)

_SIG = "sig(k*(ln(D/D_mid0) + a*ln(N/N_ref)))"
TRANSITION_ND_FORMULAS = {
    "transition_nd_additive": f"acc = L + (U - L)*{_SIG} + G*C_rl/(C_rl + C_half)",
    "transition_nd_gated": f"acc = L + (U - L + G*C_rl/(C_rl + C_half))*{_SIG}",
}
TRANSITION_ND_PARAMS = ("L", "U", "k", "D_mid0", "a", "G", "C_half", "N_ref")
N_FITTED = 7  # every parameter but N_ref
SIZE_SPAN = 10.0  # default N range of the compute-optimal search: N_ref / SIZE_SPAN .. N_ref * SIZE_SPAN


def _is_gated(form: str) -> bool:
    if form not in TRANSITION_ND_FORMULAS:
        raise FitError(f"transition (N, D) law: unknown form {form!r}; known: {sorted(TRANSITION_ND_FORMULAS)}")
    return form == "transition_nd_gated"


def token_midpoint(params: Mapping[str, float], n_params) -> np.ndarray:
    """``D_mid(N) = D_mid0 * (N/N_ref)^-a``: tokens at which a model of N parameters is half-way up the step."""
    return params["D_mid0"] * np.power(np.asarray(n_params, dtype=float) / params["N_ref"], -params["a"])


def token_fraction(params: Mapping[str, float], n_params, tokens) -> np.ndarray:
    """``sig(k*(ln D - ln D_mid0 + a*ln(N/N_ref)))`` in [0, 1] at N parameters and D tokens."""
    n, d = np.asarray(n_params, dtype=float), np.asarray(tokens, dtype=float)
    with np.errstate(divide="ignore"):
        u = np.log(d) - np.log(params["D_mid0"]) + params["a"] * (np.log(n) - np.log(params["N_ref"]))
    return expit(params["k"] * u)


def predict_transition_nd(form: str, params: Mapping[str, float], n_params, tokens, c_rl) -> np.ndarray:
    """Accuracy (fraction) of ``form`` at N parameters, D tokens and C_rl FLOPs; ``params`` in original units."""
    return transition_accuracy(params, token_fraction(params, n_params, tokens), c_rl, _is_gated(form))


def observed_rise_nd(params: Mapping[str, float], n_params, tokens) -> float:
    """Rise of the fitted base accuracy (fraction, at C_rl = 0) between the lowest and highest observed (N, D)."""
    return base_rise(params, token_fraction(params, n_params, tokens))


def _check_inputs(n, d, c_rl, accuracy, form: str):
    _is_gated(form)
    (n, d, c_rl), y = checked_columns(
        form, {"n_params": (n, "positive"), "pretrain_tokens": (d, "positive"), "c_rl": (c_rl, "nonnegative")}, accuracy
    )
    require_points(len(y), N_FITTED, form)
    distinct = {"model sizes N": n, "pre-training token counts D": d, "positive C_rl values": c_rl[c_rl > 0]}
    require_distinct(form, distinct)
    require_variation(y, f"{form} accuracy")
    return n, d, c_rl, y


def fit_transition_nd_law(
    n_params,
    tokens,
    c_rl,
    accuracy,
    form: str = "transition_nd_additive",
    *,
    delta: float = 1e-2,
    error_floor: float = 1e-3,
    resampling: Resampling = NO_RESAMPLING,
) -> dict:
    """Fit an (N, D) transition form to accuracies (fractions) at N parameters, D tokens and C_rl FLOPs.

    As :func:`.transition.fit_transition_law` (Huber on accuracy with threshold ``delta``; ``error_floor`` unused;
    CIs from ``resampling``), with ``N_ref`` the geometric mean of ``n_params``. Returns parameters in
    ``TRANSITION_ND_PARAMS`` order (original units) with CIs, R^2/RMSE on accuracy, ``observed_rise``, ``theta``
    and ``draws`` (B x 8). FitError when the fitted base accuracy does not rise clearly across the observed points.
    """
    del error_floor
    n, d, c, y = _check_inputs(n_params, tokens, c_rl, accuracy, form)
    law = Transition(
        form,
        TRANSITION_ND_FORMULAS[form],
        TRANSITION_ND_PARAMS,
        _is_gated(form),
        lambda p: predict_transition_nd(form, p, n, d, c),
        lambda p: observed_rise_nd(p, n, d),
        "(N, D) points",
        "D_mid0",
    )
    fit = fit_transition_engine(law, _Data.of(d, c, n), y, delta, resampling)
    return {**fit, "variables": ["n_params", "pretrain_tokens", "c_rl"]}


def compute_optimal_size_nd(
    form: str,
    params: Mapping[str, float],
    c_pretrain,
    c_rl=0.0,
    n_bounds: tuple[float, float] | None = None,
    heads: HeadParams | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(N*, D*) (parameters, tokens) maximising ``form``'s accuracy at ``6 (N + H(N)) D = C_pretrain`` FLOPs and
    ``C_rl`` FLOPs, N in ``n_bounds``; ``heads`` gives the output head's parameters ``H`` at any N
    (:class:`rlscaling.compute.HeadParams`), None counts no head (``H = 0``).

    With ``D = C/(6 m)``, ``m = N + H(N)``: ``z = k*(ln(C/6) - ln D_mid0 - a ln N_ref + phi(ln N))`` with
    ``phi(x) = a x - ln m(e^x)``, and the accuracy is ``L (+ G*S) + w*sig(z)`` with ``w = U - L`` (+ ``G*S`` when
    gated), ``k > 0``. So the best N maximises ``sign(w) * phi`` and does not depend on ``C_pretrain``. Without a
    head ``phi = (a - 1) x`` is linear and the optimum is exact and a corner: the largest N when ``(a - 1)*w > 0``,
    the smallest when ``< 0``. With a head ``phi`` is concave on each piece between the study's models (``ln m`` is
    a log-sum-exp of affine functions of ``x``), so the optimum may be inside the range: it is found on a dense grid
    of ln N that holds the range's ends and the models' sizes, refined by a bounded scalar search
    (:func:`_best_log_size`). Every N predicts the same (``w = 0``): N_ref clipped into the range. ``n_bounds``
    (parameters): the N range searched, default ``N_ref/SIZE_SPAN .. N_ref*SIZE_SPAN`` -- pass the fitted N range
    so the optimum does not extrapolate.
    """
    gated = _is_gated(form)
    c = np.asarray(c_pretrain, dtype=float)
    lo, hi = n_bounds if n_bounds is not None else (params["N_ref"] / SIZE_SPAN, params["N_ref"] * SIZE_SPAN)
    if not 0 < lo <= hi:
        raise FitError(f"{form}: N range must be 0 < low <= high parameters, got {(lo, hi)}")
    w = params["U"] - params["L"] + (params["G"] * rl_fraction(c_rl, params["C_half"]) if gated else 0.0)
    w = np.asarray(w, dtype=float)
    flat = np.clip(params["N_ref"], lo, hi)
    if heads is None:
        slope = (params["a"] - 1.0) * w
        n = np.where(slope > 0, hi, np.where(slope < 0, lo, flat)) + np.zeros_like(c)
        return n, c / (6.0 * n)

    def phi(x):
        return params["a"] * x - np.log(np.exp(x) + heads.at(np.exp(x)))

    up, down = (
        np.exp(_best_log_size(lambda x, s=sign: s * phi(x), lo, hi, heads.sizes)) if np.any(sign * w > 0) else flat
        for sign in (1.0, -1.0)
    )  # solved only for the signs of w that occur
    n = np.where(w > 0, up, np.where(w < 0, down, flat)) + np.zeros_like(c)
    return n, pretrain_tokens(c, n, head_params=heads.at(n))


ND_GRID = 4097  # points of the ln N grid searched with a head


def _best_log_size(objective, lo: float, hi: float, knots) -> float:
    """``argmax`` of ``objective(ln N)`` over ``lo <= N <= hi`` (parameters): a grid of ``ND_GRID`` points in ln N
    plus the ends and the ``knots`` inside (where the head's power law changes), then a bounded scalar search
    between the best point's neighbours, kept only when it does better."""
    x = np.unique(np.concatenate([np.linspace(np.log(lo), np.log(hi), ND_GRID), np.log(np.asarray(knots, float))]))
    x = x[(x >= np.log(lo)) & (x <= np.log(hi))]
    vals = objective(x)
    i = int(np.argmax(vals))
    if 0 < i < len(x) - 1:
        res = minimize_scalar(
            lambda t: -float(objective(np.array([t]))[0]), bounds=(x[i - 1], x[i + 1]), method="bounded"
        )
        if res.success and -res.fun > vals[i]:
            return float(res.x)
    return float(x[i])


# --------------------------------------------------------------------------------------------------
# the forms, as the registry (:mod:`.laws`) sees them
# --------------------------------------------------------------------------------------------------


def _fit_points(form: str, pts: StudyPoints, **kw) -> dict:
    """:func:`fit_transition_nd_law` on the study points' N (parameters), D (tokens) and C_rl (FLOPs)."""
    return fit_transition_nd_law(pts.n, pts.d, pts.c_rl, pts.y, form, **kw)


def _predict_points(form: str, params: Mapping[str, float], *, n, d, c_pre, c_rl) -> np.ndarray:
    """:func:`predict_transition_nd` at N, D and C_rl; C_pretrain unused."""
    return predict_transition_nd(form, params, n, d, c_rl)


LAWS = tuple(
    JointForm(
        form,
        "size_tokens",
        formula,
        TRANSITION_ND_PARAMS,
        "transition_nd",
        _fit_points,
        _predict_points,
        compute_optimal_size_nd,
        fixed_params=FIXED_PARAMS,
        is_transition=True,
    )
    for form, formula in TRANSITION_ND_FORMULAS.items()
)
