"""Line figures of accuracy (percent, 95% bootstrap CIs as error bars): against few-shot examples, against k
samples (pass@k) and along RL (step and C_rl in FLOPs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D

from rlscaling.labels import PASS_AT_K, format_params
from rlscaling.tasks import family, kinds, scorer_color, scorer_label
from rlscaling.tasks import title as benchmark_title

from .layout import (
    benchmark_rows,
    first_shots,
    label_panels,
    models_in,
    outside_legend,
    panel_grid,
    percent_axis,
    percent_errors,
    plotted_top,
    select,
    stage_names,
    with_stage,
)
from .style import STAGE_STYLE, figure_function, finish, model_table, skip


@figure_function
def plot_accuracy_vs_shots(
    summary: pd.DataFrame,
    out_stem: Path,
    benchmark: str = "gsm8k",
    scorers: Sequence[str] | None = None,
) -> list[Path]:
    """Accuracy (%) vs number of few-shot examples: one panel per model, a line per scorer, base solid and
    after-RL dashed. Shows the "instruction collapse" of base models under the strict scorer. ``scorers``: default the
    project's (not the seed's) scorers of the benchmark's family (GSM8K's for a benchmark not named after one)."""
    if scorers is None:
        scorers = family(benchmark if benchmark in kinds() else "gsm8k").scorer_names(seed=False)
    models = model_table(summary)
    df = with_stage(select(summary, benchmark=benchmark, subset="all", scorer=list(scorers)), models)
    if df.empty:
        return skip("accuracy_vs_shots", f"no {benchmark} rows with scorers {list(scorers)}")
    if df["shots"].nunique() < 2:
        return skip("accuracy_vs_shots", f"{benchmark} was evaluated at a single shot count only")
    models = models_in(models, df)
    present = [s for s in scorers if s in set(df["scorer"])]
    shots = sorted(df["shots"].unique())
    dodge = dict(zip(present, np.linspace(-0.08, 0.08, len(present)) if len(present) > 1 else [0.0], strict=True))
    stage_labels = stage_names(models)

    fig, axes = panel_grid(len(models), 3, 3.6, 3.0, sharex=True, sharey=True)
    top = plotted_top(df)
    for ax, model in zip(axes, models.itertuples(), strict=True):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        for scorer in present:
            for stage, style in STAGE_STYLE.items():
                line = rows[(rows["scorer"] == scorer) & (rows["stage"] == stage)].sort_values("shots")
                if line.empty:
                    continue
                ax.errorbar(
                    line["shots"] + dodge[scorer],
                    100 * line["accuracy"],
                    yerr=percent_errors(line),
                    color=scorer_color(scorer, "0.3"),
                    capsize=2.5,
                    markersize=4.5,
                    linewidth=1.5,
                    elinewidth=0.9,
                    **style,
                )
        ax.set_title(f"{model.label}  ({format_params(model.n_params)} params)")
        ax.set_xticks(shots)
        percent_axis(ax, "y", top)
    label_panels(axes, "few-shot examples in prompt", f"{benchmark_title(benchmark)} accuracy (%)")
    handles = [Line2D([], [], color=scorer_color(s, "0.3"), linewidth=2) for s in present]
    labels = [scorer_label(s) for s in present]
    handles += [Line2D([], [], color="0.25", **STAGE_STYLE[s]) for s in STAGE_STYLE]
    labels += [stage_labels[s] for s in STAGE_STYLE]
    outside_legend(fig, handles, labels, title="scorer / checkpoint")
    return finish(fig, out_stem, f"{benchmark_title(benchmark)} accuracy vs few-shot examples")


@figure_function
def plot_pass_at_k(summary: pd.DataFrame, out_stem: Path, benchmark: str = "gsm8k") -> list[Path]:
    """pass@k (%) vs k (log2 axis) per model, base vs after RL: does RL widen or narrow the set of problems
    the model can solve with k samples? Uses ``pass@<k>`` scorer rows of ``benchmark`` (else the first
    benchmark that has them)."""
    models = model_table(summary)
    df = summary[summary["scorer"].str.match(PASS_AT_K) & (summary["subset"] == "all")].copy()
    if df.empty:
        return skip("pass_at_k", "no pass@k rows (scorer 'pass@<k>')")
    if benchmark not in set(df["benchmark"]):
        benchmark = sorted(df["benchmark"].unique())[0]
    df = df[df["benchmark"] == benchmark]
    df = df[df["shots"] == first_shots(df, 0)]
    df["k"] = df["scorer"].str.extract(PASS_AT_K, expand=False).astype(int)
    df = with_stage(df, models)
    if df.empty:
        return skip("pass_at_k", "no pass@k rows at the base or final checkpoint")
    models = models_in(models, df)
    ks = sorted(df["k"].unique())

    fig, axes = panel_grid(len(models), 3, 3.3, 2.9, sharex=True, sharey=True)
    top = plotted_top(df)
    for ax, model in zip(axes, models.itertuples(), strict=True):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        for stage, style in STAGE_STYLE.items():
            line = rows[rows["stage"] == stage].sort_values("k")
            if not line.empty:
                ax.errorbar(
                    line["k"],
                    100 * line["accuracy"],
                    yerr=percent_errors(line),
                    color=model.color,
                    capsize=2.5,
                    markersize=4.5,
                    linewidth=1.6,
                    elinewidth=0.9,
                    **style,
                )
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        percent_axis(ax, "y", top)
        ax.set_title(f"{model.label}  ({format_params(model.n_params)} params)")
    label_panels(axes, "samples per problem k", f"{benchmark_title(benchmark)} pass@k (%)")
    stage_labels = stage_names(models)
    handles = [Line2D([], [], color="0.25", **STAGE_STYLE[s]) for s in STAGE_STYLE]
    outside_legend(fig, handles, [stage_labels[s] for s in STAGE_STYLE], title="checkpoint")
    return finish(fig, out_stem, f"{benchmark_title(benchmark)} pass@k before and after RL")


@figure_function
def plot_accuracy_vs_rl(
    summary: pd.DataFrame,
    out_stem: Path,
    benchmark: str = "gsm8k",
    scorer: str | None = None,
    shots: int = 0,
) -> list[Path]:
    """Accuracy (%) at every RL checkpoint vs RL step (left) and RL compute ``C_rl`` in FLOPs (right), one
    line per model, raw points with 95% CIs (fitted curves are drawn by ``rlscaling.report.plots.fits``)."""
    scorer, df = benchmark_rows(summary, benchmark, scorer, shots)
    if df.empty:
        return skip("accuracy_vs_rl", f"no {benchmark} rows with scorer {scorer!r}")
    models = model_table(summary)
    steps_per_model = df.groupby(["model", "pretrain_tokens"])["rl_step"].nunique()
    if steps_per_model.max() < 2:
        return skip("accuracy_vs_rl", "no model has more than one RL checkpoint evaluated")
    models = models_in(models, df)

    fig, (ax_s, ax_c) = plt.subplots(1, 2, figsize=(9.0, 3.7), sharey=True)
    top = plotted_top(df)
    for model in models.itertuples():
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        rows = rows.sort_values("rl_step")
        for ax, x in ((ax_s, rows["rl_step"]), (ax_c, rows["c_rl"])):
            ax.errorbar(
                x,
                100 * rows["accuracy"],
                yerr=percent_errors(rows),
                color=model.color,
                marker=model.budget_marker,
                markersize=5,
                linewidth=1.4,
                capsize=2.5,
                elinewidth=0.9,
                label=model.label,
            )
    for ax in (ax_s, ax_c):
        percent_axis(ax, "y", top)
    positive = df.loc[df["c_rl"] > 0, "c_rl"]
    c_label = "RL compute $C_{rl}$ (FLOPs)"
    if not positive.empty:  # log-like axis that still shows the base model at C_rl = 0
        ax_c.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.4)
        ax_c.set_xlim(left=-0.05 * float(positive.min()))
        c_label = "RL compute $C_{rl}$ (FLOPs, log scale; 0 = base model)"
    ax_s.set_xlabel("RL (GRPO) step")
    ax_c.set_xlabel(c_label)
    title = benchmark_title(benchmark)
    ax_s.set_ylabel(f"{title} accuracy (%), {int(df['shots'].iloc[0])}-shot")
    handles, labels = ax_s.get_legend_handles_labels()
    outside_legend(fig, handles, labels, title="model")
    return finish(fig, out_stem, f"{title} accuracy during RL ({scorer} scorer)")
