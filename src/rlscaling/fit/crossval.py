"""Held-out error of a joint-law form by leave-one-size-out (LOSO) and leave-one-budget-out (LOBO), beside a no-law
baseline on the same held-out points.

A *size* is one model (all its pre-training budgets and RL checkpoints); a *budget* is one pre-training token
count D (every model trained on it). Errors are RMSEs of predicted accuracy (fraction) on the held-out points.

The no-law baseline (:data:`BASELINE`) predicts each held-out point by the mean accuracy of the training points at
the same RL step: it knows that RL moves accuracy and what the other groups scored, but nothing of N, D or C_rl as
quantities. A law earns its place only by predicting held-out groups better than that (:mod:`.choose`).
"""

from __future__ import annotations

import numpy as np

from .common import FitError
from .law import JointForm
from .points import StudyPoints

SCHEMES = {"loso": "model", "lobo": "pretrain_tokens"}
BASELINE = (
    "each held-out point predicted by the mean accuracy of the training points at the same RL step (of all training "
    "points where none shares its step)"
)


def _groups(pts: StudyPoints, scheme: str) -> np.ndarray:
    return pts.model if SCHEMES[scheme] == "model" else pts.d


def _steps(pts: StudyPoints) -> np.ndarray:
    """The RL step of each point; without recorded steps, 0 for base models and 1 for every RL checkpoint."""
    return pts.step if pts.step is not None else (pts.c_rl > 0).astype(float)


def baseline_predict(train: StudyPoints, test: StudyPoints) -> np.ndarray:
    """:data:`BASELINE`'s prediction (accuracy fraction) of every ``test`` point from the ``train`` points."""
    train_steps, test_steps = _steps(train), _steps(test)
    out = np.full(len(test.y), float(np.mean(train.y)))
    for s in np.unique(test_steps):
        same = train_steps == s
        if same.any():
            out[test_steps == s] = float(np.mean(train.y[same]))
    return out


def _rmse(resid: np.ndarray) -> float:
    return float(np.sqrt(np.mean(resid**2)))


def leave_one_group_out(form: JointForm, pts: StudyPoints, scheme: str, *, delta: float, error_floor: float) -> dict:
    """RMSE (accuracy fraction) of ``form`` and of the no-law baseline on each held-out group, fitted on the rest.

    Predictions are clipped to [0, 1] (an accuracy), so one wild extrapolation cannot swamp the score.

    Returns ``{rmse, per_group, baseline_rmse, baseline_per_group, n_groups, held_out, skipped, points}``: ``n_groups``
    distinct groups, ``held_out`` of them predicted; groups whose remainder cannot be fitted are listed in ``skipped``
    with the reason; ``points`` holds per held-out group its points' ``observed``, ``predicted`` and ``baseline``
    accuracies and ``rl_step``. FitError when no group can be held out.
    """
    groups = _groups(pts, scheme)
    labels = np.unique(groups)
    points, skipped = {}, {}
    for g in labels:
        hold = groups == g
        label = str(g) if scheme == "loso" else f"{float(g):.4g}"
        train, test = pts.subset(~hold), pts.subset(hold)
        try:
            fit = form.fit(train, delta=delta, error_floor=error_floor)
        except FitError as exc:
            skipped[label] = str(exc)
            continue
        points[label] = {
            "observed": test.y.tolist(),
            "predicted": np.clip(form.predict_points(fit, test), 0.0, 1.0).tolist(),
            "baseline": baseline_predict(train, test).tolist(),
            "rl_step": _steps(test).tolist(),
        }
    if not points:
        raise FitError(f"{scheme} ({form.name}): no group could be held out ({skipped})")
    resid = {k: np.subtract(p["predicted"], p["observed"]) for k, p in points.items()}
    base = {k: np.subtract(p["baseline"], p["observed"]) for k, p in points.items()}
    return {
        "rmse": _rmse(np.concatenate(list(resid.values()))),
        "per_group": {k: _rmse(r) for k, r in resid.items()},
        "baseline_rmse": _rmse(np.concatenate(list(base.values()))),
        "baseline_per_group": {k: _rmse(r) for k, r in base.items()},
        "n_groups": len(labels),
        "held_out": len(points),
        "skipped": skipped,
        "points": points,
    }


def cross_validate(form: JointForm, pts: StudyPoints, *, delta: float, error_floor: float) -> dict:
    """Both schemes for one form: ``{loso: {status: ok, ...} | {status: failed, reason}, lobo: ...}``."""
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
