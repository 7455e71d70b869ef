"""Paired comparisons of each GRPO sweep variant with the reference run of the same cell (issue 22).

A variant's run (``grpo.sweeps``: e.g. ``kl_coef=0.01``) and its reference run share the cell (model, replicate
seed, pre-training budget, reward mode), their RL seed and their evaluation items, so each comparison is paired:
at every RL step both runs saved (the final step of the shorter run among them), on every benchmark / scorer / shots /
subset of ``records.parquet``, the per-item difference ``variant - reference`` is averaged over the items both
scored and its CI is the percentile bootstrap over those items (:func:`rlscaling.metrics.item_bootstrap_means`: one
draw of item counts shared by both columns), with ``fit.bootstrap`` replicates, ``fit.seed`` and ``fit.ci``
(:class:`rlscaling.analysis.gains.GainSettings`). The seed-mean records (``seed == "mean"``) are compared too.

Units: ``reference_accuracy`` / ``variant_accuracy`` are fractions in [0, 1] over the paired items; ``delta_pp``,
``ci_low_pp``, ``ci_high_pp`` are percentage points (100 x fraction). ``verdict``: ``above 0`` / ``below 0`` when
the whole CI lies on that side of 0, ``around 0`` otherwise (``no CI`` without bootstrap replicates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlscaling.analysis.gains import GainSettings
from rlscaling.metrics import item_bootstrap_means, percentile_ci
from rlscaling.schemas import REFERENCE_VARIANT, validate_records

RUN_KEYS = ["model", "seed", "pretrain_tokens", "reward_mode"]
"""What identifies a cell's runs apart from their variant (a variant is paired with the reference run of these)."""
SELECTION_KEYS = ["benchmark", "scorer", "shots", "subset"]
COMPARISON_COLUMNS = [
    "sweep_key",
    "variant",
    *RUN_KEYS,
    "rl_step",
    "final_step",
    *SELECTION_KEYS,
    "n_items",
    "reference_accuracy",
    "variant_accuracy",
    "delta_pp",
    "ci_low_pp",
    "ci_high_pp",
    "verdict",
]
"""Columns of ``variant_comparisons.csv``: one row per (variant, cell, shared RL step, benchmark/scorer/shots/subset);
``final_step`` is True at the final step of the shorter of the two runs (the step a summary table reports)."""


def sweep_key(variant: str) -> str:
    """The GRPO setting a variant label changes: ``kl_coef`` of ``kl_coef=0.01``."""
    return variant.split("=", 1)[0]


def verdict(low: float, high: float) -> str:
    """``above 0`` / ``below 0`` when the CI (pp) excludes 0 on that side, ``around 0`` when it holds 0."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no CI"
    return "above 0" if low > 0 else "below 0" if high < 0 else "around 0"


def paired_difference(reference, variant, settings: GainSettings = GainSettings()) -> tuple[float, float, float]:
    """``(delta_pp, ci_low_pp, ci_high_pp)`` of ``mean(variant - reference)`` over paired items (two equal-length
    score arrays in [0, 1], item by item): the paired item bootstrap of :mod:`rlscaling.metrics`."""
    scores = np.column_stack([np.asarray(reference, dtype=float), np.asarray(variant, dtype=float)])
    delta = 100.0 * float(scores[:, 1].mean() - scores[:, 0].mean())
    if settings.n_boot <= 0 or len(scores) == 0:
        return delta, float("nan"), float("nan")
    draws = item_bootstrap_means(scores, settings.n_boot, settings.seed)
    low, high = percentile_ci(100.0 * (draws[:, 1] - draws[:, 0]), settings.ci)
    return delta, float(low), float(high)


def _final_steps(records: pd.DataFrame) -> pd.Series:
    """The last RL step of each (run keys, variant) in ``records``."""
    return records.groupby([*RUN_KEYS, "variant"])["rl_step"].max()


def variant_comparisons(records: pd.DataFrame, settings: GainSettings = GainSettings()) -> pd.DataFrame:
    """The comparison table (:data:`COMPARISON_COLUMNS`) of every sweep variant in ``records`` (per-item records,
    every variant) with its reference run; empty (the columns only) when ``records`` holds no variant. Rows are
    ordered by sweep key, variant, cell, step and selection; see the module docstring for the numbers."""
    recs = validate_records(records)
    recs = recs[recs["rl_step"] > 0]  # the base model is shared by every variant: nothing to compare
    reference = recs[recs["variant"] == REFERENCE_VARIANT]
    variants = recs[recs["variant"] != REFERENCE_VARIANT]
    if variants.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    keys = [*RUN_KEYS, "rl_step", *SELECTION_KEYS, "item_id"]
    ref_scores = reference.groupby(keys, as_index=False)["score"].mean()
    var_scores = variants.groupby([*keys, "variant"], as_index=False)["score"].mean()
    paired = var_scores.merge(ref_scores, on=keys, suffixes=("_variant", "_reference"))
    finals = _final_steps(recs)
    rows = []
    for group, items in paired.groupby(["variant", *RUN_KEYS, "rl_step", *SELECTION_KEYS], sort=True):
        variant, cell, step, selection = group[0], group[1:5], group[5], group[6:]
        items = items.sort_values("item_id")
        delta, low, high = paired_difference(items["score_reference"], items["score_variant"], settings)
        shorter = min(finals[(*cell, variant)], finals[(*cell, REFERENCE_VARIANT)])
        rows.append(
            {
                "sweep_key": sweep_key(variant),
                "variant": variant,
                **dict(zip(RUN_KEYS, cell)),
                "rl_step": int(step),
                "final_step": bool(step == shorter),
                **dict(zip(SELECTION_KEYS, selection)),
                "n_items": len(items),
                "reference_accuracy": float(items["score_reference"].mean()),
                "variant_accuracy": float(items["score_variant"].mean()),
                "delta_pp": delta,
                "ci_low_pp": low,
                "ci_high_pp": high,
                "verdict": verdict(low, high),
            }
        )
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    order = ["sweep_key", "variant", *RUN_KEYS, "rl_step", *SELECTION_KEYS]
    return table.sort_values(order, kind="stable").reset_index(drop=True)


def write_variant_comparisons(records_path, fit_settings, out_path) -> pd.DataFrame:
    """Read ``records.parquet``, compare every variant with its reference (``fit_settings``: the config's ``fit``
    section, ``bootstrap`` / ``seed`` / ``ci``) and write the table atomically to ``out_path``; returns it."""
    from rlscaling.io import write_csv

    table = variant_comparisons(pd.read_parquet(records_path), GainSettings.from_fit(fit_settings))
    write_csv(out_path, table)
    return table


def read_variant_comparisons(path) -> pd.DataFrame:
    """``variant_comparisons.csv`` as written (typed columns: ``seed`` text, ``final_step`` bool)."""
    table = pd.read_csv(path, dtype={"seed": str, "variant": str, "sweep_key": str})
    table["final_step"] = table["final_step"].astype(str).str.lower() == "true"
    return table
