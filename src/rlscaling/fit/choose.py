"""Which joint law the data identify: each form against the no-law baseline, the choice, and the forms within noise.

A form is *identified* when, on every cross-validation scheme that held out at least ``MIN_GROUPS`` groups (and on at
least one), its held-out RMSE beats the no-law baseline's (:data:`.crossval.BASELINE`) with bootstrap support: the
ratio ``RMSE_law / RMSE_baseline`` over the held-out points, recomputed on ``GROUP_BOOT`` resamples of the held-out
groups (with replacement, the law and the baseline on the same groups), has its one-sided upper limit (the ``ci``
percentile, e.g. the 95th: a one-sided test at level 1 - ci) below ``1 - MIN_IMPROVEMENT``. With 2 groups that limit
is the ratio of the group where the law does worst (a law must beat the baseline on both); with 3, the ratio of
the worst group counted twice with one other.

The chosen form is the identified one with the lowest mean held-out RMSE over the schemes every identified form ran
on at least ``MIN_GROUPS`` groups; none identified: no law (``fits.json`` says why, no plan is made). Forms *within
noise* of the chosen one are the identified forms whose ratio of that score to the chosen one's has its lower ``ci``
percentile limit at or below 1 over the same group resamples: the data cannot tell them apart, and the allocation
reports the spread of their plans. Errors are accuracy fractions.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

MIN_GROUPS = 2  # held-out groups a scheme needs before its error counts as evidence
MIN_IMPROVEMENT = 0.05  # a law's held-out RMSE must be below (1 - this) x the baseline's, at the bootstrap limit
GROUP_BOOT = 2000  # resamples of the held-out groups
BASELINE_SHORT = "the mean of the other groups at the same RL step"
SELECTION_RULE = (
    f"a form is identified when, on every cross-validation scheme with >= {MIN_GROUPS} held-out groups (and at least "
    f"one), the one-sided upper bootstrap limit (held-out groups resampled) of its held-out RMSE over the no-law "
    f"baseline's is below {1 - MIN_IMPROVEMENT:g}; the chosen form is the identified one with the lowest mean "
    "leave-one-size-out / leave-one-budget-out RMSE on accuracy over the schemes every identified form ran; none "
    "identified: no law and no plan"
)


def _usable(cv: Mapping) -> bool:
    return cv.get("status") == "ok" and cv.get("held_out", 0) >= MIN_GROUPS


def _sse(points: Mapping[str, Mapping], key: str, groups) -> np.ndarray:
    """Sum of squared errors of ``key`` (predicted or baseline) per held-out group, in ``groups`` order."""
    return np.array([np.sum(np.subtract(points[g][key], points[g]["observed"]) ** 2) for g in groups])


def _resampled(n_groups: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, n_groups, size=(GROUP_BOOT, n_groups))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(a / b)


def _rng(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 2302, tag])


def versus_baseline(cv: Mapping, ci: float, seed: int) -> dict:
    """One scheme of :func:`.crossval.cross_validate`: law vs baseline RMSE, their ratio with its CI over resampled
    held-out groups, and ``supported`` (the upper limit below ``1 - MIN_IMPROVEMENT``); ``eligible`` False (with the
    reason) when the scheme failed or held out fewer than ``MIN_GROUPS`` groups."""
    if cv.get("status") != "ok":
        return {"eligible": False, "reason": f"could not run ({cv.get('reason')})"}
    if cv["held_out"] < MIN_GROUPS:
        return {
            "eligible": False,
            "held_out": cv["held_out"],
            "reason": f"{cv['held_out']} held-out group(s) of {cv['n_groups']}; needs >= {MIN_GROUPS}",
        }
    groups = sorted(cv["points"])
    law, base = _sse(cv["points"], "predicted", groups), _sse(cv["points"], "baseline", groups)
    idx = _resampled(len(groups), _rng(seed, 0))
    draws = _ratio(law[idx].sum(axis=1), base[idx].sum(axis=1))
    draws = np.where(np.isnan(draws), np.inf, draws)  # a perfect baseline: the law cannot beat it
    ratio = float(_ratio(law.sum(), base.sum())) if base.sum() > 0 else float("inf")
    low, high = (float(np.quantile(draws, q)) for q in ((1 - ci) / 2, (1 + ci) / 2))
    limit = float(np.quantile(draws, ci))
    return {
        "eligible": True,
        "held_out": cv["held_out"],
        "law_rmse": cv["rmse"],
        "baseline_rmse": cv["baseline_rmse"],
        "ratio": ratio,
        "ratio_ci": [low, high],
        "ratio_upper": limit,
        "supported": bool(limit < 1 - MIN_IMPROVEMENT),
    }


def identification(cv: Mapping[str, Mapping], ci: float, seed: int) -> dict:
    """``{identified, reason, schemes: {scheme: versus_baseline}}`` for one form's cross-validation."""
    schemes = {s: versus_baseline(v, ci, seed) for s, v in cv.items()}
    eligible = {s: v for s, v in schemes.items() if v["eligible"]}
    if not eligible:
        why = "; ".join(f"{s}: {v['reason']}" for s, v in schemes.items())
        return {"identified": False, "reason": f"no cross-validation scheme is evidence ({why})", "schemes": schemes}
    failed = {s: v for s, v in eligible.items() if not v["supported"]}
    if failed:
        why = "; ".join(
            f"{s}: held-out RMSE {v['law_rmse']:.4f} vs baseline {v['baseline_rmse']:.4f}, ratio {v['ratio']:.3g}, "
            f"one-sided {100 * ci:g}% upper limit {v['ratio_upper']:.3g} (needs < {1 - MIN_IMPROVEMENT:g})"
            for s, v in failed.items()
        )
        return {
            "identified": False,
            "reason": f"does not beat the no-law baseline by {100 * MIN_IMPROVEMENT:g}% with bootstrap support ({why})",
            "schemes": schemes,
        }
    return {"identified": True, "reason": None, "schemes": schemes}


def choose_form(cv: Mapping[str, Mapping]) -> tuple[str | None, dict]:
    """The form with the lowest mean CV RMSE over the schemes that every form in ``cv`` ran on >= ``MIN_GROUPS``
    held-out groups. ``cv``: form -> :func:`.crossval.cross_validate` output. Returns (form or None,
    ``{schemes, scores, reason}``)."""
    if not cv:
        return None, {"schemes": [], "scores": {}, "reason": "no form could be fitted and cross-validated"}
    schemes = [s for s in next(iter(cv.values())) if all(_usable(v[s]) for v in cv.values())]
    if not schemes:
        return None, {
            "schemes": [],
            "scores": {},
            "reason": f"no cross-validation scheme held out >= {MIN_GROUPS} groups for every form "
            "(needs >= 3 sizes or >= 3 budgets)",
        }
    scores = {f: float(np.mean([v[s]["rmse"] for s in schemes])) for f, v in cv.items()}
    best = min(scores, key=lambda f: (scores[f], f))
    return best, {"schemes": schemes, "scores": scores, "reason": None}


def within_noise(cv: Mapping[str, Mapping], best: str, schemes: list[str], ci: float, seed: int) -> list[str]:
    """The forms of ``cv`` (``best`` first) whose mean held-out RMSE over ``schemes`` is not clearly above ``best``'s:
    the lower ``ci`` limit of their ratio over resampled held-out groups (groups both forms held out) is <= 1."""
    out = [best]
    for form in sorted(f for f in cv if f != best):
        mine, theirs = [], []
        for k, s in enumerate(schemes):
            a, b = cv[form][s]["points"], cv[best][s]["points"]
            groups = sorted(set(a) & set(b))
            idx = _resampled(len(groups), _rng(seed, 1 + k))
            mine.append(np.sqrt(_sse(a, "predicted", groups)[idx].sum(axis=1) / _n(a, groups)[idx].sum(axis=1)))
            theirs.append(np.sqrt(_sse(b, "predicted", groups)[idx].sum(axis=1) / _n(b, groups)[idx].sum(axis=1)))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.mean(mine, axis=0) / np.mean(theirs, axis=0)
        if float(np.quantile(np.where(np.isnan(ratio), np.inf, ratio), (1 - ci) / 2)) <= 1.0:
            out.append(form)
    return out


def _n(points: Mapping[str, Mapping], groups) -> np.ndarray:
    return np.array([len(points[g]["observed"]) for g in groups], dtype=float)


def select_law(cv: Mapping[str, Mapping], ci: float, seed: int) -> dict:
    """Identification of every cross-validated form, the choice, the best form (for the held-out figure even when no
    law is identified) and the forms within noise of the chosen one. ``cv``: form -> cross-validation (forms that
    could not be fitted are left out by the caller)."""
    ident = {f: identification(v, ci, seed) for f, v in cv.items()}
    identified = {f: v for f, v in cv.items() if ident[f]["identified"]}
    best, overall = choose_form(cv)
    chosen, choice = choose_form(identified)
    near = within_noise(identified, chosen, choice["schemes"], ci, seed) if chosen else []
    reason = None
    if chosen is None:
        if not cv:
            reason = "no joint form could be fitted and cross-validated"
        elif identified:
            reason = f"the identified forms {sorted(identified)} share no scheme: {choice['reason']}"
        else:
            reason = (
                f"none of the {len(cv)} cross-validated forms predicts held-out groups better than the no-law baseline "
                f"({BASELINE_SHORT}); "
                + (f"best form {best}: {ident[best]['reason']}" if best else str(overall["reason"]))
            )
    if chosen is None:
        choice = {**choice, "reason": reason}
    return {
        "chosen": chosen,
        "best": best,
        "identification": ident,
        "choice": choice,
        "within_noise": near,
        "no_law_reason": reason,
    }
