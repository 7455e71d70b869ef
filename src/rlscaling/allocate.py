"""Compute-optimal split of a FLOPs budget between pre-training and RL, from the fitted joint law.

For a total budget ``C`` (FLOPs) and pre-training fraction ``f``: ``C_pretrain = f * C`` and
``C_rl = (1 - f) * C``. The optimal ``f`` maximises the joint law's predicted accuracy; its 95% CI is the
percentile interval of the optimum over the bootstrap parameter draws stored in ``fits.json``.

Assumptions (stated in every table row that breaks them):

* the joint law holds outside the fitted range; budgets or splits beyond it are extrapolations and are
  flagged ``extrapolated`` with the reason;
* pre-training compute is interchangeable across model size and tokens (the law sees only C_pretrain),
  so the answer is a compute split, not a model size;
* ``f = 1`` (no RL) is allowed: the law's offset C0 gives the base model's accuracy; ``f`` is searched
  on a grid in [0.001, 1];
* predicted accuracies are clipped to [0, 1] for reporting (the law's error can exceed 1 far below
  the fitted range).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlscaling.fit import FitError, percentile_ci, predict_joint

FRACTIONS = np.linspace(1e-3, 1.0, 1999)


@dataclass(frozen=True)
class JointLaw:
    """The chosen joint law from ``fits.json``: point parameters, bootstrap draws, fitted range (FLOPs)."""

    form: str
    params: dict[str, float]
    draws: np.ndarray            # (D, P) in ``names`` order; may have 0 rows
    names: list[str]
    c_total_range: tuple[float, float]
    c_pretrain_range: tuple[float, float]
    c_rl_max: float
    ci: float = 0.95

    @classmethod
    def from_fits(cls, fits: Mapping) -> JointLaw:
        """Read the chosen form; FitError names what is missing."""
        joint = fits.get("joint_law")
        if not joint:
            raise FitError("fits: no 'joint_law' section")
        form = joint.get("chosen")
        if form is None:
            reasons = {f: v.get("reason") for f, v in joint.get("forms", {}).items()}
            raise FitError(f"fits: no joint form was fitted ({reasons})")
        entry = joint["forms"][form]
        names = list(entry["param_names"])
        params = {n: float(entry[n]) for n in names}
        raw = entry.get("bootstrap_params")
        draws = np.array([] if raw is None else raw, dtype=float).reshape(-1, len(names))
        draws = draws[np.all(np.isfinite(draws), axis=1)]
        rng = joint["fitted_range"]
        return cls(form, params, draws, names, tuple(rng["c_total"]), tuple(rng["c_pretrain"]),
                   float(rng["c_rl"][1]), float(fits.get("bootstrap", {}).get("ci", 0.95)))

    def draw_params(self) -> list[dict[str, float]]:
        return [dict(zip(self.names, row)) for row in self.draws]


def accuracy_vs_fraction(params: Mapping[str, float], budget: float,
                         fractions: np.ndarray = FRACTIONS) -> np.ndarray:
    """Predicted accuracy (fraction, unclipped) at each pre-training fraction of ``budget`` FLOPs."""
    return predict_joint(params, fractions * budget, (1.0 - fractions) * budget)


def optimal_fraction(params: Mapping[str, float], budget: float,
                     fractions: np.ndarray = FRACTIONS) -> tuple[float, float]:
    """(f*, accuracy at f*) for one parameter set and budget (FLOPs)."""
    if not (np.isfinite(budget) and budget > 0):
        raise FitError(f"budget must be a positive number of FLOPs, got {budget!r}")
    acc = accuracy_vs_fraction(params, budget, fractions)
    i = int(np.nanargmax(acc))
    return float(fractions[i]), float(acc[i])


def extrapolation_reason(law: JointLaw, budget: float, fraction: float) -> str | None:
    """Why a budget/split lies outside the fitted data (None when inside)."""
    reasons = []
    lo, hi = law.c_total_range
    if not lo <= budget <= hi:
        reasons.append(f"budget outside fitted total compute [{lo:.3g}, {hi:.3g}] FLOPs")
    c_pre, c_rl = fraction * budget, (1 - fraction) * budget
    if not law.c_pretrain_range[0] <= c_pre <= law.c_pretrain_range[1]:
        reasons.append(f"C_pretrain {c_pre:.3g} outside fitted [{law.c_pretrain_range[0]:.3g}, "
                       f"{law.c_pretrain_range[1]:.3g}]")
    if c_rl > law.c_rl_max:
        reasons.append(f"C_rl {c_rl:.3g} above fitted max {law.c_rl_max:.3g}")
    return "; ".join(reasons) or None


def allocate(law: JointLaw, budget: float) -> dict:
    """Optimal split for one budget: fraction, FLOPs per phase, accuracy, CIs and extrapolation flag."""
    f, acc = optimal_fraction(law.params, budget)
    row = {"budget_flops": float(budget), "f_pretrain": f, "c_pretrain": f * budget,
           "c_rl": (1 - f) * budget, "accuracy": float(np.clip(acc, 0, 1)),
           "f_ci_low": np.nan, "f_ci_high": np.nan, "acc_ci_low": np.nan, "acc_ci_high": np.nan}
    if len(law.draws):
        opts = np.array([optimal_fraction(p, budget) for p in law.draw_params()])
        (f_lo, a_lo), (f_hi, a_hi) = percentile_ci(opts, law.ci)
        row.update(f_ci_low=float(f_lo), f_ci_high=float(f_hi),
                   acc_ci_low=float(np.clip(a_lo, 0, 1)), acc_ci_high=float(np.clip(a_hi, 0, 1)))
    reason = extrapolation_reason(law, budget, f)
    row.update(extrapolated=reason is not None, note=reason or "")
    return row


def default_budgets(law: JointLaw, n: int = 9, beyond: float = 1e3) -> np.ndarray:
    """Log-spaced budgets from the smallest fitted total compute to ``beyond`` x the largest (FLOPs)."""
    lo, hi = law.c_total_range
    return np.logspace(np.log10(lo), np.log10(hi * beyond), n)


def allocation_table(law: JointLaw, budgets: Sequence[float] | None = None) -> pd.DataFrame:
    """One row per budget (FLOPs): optimal pre-training fraction with CI, accuracy with CI, flags."""
    budgets = default_budgets(law) if budgets is None or len(budgets) == 0 else np.asarray(budgets, float)
    return pd.DataFrame([allocate(law, b) for b in budgets])


def iso_flop_curves(law: JointLaw, budgets: Sequence[float],
                    fractions: np.ndarray = FRACTIONS) -> pd.DataFrame:
    """Long table (budget_flops, f_pretrain, accuracy) of predicted accuracy vs fraction per budget."""
    parts = [pd.DataFrame({"budget_flops": float(b), "f_pretrain": fractions,
                           "accuracy": np.clip(accuracy_vs_fraction(law.params, b, fractions), 0, 1)})
             for b in budgets]
    return pd.concat(parts, ignore_index=True)
