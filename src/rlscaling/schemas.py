"""The study's table schemas: ``summary.csv`` and ``records.parquet`` columns, their dtypes, and typed reads.

``summary.csv``: one row per model x pre-training budget x RL step x benchmark x subset x shots x scorer, exactly
the columns of :data:`SUMMARY_COLUMNS` in that order (other tools read it; keep them stable). ``accuracy`` is a
fraction in [0, 1] (for ``scorer == "loss"`` the validation loss in nats/token), ``n_params`` parameters,
``pretrain_tokens`` tokens, ``c_pretrain``/``c_rl`` FLOPs, ``ci_low``/``ci_high`` the percentile bootstrap interval
over items (documents for the loss).

``records.parquet``: one row per item and scorer, the columns of :data:`RECORD_COLUMNS`; ``score`` is the item's
score in [0, 1] (a pass@k row holds the item's unbiased pass@k estimate). Readers need only
:data:`RECORD_KEY_COLUMNS` (``budget`` is the directory name of the pre-training budget, kept for people).
"""

from __future__ import annotations

import pandas as pd

SUMMARY_COLUMNS = [
    "study",
    "model",
    "n_params",
    "pretrain_tokens",
    "c_pretrain",
    "rl_step",
    "c_rl",
    "benchmark",
    "subset",
    "shots",
    "scorer",
    "n_items",
    "accuracy",
    "ci_low",
    "ci_high",
]
# column -> dtype a reader converts it to (study and n_items are left as read)
SUMMARY_DTYPES = {
    **dict.fromkeys(("n_params", "pretrain_tokens", "c_pretrain", "c_rl", "accuracy", "ci_low", "ci_high"), float),
    **dict.fromkeys(("rl_step", "shots"), int),
    **dict.fromkeys(("model", "benchmark", "subset", "scorer"), str),
}
SUMMARY_SORT = ["model", "pretrain_tokens", "rl_step", "benchmark", "subset", "shots", "scorer"]

RECORD_COLUMNS = [
    "model",
    "budget",
    "pretrain_tokens",
    "rl_step",
    "benchmark",
    "subset",
    "shots",
    "scorer",
    "item_id",
    "score",
]
RECORD_KEY_COLUMNS = [c for c in RECORD_COLUMNS if c != "budget"]
RECORD_DTYPES = {
    "pretrain_tokens": float,
    "rl_step": int,
    "shots": int,
    "score": float,
    **dict.fromkeys(("model", "benchmark", "subset", "scorer", "item_id"), str),
}


def missing_columns(frame: pd.DataFrame, columns) -> list[str]:
    """The names in ``columns`` that ``frame`` lacks, in schema order."""
    return [c for c in columns if c not in frame.columns]


def _typed(frame: pd.DataFrame, dtypes: dict, columns: list[str], what: str) -> pd.DataFrame:
    missing = missing_columns(frame, columns)
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; expected {list(columns)}")
    df = frame.copy()
    for col, dtype in dtypes.items():
        df[col] = df[col].astype(str) if dtype is str else pd.to_numeric(df[col], errors="raise").astype(dtype)
    return df


def validate_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of a ``summary.csv`` frame (:data:`SUMMARY_DTYPES`); ``ValueError`` naming any missing column."""
    return _typed(summary, SUMMARY_DTYPES, SUMMARY_COLUMNS, "summary.csv")


def validate_records(records: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of per-item records (:data:`RECORD_DTYPES`); ``ValueError`` naming any missing column."""
    return _typed(records, RECORD_DTYPES, RECORD_KEY_COLUMNS, "per-item records")
