"""Compute-only joint laws: error = f(C_pretrain, C_rl), fitted with the log-sum-exp Huber engine.

* ``additive``     err = E + A*C_pre^-alpha + B*(C_rl + C0)^-beta
* ``interaction``  the same + D*C_pre^-alpha*(C_rl + C0)^-beta

C in FLOPs; C_rl = 0 (base models) is handled by the fitted offset C0 (FLOPs); err = 1 - accuracy.
These laws see pre-training only through C_pretrain = 6ND, so they cannot say how to split it into N and D
(see :mod:`rlscaling.fit.size_tokens` for laws that can).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .checks import checked_columns, require_distinct, require_points, require_variation
from .common import NO_RESAMPLING, FitError, Resampling, bootstrap_draws, goodness_of_fit, log_error, param_table
from .identify import bound_flags, refit_starts, start_rng
from .law import JointForm
from .lse import _lse_fit, _LSESpec
from .points import StudyPoints

JOINT_FORMS: dict[str, _LSESpec] = {
    "additive": _LSESpec(interaction=False, offset=True),
    "interaction": _LSESpec(interaction=True, offset=True),
}
JOINT_FORMULAS = {
    "additive": "err = E + A*C_pre^-alpha + B*(C_rl + C0)^-beta",
    "interaction": "err = E + A*C_pre^-alpha + B*(C_rl + C0)^-beta + D*C_pre^-alpha*(C_rl + C0)^-beta",
}


def joint_param_names(form: str) -> list[str]:
    """Parameter names of a compute-only joint form, in fit order."""
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
    (c_pre, c_rl), y = checked_columns(
        "joint law", {"c_pretrain": (c_pre, "positive"), "c_rl": (c_rl, "nonnegative")}, accuracy
    )
    require_points(len(y), JOINT_FORMS[form].n_params, f"joint law ({form})")
    require_distinct("joint law", {"C_pretrain values": c_pre, "positive C_rl values": c_rl[c_rl > 0]})
    require_variation(y, "joint law accuracy")
    return c_pre, c_rl, y


def fit_joint_law(
    c_pre,
    c_rl,
    accuracy,
    form: str = "additive",
    *,
    delta: float = 1e-3,
    error_floor: float = 1e-3,
    resampling: Resampling = NO_RESAMPLING,
) -> dict:
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
        return log_error(acc, error_floor)

    theta, loss = _lse_fit(spec, data.L1, data.X2, logerr(y), delta)
    names = joint_param_names(form)
    est = data.to_params(theta, form)
    ad = None if resampling.acc_draws is None else np.asarray(resampling.acc_draws, dtype=float)
    ly, n = logerr(y), len(y)

    rng = start_rng(resampling.seed)

    def refit(target, w=None):
        starts = refit_starts(theta, spec.bounds, rng)
        return data.to_params(_lse_fit(spec, data.L1, data.X2, target, delta, w=w, starts=starts)[0], form)

    draws = bootstrap_draws(
        resampling,
        lambda i: refit(logerr(ad[i])),
        lambda idx: refit(ly, np.bincount(idx, minlength=n).astype(float)),
        n,
        len(names),
        f"bootstrap joint law ({form})",
    )
    params = dict(zip(names, map(float, est)))
    box = bound_flags(theta, spec.bounds, names, names, lambda t: data.to_params(t, form))
    return {
        "form": form,
        "formula": JOINT_FORMULAS[form],
        "params": param_table(names, est, draws, resampling.ci, box),
        "bounds": box,
        "n": len(y),
        "loss": loss,
        **goodness_of_fit(y, predict_joint(params, c_pre, c_rl)),
        **params,
        "param_names": names,
        "draws": draws,
    }


def leave_one_size_out(
    groups, c_pre, c_rl, accuracy, form: str, *, delta: float = 1e-3, error_floor: float = 1e-3
) -> dict:
    """Leave-one-size-out prediction error of a joint form: RMSE (accuracy fraction) over held-out sizes.

    Sizes whose training remainder is too small to fit are skipped and listed in ``skipped``.
    """
    groups = np.asarray(groups)
    c_pre, c_rl, y = (np.asarray(v, dtype=float) for v in (c_pre, c_rl, accuracy))
    errors, per_size, skipped = [], {}, {}
    for g in np.unique(groups):
        hold = groups == g
        try:
            fit = fit_joint_law(c_pre[~hold], c_rl[~hold], y[~hold], form, delta=delta, error_floor=error_floor)
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
# the forms, as the registry (:mod:`.laws`) sees them
# --------------------------------------------------------------------------------------------------


def _fit_points(form: str, pts: StudyPoints, **kw) -> dict:
    """:func:`fit_joint_law` on the study points' (C_pretrain, C_rl) FLOPs."""
    return {**fit_joint_law(pts.c_pre, pts.c_rl, pts.y, form, **kw), "variables": ["c_pretrain", "c_rl"]}


def _predict_points(form: str, params: Mapping[str, float], *, n, d, c_pre, c_rl) -> np.ndarray:
    """:func:`predict_joint` (one formula for both forms: ``D`` absent means no interaction); N and D unused."""
    return predict_joint(params, c_pre, c_rl)


LAWS = tuple(
    JointForm(form, "compute", formula, tuple(joint_param_names(form)), "joint", _fit_points, _predict_points)
    for form, formula in JOINT_FORMULAS.items()
)
