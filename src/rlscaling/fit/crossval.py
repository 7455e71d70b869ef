"""Choosing between joint-law forms by leave-one-size-out (LOSO) and leave-one-budget-out (LOBO) error.

A *size* is one model (all its pre-training budgets and RL checkpoints); a *budget* is one pre-training token
count D (every model trained on it). Errors are RMSEs of predicted accuracy (fraction) on the held-out points.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .common import FitError
from .laws import JointForm, StudyPoints

SCHEMES = {"loso": "model", "lobo": "pretrain_tokens"}
SELECTION_RULE = (
    "lowest mean of the leave-one-size-out and leave-one-budget-out RMSE on accuracy, over the "
    "schemes every fitted form could run; CIs for the chosen form only"
)


def _groups(pts: StudyPoints, scheme: str) -> np.ndarray:
    return pts.model if SCHEMES[scheme] == "model" else pts.d


def leave_one_group_out(form: JointForm, pts: StudyPoints, scheme: str, *, delta: float, error_floor: float) -> dict:
    """RMSE (accuracy fraction) of ``form`` on each held-out group, fitted on the rest.

    Predictions are clipped to [0, 1] (an accuracy), so one wild extrapolation cannot swamp the score.

    Returns ``{rmse, per_group, skipped}``; groups whose remainder cannot be fitted are listed in ``skipped``
    with the reason. FitError when no group can be held out.
    """
    groups = _groups(pts, scheme)
    errors, per_group, skipped = [], {}, {}
    for g in np.unique(groups):
        hold = groups == g
        label = str(g) if scheme == "loso" else f"{float(g):.4g}"
        try:
            fit = form.fit(pts.subset(~hold), delta=delta, error_floor=error_floor)
        except FitError as exc:
            skipped[label] = str(exc)
            continue
        resid = np.clip(form.predict_points(fit, pts.subset(hold)), 0.0, 1.0) - pts.y[hold]
        errors.append(resid)
        per_group[label] = float(np.sqrt(np.mean(resid**2)))
    if not errors:
        raise FitError(f"{scheme} ({form.name}): no group could be held out ({skipped})")
    return {"rmse": float(np.sqrt(np.mean(np.concatenate(errors) ** 2))), "per_group": per_group, "skipped": skipped}


def cross_validate(form: JointForm, pts: StudyPoints, *, delta: float, error_floor: float) -> dict:
    """Both schemes for one form: ``{loso: {...} | {status: failed, reason}, lobo: ...}``."""
    out = {}
    for scheme in SCHEMES:
        try:
            out[scheme] = {
                "status": "ok",
                **leave_one_group_out(form, pts, scheme, delta=delta, error_floor=error_floor),
            }
        except FitError as exc:
            out[scheme] = {"status": "failed", "reason": str(exc)}
    return out


def choose_form(cv: Mapping[str, Mapping]) -> tuple[str | None, dict]:
    """Pick the form with the lowest mean CV RMSE over the schemes that every form in ``cv`` ran.

    ``cv`` maps form name -> :func:`cross_validate` output (forms that failed to fit are left out by the
    caller). Returns (chosen or None, ``{schemes, scores, reason}``).
    """
    if not cv:
        return None, {"schemes": [], "scores": {}, "reason": "no form could be fitted"}
    schemes = [s for s in SCHEMES if all(v[s]["status"] == "ok" for v in cv.values())]
    if not schemes:
        return None, {
            "schemes": [],
            "scores": {},
            "reason": "no cross-validation scheme could run for every fitted form (needs >= 3 sizes or >= 3 budgets)",
        }
    scores = {f: float(np.mean([v[s]["rmse"] for s in schemes])) for f, v in cv.items()}
    chosen = min(scores, key=lambda f: (scores[f], f))
    return chosen, {"schemes": schemes, "scores": scores, "reason": None}
