"""The base models' validation loss (nats/token) against parameters and pre-training FLOPs, log-log."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from rlscaling.labels import format_params, format_tokens
from rlscaling.tasks import title as benchmark_title

from .layout import (
    log_axis_plain,
    outside_legend,
    select,
)
from .style import figure_function, finish, model_table, skip


def _draw_losses(ax_n, ax_c, df: pd.DataFrame) -> None:
    """Loss vs N (``ax_n``; grey lines join the sizes of one budget, dotted for the smaller budgets) and vs
    C_pretrain (``ax_c``; a line per size), each point with its CI as an error bar."""
    for tokens, group in df.groupby("pretrain_tokens"):
        if len(group) > 1:
            ax_n.plot(
                group["n_params"],
                group["accuracy"],
                color="0.6",
                linewidth=1,
                zorder=1,
                linestyle="-" if tokens == df["pretrain_tokens"].max() else ":",
            )
    for _, group in df.groupby("model", sort=False):
        if len(group) > 1:
            group = group.sort_values("c_pretrain")
            ax_c.plot(group["c_pretrain"], group["accuracy"], color=group["color"].iloc[-1], linewidth=1.2, zorder=1)
    for row in df.itertuples():
        for ax, x in ((ax_n, row.n_params), (ax_c, row.c_pretrain)):
            err = None
            if np.isfinite(row.ci_low) and np.isfinite(row.ci_high):
                err = [[max(row.accuracy - row.ci_low, 0)], [max(row.ci_high - row.accuracy, 0)]]
            ax.errorbar(
                [x],
                [row.accuracy],
                yerr=err,
                fmt=row.budget_marker,
                color=row.color,
                markeredgecolor="0.2",
                markersize=7,
                capsize=2,
                zorder=3,
            )


def _legend(models: pd.DataFrame, several_budgets: bool) -> tuple[list, list[str]]:
    """Legend entries: one colour per size (with its parameter count), then one marker per budget if several."""
    sizes = models.drop_duplicates("model", keep="last")
    handles = [
        Line2D([], [], linestyle="none", marker="o", markersize=7, color=c, markeredgecolor="0.2")
        for c in sizes["color"]
    ]
    labels = [f"{m} ({format_params(n)})" for m, n in sizes[["model", "n_params"]].itertuples(index=False)]
    if several_budgets:
        budgets = models.drop_duplicates("pretrain_tokens").sort_values("pretrain_tokens")
        handles += [
            Line2D([], [], linestyle="none", marker=m, color="0.4", markersize=7) for m in budgets["budget_marker"]
        ]
        labels += [f"{format_tokens(t)} pre-training tokens" for t in budgets["pretrain_tokens"]]
    return handles, labels


@figure_function
def plot_validation_loss(summary: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Base-model validation loss (nats/token, ``scorer == 'loss'`` rows) vs parameters and vs pre-training
    FLOPs, log-log. Lines join the sizes of one budget (left) and the budgets of one size (right)."""
    models = model_table(summary)
    df = select(summary, scorer="loss", rl_step=0, subset="all")
    if df.empty:
        return skip("validation_loss", "no base-model validation-loss rows (scorer 'loss')")
    df = df.merge(
        models[["model", "pretrain_tokens", "label", "color", "budget_marker"]], on=["model", "pretrain_tokens"]
    )
    benchmark = sorted(df["benchmark"].unique())[0]
    df = df[df["benchmark"] == benchmark].sort_values(["n_params", "pretrain_tokens"])
    several_budgets = df["pretrain_tokens"].nunique() > 1

    fig, (ax_n, ax_c) = plt.subplots(1, 2, figsize=(8.6, 3.6), sharey=True)
    _draw_losses(ax_n, ax_c, df)
    for ax in (ax_n, ax_c):
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_axis_plain(ax.yaxis)
    ax_n.set_xlabel("parameters N")
    ax_c.set_xlabel("pre-training compute $C_{pretrain}$ (FLOPs)")
    ax_n.set_ylabel(f"{benchmark_title(benchmark)} validation loss (nats/token)")
    for ax in (ax_n, ax_c):
        ax.margins(x=0.15, y=0.1)
    outside_legend(fig, *_legend(models, several_budgets), title="model size / budget")
    return finish(fig, out_stem, "Pre-training scaling of base-model validation loss (log-log)")
