"""The study's table schemas: ``summary.csv`` and ``records.parquet`` columns, their dtypes, and typed reads.

``summary.csv``: one row per model x replicate seed x pre-training budget x reward mode x sweep variant x RL step x
benchmark x subset x shots x scorer, exactly the columns of :data:`SUMMARY_COLUMNS` in that order (other tools read
it; the first fifteen are the columns of earlier versions, the dimension columns come last). ``accuracy`` is a
fraction in [0, 1] (for ``scorer == "loss"`` the validation loss in nats/token; for ``scorer ==
"continues_past_answer"`` the share of responses that go on writing after their ``#### <answer>`` line),
``n_params`` parameters, ``pretrain_tokens`` tokens, ``c_pretrain``/``c_rl`` FLOPs, ``ci_low``/``ci_high`` the
percentile bootstrap interval.

The dimension columns: ``seed`` is the replicate seed (``pretrain.seeds``) as text, or ``"mean"`` for the mean over
the seeds (``n_seeds`` of them) whose CI resamples seeds and then items (:func:`rlscaling.metrics
.bootstrap_seed_item_ci`); per-seed rows' CIs resample items (documents for the loss). ``reward_mode`` is the GRPO
reward's scorer of the run a checkpoint belongs to, ``"base"`` for base models (rl_step 0, shared by every mode).
``variant`` is the GRPO sweep variant of that run (``grpo.sweeps``): ``"reference"`` for the config's own settings
and the base models, else ``<key>=<value>`` as in its path (``kl_coef=0.01``).
``subset`` is ``all`` or a stratum (MATH subject; for chain sums ``3term``, ``3term_negpartial``, ``4term``).

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
    "seed",
    "reward_mode",
    "n_seeds",
    "variant",
]
SEED_MEAN = "mean"
"""The ``seed`` of rows that average over the replicate seeds."""
CONTINUES = "continues_past_answer"
"""The ``scorer`` of rows whose ``accuracy`` is the share of responses that go on writing after their answer."""
REFERENCE_VARIANT = "reference"
"""The ``variant`` of the reference runs' rows and of the base models' (``rlscaling.study.variant_label`` of the
empty path segment)."""
DIMENSION_DEFAULTS = {"seed": SEED_MEAN, "reward_mode": None, "n_seeds": 1, "variant": REFERENCE_VARIANT}
"""The dimension columns and the values :func:`with_dimensions` gives a table written before they existed
(reward_mode None: "base" at rl_step 0, else "unknown")."""
# column -> dtype a reader converts it to (study and n_items are left as read)
SUMMARY_DTYPES = {
    **dict.fromkeys(("n_params", "pretrain_tokens", "c_pretrain", "c_rl", "accuracy", "ci_low", "ci_high"), float),
    **dict.fromkeys(("rl_step", "shots", "n_seeds"), int),
    **dict.fromkeys(("model", "benchmark", "subset", "scorer", "seed", "reward_mode", "variant"), str),
}
SUMMARY_SORT = [
    "model",
    "seed",
    "pretrain_tokens",
    "reward_mode",
    "variant",
    "rl_step",
    "benchmark",
    "subset",
    "shots",
    "scorer",
]

RECORD_COLUMNS = [
    "model",
    "seed",
    "reward_mode",
    "variant",
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
    **dict.fromkeys(("model", "benchmark", "subset", "scorer", "item_id", "seed", "reward_mode", "variant"), str),
}


def missing_columns(frame: pd.DataFrame, columns) -> list[str]:
    """The names in ``columns`` that ``frame`` lacks, in schema order."""
    return [c for c in columns if c not in frame.columns]


def with_dimensions(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every missing (or blank) dimension value at its default: ``seed`` "mean",
    ``n_seeds`` 1, ``reward_mode`` "base" at rl_step 0 and "unknown" after, ``variant`` "reference" (a table
    written before these columns)."""
    df = frame.copy()
    step = pd.to_numeric(df["rl_step"], errors="coerce") if "rl_step" in df else pd.Series(0, index=df.index)
    defaults = {
        "seed": pd.Series(SEED_MEAN, index=df.index),
        "n_seeds": pd.Series(1, index=df.index),
        "reward_mode": pd.Series(["base" if s == 0 else "unknown" for s in step], index=df.index, dtype=object),
        "variant": pd.Series(REFERENCE_VARIANT, index=df.index),
    }
    for col, default in defaults.items():
        df[col] = default if col not in df.columns else df[col].where(df[col].notna(), default)
    return df


def _typed(frame: pd.DataFrame, dtypes: dict, columns: list[str], what: str) -> pd.DataFrame:
    missing = missing_columns(frame, [c for c in columns if c not in DIMENSION_DEFAULTS])
    if missing:
        raise ValueError(f"{what} is missing column(s) {missing}; expected {list(columns)}")
    df = with_dimensions(frame)
    for col, dtype in dtypes.items():
        df[col] = df[col].astype(str) if dtype is str else pd.to_numeric(df[col], errors="raise").astype(dtype)
    return df


def validate_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of a ``summary.csv`` frame (:data:`SUMMARY_DTYPES`); ``ValueError`` naming any missing column."""
    return _typed(summary, SUMMARY_DTYPES, SUMMARY_COLUMNS, "summary.csv")


def validate_records(records: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of per-item records (:data:`RECORD_DTYPES`); ``ValueError`` naming any missing column."""
    return _typed(records, RECORD_DTYPES, RECORD_KEY_COLUMNS, "per-item records")
