"""The one view of a study that fits, figures and the report tables read: seed means of one reward mode.

``summary.csv`` and ``records.parquet`` hold every replicate seed and every GRPO reward mode (see
:mod:`rlscaling.schemas`). The analysis of the pre-training/RL split reads the seed means (``seed == "mean"``) of the
base models and of the primary reward mode's runs (``grpo.reward_modes[0]``); the reward-mode ablation and the
per-seed tables read the full tables. A frame without the dimension columns (an older table) passes unchanged.

Every view first keeps one GRPO sweep variant (:func:`reference_rows`: the reference runs unless ``fit.variant``
names another); only the variant comparisons (:mod:`rlscaling.analysis.variants`) and their figure read every variant.
"""

from __future__ import annotations

import pandas as pd

from rlscaling.schemas import DIMENSION_DEFAULTS, REFERENCE_VARIANT, SEED_MEAN, with_dimensions
from rlscaling.study import BASE  # the reward_mode of base-model rows (rl_step 0): shared by every mode's curve


def reference_rows(frame: pd.DataFrame, variant: str = REFERENCE_VARIANT) -> pd.DataFrame:
    """Rows of ``frame`` (summary or records) of one GRPO sweep ``variant`` (``reference``: the config's own settings;
    ``kl_coef=0.01``: a sweep value) and of the base models (their rows are the reference's, shared by every variant).
    A frame without a ``variant`` column (a table written before sweeps) is all reference: returned unchanged; a blank
    variant is the reference too (:func:`rlscaling.schemas.with_dimensions`)."""
    if "variant" not in frame.columns:
        return frame
    labels = frame["variant"].where(frame["variant"].notna(), REFERENCE_VARIANT).astype(str)
    keep = labels == str(variant)
    if variant != REFERENCE_VARIANT and "reward_mode" in frame.columns:
        keep |= frame["reward_mode"].astype(str) == BASE
    return frame[keep].reset_index(drop=True)


def view_variant(settings: dict) -> str:
    """The variant the views read from a job's settings (``fit.variant``; ``reference`` when absent)."""
    return str((settings.get("fit") or {}).get("variant") or REFERENCE_VARIANT)


def study_view(frame: pd.DataFrame, reward_mode: str | None, seed: str = SEED_MEAN) -> pd.DataFrame:
    """Rows of ``frame`` (summary or records) at replicate ``seed`` (default the seed mean) for the base models and
    the runs of ``reward_mode`` (None: every mode, e.g. for a table that has a reward_mode column)."""
    if any(c in frame.columns for c in DIMENSION_DEFAULTS):
        frame = with_dimensions(frame)
    keep = pd.Series(True, index=frame.index)
    if "seed" in frame.columns:
        keep &= frame["seed"].astype(str) == str(seed)
    if reward_mode is not None and "reward_mode" in frame.columns:
        keep &= frame["reward_mode"].astype(str).isin([BASE, reward_mode])
    return frame[keep].reset_index(drop=True)


def primary_reward_mode(settings: dict) -> str | None:
    """The study's primary reward mode from a job's settings (``grpo.reward_modes[0]``), or None if absent."""
    modes = (settings.get("grpo") or {}).get("reward_modes") or []
    return modes[0] if modes else None
