"""Bar figures, base (hatched, light) vs after RL (solid) with 95% CI whiskers: every model on one benchmark,
and MATH per subject."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from rlscaling.labels import format_params
from rlscaling.tasks import title as benchmark_title

from . import layout
from .style import figure_function, finish, model_table, skip, tint


def _grouped_bars(ax, positions, rows_by_stage, color, width, horizontal=False) -> None:
    """Draw base (hatched, light) and after-RL (solid) bars with CI whiskers at ``positions``."""
    for offset, stage in ((-width / 2, "base"), (width / 2, "final")):
        rows = rows_by_stage.get(stage)
        if rows is None or rows.empty:
            continue
        pos = positions.loc[rows.index] + (offset if not horizontal else -offset)
        face = tint(color, 0.6) if stage == "base" else color
        kwargs = dict(color=face, edgecolor=color, linewidth=0.8, hatch="///" if stage == "base" else None)
        err = layout.percent_errors(rows)
        if horizontal:
            ax.barh(pos, 100 * rows["accuracy"], height=width, **kwargs)
            ax.errorbar(100 * rows["accuracy"], pos, xerr=err, fmt="none", ecolor="0.15", capsize=2, elinewidth=0.8)
        else:
            ax.bar(pos, 100 * rows["accuracy"], width=width, **kwargs)
            ax.errorbar(pos, 100 * rows["accuracy"], yerr=err, fmt="none", ecolor="0.15", capsize=2.5, elinewidth=0.8)


def _stage_patches(stage_labels: dict[str, str]) -> tuple[list, list]:
    handles = [
        Patch(facecolor=tint("0.35", 0.6), edgecolor="0.35", hatch="///"),
        Patch(facecolor="0.35", edgecolor="0.35"),
    ]
    return handles, [stage_labels["base"], stage_labels["final"]]


@figure_function
def plot_math_by_subject(
    summary: pd.DataFrame, out_stem: Path, scorer: str = "math_verify", shots: int = 0
) -> list[Path]:
    """MATH accuracy (%) per subject, base vs after RL: one panel of horizontal grouped bars per model."""
    models = model_table(summary)
    df = layout.select(summary, benchmark="math", scorer=scorer)
    df = df[df["subset"] != "all"]
    if df.empty:
        return skip("math_by_subject", f"no per-subject MATH rows with scorer {scorer!r}")
    shots = layout.first_shots(df, shots)
    df = layout.with_stage(df[df["shots"] == shots], models)
    if df.empty:
        return skip("math_by_subject", "no MATH subject rows at the base or final checkpoint")
    models = layout.models_in(models, df)
    subjects = sorted(df["subset"].unique())
    ypos = pd.Series(np.arange(len(subjects))[::-1], index=subjects, dtype=float)

    fig, axes = layout.panel_grid(len(models), 3, 3.9, 0.42 * len(subjects) + 1.2, sharex=True, sharey=True)
    top = layout.plotted_top(df)
    for ax, model in zip(axes, models.itertuples(), strict=True):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        by_stage = {stage: group for stage, group in rows.groupby("stage")}
        positions = pd.Series(ypos.loc[rows["subset"]].to_numpy(), index=rows.index)
        _grouped_bars(ax, positions, by_stage, model.color, width=0.38, horizontal=True)
        ax.set_yticks(ypos.to_numpy(), ypos.index)
        ax.set_title(f"{model.label}  ({format_params(model.n_params)} params)")
        layout.percent_axis(ax, "x", top)
        ax.grid(axis="y", visible=False)
    layout.label_panels(axes, f"MATH accuracy (%), {shots}-shot", "")
    layout.outside_legend(fig, *_stage_patches(layout.stage_names(models)), title="checkpoint")
    return finish(fig, out_stem, f"MATH accuracy by subject before and after RL ({scorer} scorer)")


@figure_function
def plot_cross_model(
    summary: pd.DataFrame, out_stem: Path, benchmark: str = "gsm8k", scorer: str | None = None, shots: int = 0
) -> list[Path]:
    """Accuracy (%) of every model before and after RL on one benchmark: grouped bars with 95% CIs, the
    gain in percentage points written above each pair. ``scorer`` defaults to the benchmark's main one."""
    scorer, df = layout.benchmark_rows(summary, benchmark, scorer, shots)
    if df.empty:
        return skip(f"cross_model_{benchmark}", f"no {benchmark} rows with scorer {scorer!r}")
    shots = int(df["shots"].iloc[0])
    models = model_table(summary)
    df = layout.with_stage(df, models)
    models = layout.models_in(models, df)
    if models.empty:
        return skip(f"cross_model_{benchmark}", "no rows at the base or final checkpoint")

    fig, ax = plt.subplots(figsize=(max(4.5, 0.95 * len(models) + 2.0), 3.8))
    width = 0.38
    top = layout.plotted_top(df) + 6.0  # headroom for the gain labels
    for i, model in enumerate(models.itertuples()):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        by_stage = {stage: group for stage, group in rows.groupby("stage")}
        positions = pd.Series(float(i), index=rows.index)
        _grouped_bars(ax, positions, by_stage, model.color, width=width)
        if {"base", "final"} <= by_stage.keys():
            base, final = by_stage["base"].iloc[0], by_stage["final"].iloc[0]
            gain = 100 * (final["accuracy"] - base["accuracy"])
            peak = 100 * max(final["ci_high"], base["ci_high"], final["accuracy"], base["accuracy"])
            ax.annotate(
                f"{gain:+.1f} pp",
                (i, peak),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8.5,
            )
    crowded = sum(len(label) for label in models["label"]) > 9 * len(models) and len(models) > 3
    ax.set_xticks(
        range(len(models)), models["label"], rotation=25 if crowded else 0, ha="right" if crowded else "center"
    )
    ax.set_xlim(-0.6, len(models) - 0.4)
    layout.percent_axis(ax, "y", top)
    ax.grid(axis="x", visible=False)
    several_budgets = models.groupby("model")["pretrain_tokens"].nunique().max() > 1
    ax.set_xlabel("model (size · pre-training tokens)" if several_budgets else "model")
    title = benchmark_title(benchmark)
    ax.set_ylabel(f"{title} accuracy (%)")
    ax.set_title(f"{title} before and after RL ({shots}-shot, {scorer} scorer)")
    layout.outside_legend(fig, *_stage_patches(layout.stage_names(models)), title="checkpoint")
    return finish(fig, out_stem)
