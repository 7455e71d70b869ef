"""How the study's models are named in tables and figures (no plotting library needed); benchmark titles, scorer
labels and headline scorers are the benchmark families' (:mod:`rlscaling.tasks`).

A *model* is a ``(model, pretrain_tokens)`` pair; its label adds the budget (``tiny-l · 6e5 tok``) only when the
size was pre-trained on several budgets. "Base" is ``rl_step == 0``; "final" is the largest ``rl_step`` of that
model anywhere in ``summary.csv``.
"""

from __future__ import annotations

import re

import pandas as pd

from rlscaling.schemas import validate_summary

PASS_AT_K = re.compile(r"^pass@(\d+)$")
MAJ_AT_N = re.compile(r"^maj@(\d+)$")  # majority vote over n samples (aggregate rows)


def format_tokens(tokens: float) -> str:
    """Compact token count: ``6e5``, ``3.6e13`` (at most two significant digits)."""
    text = f"{float(tokens):.2g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def format_params(n_params: float) -> str:
    """Parameter count with an SI suffix: ``440M``, ``1.4B``, ``85K``."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n_params) >= scale:
            return f"{n_params / scale:.3g}{suffix}"
    return f"{n_params:.3g}"


def model_index(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(model, pretrain_tokens)``, ordered by size then budget.

    Columns: ``model, pretrain_tokens`` (tokens), ``n_params`` (parameters), ``c_pretrain`` (FLOPs), ``final_step``
    (largest ``rl_step`` of that model in the whole summary) and ``label`` (table/figure label).
    """
    df = validate_summary(summary)
    models = (
        df.groupby(["model", "pretrain_tokens"], sort=False)
        .agg(n_params=("n_params", "max"), c_pretrain=("c_pretrain", "max"), final_step=("rl_step", "max"))
        .reset_index()
        .sort_values(["n_params", "model", "pretrain_tokens"], kind="stable")
        .reset_index(drop=True)
    )
    budgets_per_size = models.groupby("model")["pretrain_tokens"].transform("nunique")
    models["label"] = [
        f"{m} · {format_tokens(t)} tok" if nb > 1 else m
        for m, t, nb in zip(models["model"], models["pretrain_tokens"], budgets_per_size, strict=True)
    ]
    return models
