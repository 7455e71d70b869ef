"""Compute-optimal split of a total FLOPs budget between pre-training (N, D) and RL, from the fitted joint law.

For a budget ``C`` (FLOPs) and pre-training fraction ``f``: ``C_pretrain = 6 (N + H) D = f C`` and
``C_rl = (1 - f) C``, with ``H`` the output head's parameters at size ``N`` (``fits.json``'s
``joint_law.head_params``, interpolated in log N: the accounting of ``summary.csv``, :mod:`rlscaling.compute`; none
recorded: ``H = 0``). With a law that separates size from tokens (``size_tokens_*``) the best (N, D) at each
``C_pretrain`` is the Chinchilla optimum of its pre-training term (closed form without a head, a 1-D solve with
one), and ``f`` is searched on a grid in [0.001, 1]; the optimum
maximises the predicted accuracy. CIs are percentile intervals of the optimum over the bootstrap parameter
draws stored in ``fits.json``.

Assumptions (stated in every table row that breaks them):

* the law holds outside the fitted range; a budget, N, D, C_pretrain or C_rl beyond it is an extrapolation,
  flagged ``extrapolated`` with the reason in ``note``;
* a compute-only law (``additive``/``interaction``) sees pre-training only through C_pretrain, so N and D are
  left empty (NaN) and only the fraction is answered;
* ``f = 1`` (no RL) is allowed; predicted accuracies are clipped to [0, 1] for reporting;
* an optimum on the edge of what was searched (f at an end of the grid, N at an end of the fitted size range) is
  flagged ``at_edge``: the true optimum may lie beyond it;
* the forms the data cannot tell apart from the allocation form (``fits.json``'s ``allocation_within_noise``) each
  give their own optimal fraction: ``f_forms_low`` .. ``f_forms_high`` is that spread (the uncertainty of the choice
  of law, beside the bootstrap CI of the allocation form's own parameters).

No identified law (``fits.json``'s ``joint_law.identified`` false): :meth:`JointLaw.from_fits` raises
:class:`~rlscaling.fit.common.NoLawError` with the reason, and no plan is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rlscaling.compute import HeadParams, pretrain_tokens
from rlscaling.fit.common import FitError, NoLawError, percentile_ci
from rlscaling.fit.laws import JointForm, get_form

FRACTIONS = np.linspace(1e-3, 1.0, 1999)
SIZE_CURVE_FRACTIONS = np.linspace(1e-3, 1.0, 500)  # coarser: one search per model size
OPTIMUM_KEYS = ("f_pretrain", "n_params", "pretrain_tokens", "c_rl", "accuracy")
ALLOCATION_COLUMNS = [
    "budget_flops",
    "f_pretrain",
    "c_pretrain",
    "c_rl",
    "accuracy",
    "f_ci_low",
    "f_ci_high",
    "acc_ci_low",
    "acc_ci_high",
    "n_params",
    "n_ci_low",
    "n_ci_high",
    "pretrain_tokens",
    "d_ci_low",
    "d_ci_high",
    "c_rl_ci_low",
    "c_rl_ci_high",
    "form",
    "forms_within_noise",
    "f_forms_low",
    "f_forms_high",
    "extrapolated",
    "at_edge",
    "note",
]
ISO_FLOP_COLUMNS = ["curve", "budget_flops", "f_pretrain", "n_params", "pretrain_tokens", "c_rl", "accuracy"]


@dataclass(frozen=True)
class JointLaw:
    """The allocation form from ``fits.json``: point parameters, bootstrap draws, fitted ranges (N, D, FLOPs)."""

    form: str
    params: dict[str, float]
    draws: np.ndarray  # (B, P) in ``names`` order; may have 0 rows
    names: list[str]
    fitted_range: dict[str, tuple[float, float]]
    ci: float = 0.95
    note: str | None = None
    alternatives: dict[str, dict[str, float]] = field(default_factory=dict)  # other forms within noise: parameters
    heads: HeadParams | None = None  # H at any N, from fits.json's joint_law.head_params ([[N, H], ...])

    def head_params_at(self, n_params) -> np.ndarray:
        """The output head's parameters H at size(s) N (interpolated in log N between the study's models,
        :class:`rlscaling.compute.HeadParams`); 0 when ``fits.json`` records no ``head_params``."""
        n = np.asarray(n_params, dtype=float)
        return np.zeros_like(n) if self.heads is None else self.heads.at(n)

    @classmethod
    def from_fits(cls, fits: Mapping) -> JointLaw:
        """Read ``joint_law.allocation_form`` (else ``chosen``) and the forms within noise of it; NoLawError with the
        fit's reason when no law was identified, FitError naming what else is missing."""
        joint = fits.get("joint_law")
        if not joint:
            raise FitError("fits: no 'joint_law' section")
        form = joint.get("allocation_form", joint.get("chosen"))
        if form is None or joint.get("identified") is False:
            why = joint.get("no_law_reason") or (joint.get("choice") or {}).get("reason")
            if not why:
                reasons = {f: v.get("reason") for f, v in joint.get("forms", {}).items() if v.get("reason")}
                why = f"no joint form was fitted ({reasons})"
            raise NoLawError(f"no law identified: {why}")
        entry = joint["forms"][form]
        names = list(entry["param_names"])
        raw = entry.get("bootstrap_params")
        draws = np.array([] if raw is None else raw, dtype=float).reshape(-1, len(names))
        draws = draws[np.all(np.isfinite(draws), axis=1)]
        ranges = {k: (float(v[0]), float(v[1])) for k, v in joint["fitted_range"].items()}
        return cls(
            form,
            {n: float(entry[n]) for n in names},
            draws,
            names,
            ranges,
            float(fits.get("bootstrap", {}).get("ci", 0.95)),
            joint.get("allocation_note"),
            {
                f: {n: float(joint["forms"][f][n]) for n in joint["forms"][f]["param_names"]}
                for f in joint.get("allocation_within_noise", joint.get("within_noise")) or []
                if f != form and f in joint.get("forms", {})
            },
            HeadParams.from_models(dict(joint["head_params"])) if joint.get("head_params") else None,
        )

    @property
    def law(self) -> JointForm:
        return get_form(self.form)

    @property
    def c_total_range(self) -> tuple[float, float]:
        return self.fitted_range["c_total"]

    def draw_params(self) -> list[dict[str, float]]:
        return [dict(zip(self.names, row)) for row in self.draws]


def split_curve(
    form: JointForm,
    params: Mapping[str, float],
    budget: float,
    fractions: np.ndarray = FRACTIONS,
    n_bounds: tuple[float, float] | None = None,
    heads: HeadParams | None = None,
) -> dict[str, np.ndarray]:
    """Along the pre-training fraction: N* (parameters), D* (tokens; NaN for compute-only laws), C_rl (FLOPs) and
    accuracy. ``n_bounds``: the sizes (parameters) a ``transition_nd`` form may choose from (the fitted range);
    ``heads``: the output head's parameters H at any N, so ``6 (N* + H(N*)) D* = f C`` (None: H = 0; the same
    accounting as :func:`size_curve`, :attr:`JointLaw.heads`)."""
    if not (np.isfinite(budget) and budget > 0):
        raise FitError(f"budget must be a positive number of FLOPs, got {budget!r}")
    c_pre, c_rl = fractions * budget, (1.0 - fractions) * budget
    if form.separates_size:
        n, d = form.optimal_size(params, c_pre, c_rl, n_bounds, heads)
        acc = form.predict(params, n=n, d=d, c_rl=c_rl)
    else:
        n = d = np.full(len(fractions), np.nan)
        acc = form.predict(params, c_pre=c_pre, c_rl=c_rl)
    return {"f_pretrain": fractions, "n_params": n, "pretrain_tokens": d, "c_rl": c_rl, "accuracy": acc}


def optimum(
    form: JointForm,
    params: Mapping[str, float],
    budget: float,
    fractions: np.ndarray = FRACTIONS,
    n_bounds: tuple[float, float] | None = None,
    heads: HeadParams | None = None,
) -> dict[str, float]:
    """The accuracy-maximising point of :func:`split_curve` (keys ``OPTIMUM_KEYS``)."""
    curve = split_curve(form, params, budget, fractions, n_bounds, heads)
    with np.errstate(invalid="ignore"):
        i = int(np.nanargmax(np.where(np.isfinite(curve["accuracy"]), curve["accuracy"], -np.inf)))
    return {k: float(curve[k][i]) for k in OPTIMUM_KEYS}


def optimal_fraction(
    params: Mapping[str, float], budget: float, form: str = "additive", fractions: np.ndarray = FRACTIONS
) -> tuple[float, float]:
    """(f*, accuracy at f*) for one parameter set and budget (FLOPs)."""
    best = optimum(get_form(form), params, budget, fractions)
    return best["f_pretrain"], best["accuracy"]


def extrapolation_reason(law: JointLaw, budget: float, best: Mapping[str, float]) -> str | None:
    """Why a budget or its optimum lies outside the fitted data (None when inside)."""
    f = best["f_pretrain"]
    checks = [
        ("budget", budget, "c_total", "FLOPs"),
        ("C_pretrain", f * budget, "c_pretrain", "FLOPs"),
        ("N", best["n_params"], "n_params", "parameters"),
        ("D", best["pretrain_tokens"], "pretrain_tokens", "tokens"),
    ]
    reasons = []
    for label, value, key, unit in checks:
        lo, hi = law.fitted_range.get(key, (np.nan, np.nan))
        if np.isfinite(value) and not lo * (1 - 1e-9) <= value <= hi * (1 + 1e-9):
            reasons.append(f"{label} {value:.3g} outside fitted [{lo:.3g}, {hi:.3g}] {unit}")
    c_rl_max = law.fitted_range["c_rl"][1]
    if best["c_rl"] > c_rl_max * (1 + 1e-9):
        reasons.append(f"C_rl {best['c_rl']:.3g} above fitted max {c_rl_max:.3g} FLOPs")
    return "; ".join(reasons) or None


def allocate(law: JointLaw, budget: float) -> dict:
    """Optimal split for one budget: fraction, N, D, FLOPs per phase, accuracy, CIs and the extrapolation flag."""
    n_bounds = law.fitted_range.get("n_params")
    best = optimum(law.law, law.params, budget, n_bounds=n_bounds, heads=law.heads)
    row = {
        "budget_flops": float(budget),
        "f_pretrain": best["f_pretrain"],
        "c_pretrain": best["f_pretrain"] * budget,
        "c_rl": best["c_rl"],
        "accuracy": float(np.clip(best["accuracy"], 0, 1)),
        "n_params": best["n_params"],
        "pretrain_tokens": best["pretrain_tokens"],
        "form": law.form,
    }
    bounds = {"f": "f_pretrain", "acc": "accuracy", "n": "n_params", "d": "pretrain_tokens", "c_rl": "c_rl"}
    for short in bounds:
        row[f"{short}_ci_low"] = row[f"{short}_ci_high"] = np.nan
    if len(law.draws):
        opts = np.array(
            [
                [o[k] for k in bounds.values()]
                for o in (optimum(law.law, p, budget, n_bounds=n_bounds, heads=law.heads) for p in law.draw_params())
            ]
        )
        for (short, key), lo, hi in zip(bounds.items(), *percentile_ci(opts, law.ci)):
            clip = (0.0, 1.0) if key == "accuracy" else (-np.inf, np.inf)
            row[f"{short}_ci_low"], row[f"{short}_ci_high"] = float(np.clip(lo, *clip)), float(np.clip(hi, *clip))
    notes = [r for r in (extrapolation_reason(law, budget, best),) if r]
    row["extrapolated"] = bool(notes)
    edge = edge_reason(law, best)
    row["at_edge"] = edge is not None
    notes += [edge] if edge else []
    row.update(form_spread(law, budget, best["f_pretrain"]))
    if law.alternatives:
        notes.append(
            f"{len(law.alternatives) + 1} forms within noise of each other: f* from {row['f_forms_low']:.3g} "
            f"to {row['f_forms_high']:.3g}"
        )
    if not law.law.separates_size:
        notes.append("law sees only C_pretrain: N and D not determined")
    row["note"] = "; ".join(notes)
    return {k: row[k] for k in ALLOCATION_COLUMNS}


def edge_reason(law: JointLaw, best: Mapping[str, float], fractions: np.ndarray = FRACTIONS) -> str | None:
    """Why an optimum lies on the edge of what was searched (None when inside): the pre-training fraction at an end
    of ``fractions``, or N at an end of the fitted size range (parameters) -- the true optimum may lie beyond it."""
    reasons = []
    f = best["f_pretrain"]
    if f <= fractions[0]:
        reasons.append(f"f* at the smallest searched fraction {fractions[0]:g} (almost all compute to RL)")
    if f >= fractions[-1]:
        reasons.append("f* = 1: no RL compute at the optimum")
    lo, hi = law.fitted_range.get("n_params", (np.nan, np.nan))
    n = best["n_params"]
    for label, end in (("smallest", lo), ("largest", hi)):
        if np.isfinite(n) and np.isclose(n, end, rtol=1e-6):
            reasons.append(f"N* at the {label} fitted size {end:.3g} parameters")
    return "optimum at the edge: " + "; ".join(reasons) if reasons else None


def form_spread(law: JointLaw, budget: float, f_best: float) -> dict:
    """The forms within noise of the allocation form (``;``-joined, the allocation form first) and the range of
    their optimal pre-training fractions at ``budget`` FLOPs (NaN when no other form is within noise)."""
    n_bounds = law.fitted_range.get("n_params")
    fs = [f_best] + [
        optimum(get_form(name), params, budget, n_bounds=n_bounds, heads=law.heads)["f_pretrain"]
        for name, params in law.alternatives.items()
    ]
    spread = (min(fs), max(fs)) if law.alternatives else (np.nan, np.nan)
    return {
        "forms_within_noise": ";".join([law.form, *law.alternatives]),
        "f_forms_low": float(spread[0]),
        "f_forms_high": float(spread[1]),
    }


def default_budgets(law: JointLaw, n: int = 9, beyond: float = 1e3) -> np.ndarray:
    """Log-spaced budgets from the smallest fitted total compute to ``beyond`` x the largest (FLOPs)."""
    lo, hi = law.c_total_range
    return np.logspace(np.log10(lo), np.log10(hi * beyond), n)


def allocation_table(law: JointLaw, budgets: Sequence[float] | None = None) -> pd.DataFrame:
    """One row per budget (FLOPs), columns ``ALLOCATION_COLUMNS``."""
    budgets = default_budgets(law) if budgets is None or len(budgets) == 0 else np.asarray(budgets, float)
    return pd.DataFrame([allocate(law, b) for b in budgets], columns=ALLOCATION_COLUMNS)


def size_curve(
    law: JointLaw, budget: float, sizes: np.ndarray | None = None, fractions: np.ndarray = SIZE_CURVE_FRACTIONS
) -> dict[str, np.ndarray]:
    """Accuracy vs model size N at a fixed budget, each N with its best pre-training fraction (D = f C / 6(N + H),
    H the output head's parameters at N: :meth:`JointLaw.head_params_at`)."""
    form = law.law
    if not form.separates_size:
        raise FitError(f"{law.form}: a compute-only law has no size curve")
    if sizes is None:
        lo, hi = law.fitted_range["n_params"]
        n_opt = optimum(form, law.params, budget, n_bounds=(lo, hi), heads=law.heads)["n_params"]
        sizes = np.logspace(np.log10(min(lo, n_opt)) - 1, np.log10(max(hi, n_opt)) + 1, 160)
    n = np.asarray(sizes, dtype=float)[:, None]
    c_pre = fractions[None, :] * budget
    head = law.head_params_at(n)  # D = C / (6 (N + H)): the output head's FLOPs counted (rlscaling.compute)
    acc = form.predict(
        law.params, n=n, d=pretrain_tokens(c_pre, n, head_params=head), c_rl=(1 - fractions[None, :]) * budget
    )
    best = np.nanargmax(np.where(np.isfinite(acc), acc, -np.inf), axis=1)
    f = fractions[best]
    return {
        "f_pretrain": f,
        "n_params": n[:, 0],
        "pretrain_tokens": pretrain_tokens(f * budget, n[:, 0], head_params=head[:, 0]),
        "c_rl": (1 - f) * budget,
        "accuracy": acc[np.arange(len(n)), best],
    }


def iso_flop_curves(law: JointLaw, budgets: Sequence[float], fractions: np.ndarray = FRACTIONS) -> pd.DataFrame:
    """Long table (``ISO_FLOP_COLUMNS``): accuracy along the fraction (``curve = fraction``) and, for laws that
    separate size from tokens, along N (``curve = size``), per budget (FLOPs); accuracy clipped to [0, 1]."""
    parts = []
    for b in budgets:
        n_bounds = law.fitted_range.get("n_params")
        curves = {"fraction": split_curve(law.law, law.params, float(b), fractions, n_bounds, law.heads)}
        if law.law.separates_size:
            curves["size"] = size_curve(law, float(b))
        for name, c in curves.items():
            parts.append(pd.DataFrame({"curve": name, "budget_flops": float(b), **c}))
    if not parts:
        return pd.DataFrame(columns=ISO_FLOP_COLUMNS)
    out = pd.concat(parts, ignore_index=True)[ISO_FLOP_COLUMNS]
    out["accuracy"] = out["accuracy"].clip(0, 1)
    return out
