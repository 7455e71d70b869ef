"""RL gains: baseline vs final-checkpoint accuracy per model, and the paired item-bootstrap CI of each gain.

The one gain computation of the project: ``fits.json`` (the gain power law's points), ``summary.md`` (the gain
tables) and the gain figure all read it, with the config's ``fit.bootstrap``, ``fit.seed`` and ``fit.ci``
(:class:`GainSettings`), so one gain has one interval everywhere.

Units: accuracies are fractions in [0, 1]; gains and their CIs are percentage points (pp, 100 x fraction).

The CI resamples the items of one benchmark/scorer/shots/subset with replacement
(:func:`rlscaling.metrics.item_bootstrap_means`): every replicate draws one set of item counts that all checkpoints
of all models share, and a replicate's gain is the final minus the base accuracy on those items. The replicates
depend only on the number of items, ``n_boot`` and ``seed``, so the fit (which bootstraps every checkpoint of its
selection) and this table (base and final checkpoints only) get the same interval for the same gain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rlscaling.labels import format_tokens, model_index
from rlscaling.metrics import item_bootstrap_means, percentile_ci
from rlscaling.schemas import validate_records, validate_summary

CONDITION_KEYS = ["model", "pretrain_tokens", "rl_step"]
GAIN_COLUMNS = (
    "model",
    "pretrain_tokens",
    "n_params",
    "final_step",
    "base_accuracy",
    "final_accuracy",
    "gain_pp",
    "gain_ci_low",
    "gain_ci_high",
)
DETAIL_COLUMNS = ("base_ci_low", "base_ci_high", "final_ci_low", "final_ci_high", "n_items", "n_paired")


@dataclass(frozen=True)
class GainSettings:
    """Bootstrap of the gain CIs: ``n_boot`` replicates, ``seed``, two-sided level ``ci`` (0.95 = 95%)."""

    n_boot: int = 1000
    seed: int = 0
    ci: float = 0.95

    @classmethod
    def from_fit(cls, fit: Mapping[str, Any] | None) -> GainSettings:
        """From the config's ``fit`` section (``bootstrap``, ``seed``, ``ci``; defaults where absent)."""
        fit = fit or {}
        return cls(int(fit.get("bootstrap", cls.n_boot)), int(fit.get("seed", cls.seed)), float(fit.get("ci", cls.ci)))


def selection_mask(frame: pd.DataFrame, benchmark: str, scorer: str, shots: int, subset: str) -> pd.Series:
    """Rows of one benchmark/scorer/shots/subset (shots compared numerically; blanks never match)."""
    return (
        (frame["benchmark"] == benchmark)
        & (frame["scorer"] == scorer)
        & (pd.to_numeric(frame["shots"], errors="coerce") == int(shots))
        & (frame["subset"].astype(str) == str(subset))
    )


def item_matrix(records: pd.DataFrame, conditions: pd.DataFrame) -> np.ndarray:
    """``items x conditions`` scores of one selection's records (repeated samples of an item averaged; NaN: not
    scored). ``conditions`` has the :data:`CONDITION_KEYS` columns; ``ValueError`` names conditions without records.
    Items are every item of ``records``, so the bootstrap replicates do not depend on which conditions are asked."""
    table = records.pivot_table(index="item_id", columns=CONDITION_KEYS, values="score", aggfunc="mean")
    keys = pd.MultiIndex.from_frame(conditions[CONDITION_KEYS])
    missing = keys.difference(table.columns)
    if len(missing):
        raise ValueError(f"records: no per-item scores for condition(s) {list(missing)[:3]}")
    return table.reindex(columns=keys).to_numpy(dtype=float)


def gain_draws(acc_draws: np.ndarray, base_pos, final_pos) -> np.ndarray:
    """Bootstrap replicates of gains in pp: ``100 * (acc_draws[:, final_pos] - acc_draws[:, base_pos])``."""
    return 100 * (acc_draws[:, np.asarray(final_pos)] - acc_draws[:, np.asarray(base_pos)])


def _checkpoint_row(rows: pd.DataFrame, step: int, where: str) -> pd.Series | None:
    hit = rows[rows["rl_step"] == step]
    if len(hit) > 1:
        raise ValueError(f"summary has {len(hit)} rows for {where} at RL step {step}")
    return hit.iloc[0] if len(hit) else None


def _gain_row(m, b: pd.Series | None, f: pd.Series | None) -> dict:
    """One table row from a model (``model_index`` row) and its base / final summary rows (None: not evaluated)."""

    def get(row, col):
        return row[col] if row is not None else math.nan

    both = b is not None and f is not None
    return {
        "model": m.model,
        "pretrain_tokens": m.pretrain_tokens,
        "n_params": m.n_params,
        "final_step": int(m.final_step),
        "base_accuracy": get(b, "accuracy"),
        "final_accuracy": get(f, "accuracy"),
        "gain_pp": 100 * float(f["accuracy"] - b["accuracy"]) if both else math.nan,
        "gain_ci_low": math.nan,
        "gain_ci_high": math.nan,
        "base_ci_low": get(b, "ci_low"),
        "base_ci_high": get(b, "ci_high"),
        "final_ci_low": get(f, "ci_low"),
        "final_ci_high": get(f, "ci_high"),
        "n_items": int((f if f is not None else b)["n_items"]),
        "n_paired": 0,
    }


def _add_cis(table: pd.DataFrame, records: pd.DataFrame, where: dict, settings: GainSettings) -> None:
    """Fill ``gain_ci_low/high`` (pp) and ``n_paired`` in place for the rows with both checkpoints."""
    both = table[table["gain_pp"].notna()]
    if both.empty or settings.n_boot <= 0:
        return
    sel = records[selection_mask(records, **where)]
    base = both[["model", "pretrain_tokens"]].assign(rl_step=0)
    final = both[["model", "pretrain_tokens"]].assign(rl_step=both["final_step"])
    scores = item_matrix(sel, pd.concat([base, final], ignore_index=True))
    n = len(both)
    draws = item_bootstrap_means(scores, settings.n_boot, settings.seed)
    low, high = percentile_ci(gain_draws(draws, np.arange(n), np.arange(n, 2 * n)), settings.ci)
    scored = np.isfinite(scores)
    table.loc[both.index, "gain_ci_low"] = low
    table.loc[both.index, "gain_ci_high"] = high
    table.loc[both.index, "n_paired"] = (scored[:, :n] & scored[:, n:]).sum(axis=0)


def gain_table(
    summary: pd.DataFrame,
    records: pd.DataFrame | None = None,
    *,
    benchmark: str = "gsm8k",
    scorer: str = "custom_flexible",
    shots: int = 0,
    subset: str = "all",
    settings: GainSettings = GainSettings(),
) -> pd.DataFrame:
    """Baseline vs final-checkpoint accuracy and the RL gain per ``(model, pretrain_tokens)`` of one selection.

    Columns :data:`GAIN_COLUMNS` then :data:`DETAIL_COLUMNS`, models ordered by size then budget. ``base_accuracy``
    / ``final_accuracy`` and their CIs are ``summary.csv``'s (fractions, NaN where that checkpoint was not evaluated);
    ``gain_pp`` and its CI are percentage points; the CI is NaN without ``records`` (two marginal CIs cannot be
    combined into a paired one). ``n_paired``: items scored at both checkpoints. Models with no row for this
    selection are left out.
    """
    summary = validate_summary(summary)
    where = {"benchmark": benchmark, "scorer": scorer, "shots": shots, "subset": subset}
    sel = summary[selection_mask(summary, **where)]
    rows = []
    for m in model_index(summary).itertuples():
        mine = sel[(sel["model"] == m.model) & (sel["pretrain_tokens"] == m.pretrain_tokens)]
        label = f"{m.model} ({format_tokens(m.pretrain_tokens)} tokens) {benchmark}/{subset} {shots}-shot {scorer}"
        b = _checkpoint_row(mine, 0, label)
        f = _checkpoint_row(mine, m.final_step, label) if m.final_step > 0 else None
        if b is not None or f is not None:
            rows.append(_gain_row(m, b, f))
    table = pd.DataFrame(rows, columns=list(GAIN_COLUMNS + DETAIL_COLUMNS))
    if records is not None:
        _add_cis(table, validate_records(records), where, settings)
    return table
