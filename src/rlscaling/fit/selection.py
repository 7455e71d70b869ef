"""Rows of ``summary.csv`` a fit uses, per-item bootstrap replicates of their accuracies, and RL gains.

Accuracy is a fraction in [0, 1]; gains are percentage points (100 x fraction).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlscaling.analysis import gains
from rlscaling.metrics import item_bootstrap_means
from rlscaling.schemas import DIMENSION_DEFAULTS, RECORD_KEY_COLUMNS, SUMMARY_COLUMNS

from .common import FitError
from .config import FitConfig

# the summary.csv columns a fit reads (rlscaling.schemas defines them) and the per-item record columns it needs
# (a fit sees one view: one seed level and one reward mode, rlscaling.analysis.views; the dimension columns are not
# keys)
FIT_COLUMNS = tuple(
    c for c in SUMMARY_COLUMNS if c not in ("study", "n_items", "ci_low", "ci_high", *DIMENSION_DEFAULTS)
)
RECORD_COLUMNS = tuple(c for c in RECORD_KEY_COLUMNS if c not in DIMENSION_DEFAULTS)
CONDITION_KEYS = gains.CONDITION_KEYS


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...] | list[str], what: str) -> None:
    """Raise ``FitError`` naming every column of ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FitError(f"{what}: missing column(s) {missing}")


def selection_mask(frame: pd.DataFrame, cfg: FitConfig) -> pd.Series:
    """Rows of ``cfg``'s benchmark/scorer/shots/subset (shots compared numerically; blanks never match)."""
    return gains.selection_mask(frame, cfg.benchmark, cfg.scorer, cfg.shots, cfg.subset)


def _selected(frame: pd.DataFrame, columns, cfg: FitConfig, what: str) -> pd.DataFrame:
    """The rows of ``cfg``'s selection; FitError naming ``what`` for a missing column or no such rows."""
    require_columns(frame, columns, what)
    sel = frame[selection_mask(frame, cfg)]
    if sel.empty:
        raise FitError(
            f"{what}: no rows for benchmark={cfg.benchmark!r} scorer={cfg.scorer!r} "
            f"shots={cfg.shots} subset={cfg.subset!r}"
        )
    return sel


def select_rows(summary: pd.DataFrame, cfg: FitConfig) -> pd.DataFrame:
    """Rows of one benchmark/subset/shots/scorer, sorted by model size, budget and RL step."""
    sel = _selected(summary, FIT_COLUMNS, cfg, "summary")
    for col in ("c_pretrain", "c_rl"):
        if (sel[col].astype(float) < 0).any():
            raise FitError(f"summary: negative compute in column {col!r}")
    dup = sel.duplicated(CONDITION_KEYS)
    if dup.any():
        raise FitError(f"summary: duplicate rows for {sel.loc[dup, CONDITION_KEYS].iloc[0].to_dict()}")
    return sel.sort_values(["n_params", "pretrain_tokens", "rl_step"]).reset_index(drop=True)


def item_bootstrap_accuracies(
    rows: pd.DataFrame, records: pd.DataFrame, cfg: FitConfig, n_boot: int, seed: int
) -> np.ndarray:
    """(n_boot x len(rows)) accuracies from resampling evaluation items (paired across conditions).

    Items are resampled once per draw and shared by every model/checkpoint, so differences (gains)
    keep their pairing. Repeated samples of one item are averaged first.
    """
    rec = _selected(records, RECORD_COLUMNS, cfg, "records")
    try:
        scores = gains.item_matrix(rec, rows)
    except ValueError as exc:
        raise FitError(str(exc)) from None
    return item_bootstrap_means(scores, n_boot, seed)


def gains_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (model, pretrain budget): base and final-checkpoint accuracy and gain in percentage points.

    Also returns the row positions ``base_row`` / ``final_row`` (into ``rows``) so bootstrap replicates of
    the accuracies can be turned into gains without regrouping. Every model needs an rl_step 0 row and
    at least one RL checkpoint; otherwise FitError names the model.
    """
    out = []
    steps = rows["rl_step"].to_numpy()
    for (model, tokens), pos in rows.groupby(["model", "pretrain_tokens"], sort=False).indices.items():
        base = pos[steps[pos] == 0]
        if base.size == 0:
            raise FitError(f"gain: model {model!r} (pretrain_tokens={tokens}) has no rl_step 0 row")
        final = pos[np.argmax(steps[pos])]
        if steps[final] == 0:
            raise FitError(f"gain: model {model!r} (pretrain_tokens={tokens}) has no RL checkpoint")
        b, f = rows["accuracy"].iloc[base[0]], rows["accuracy"].iloc[final]
        out.append(
            {
                "model": model,
                "pretrain_tokens": float(tokens),
                "n_params": float(rows["n_params"].iloc[final]),
                "final_step": int(steps[final]),
                "base_accuracy": float(b),
                "final_accuracy": float(f),
                "gain_pp": 100 * float(f - b),
                "base_row": int(base[0]),
                "final_row": int(final),
            }
        )
    return pd.DataFrame(out)
