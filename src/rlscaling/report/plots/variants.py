"""The sweep figures: accuracy against RL compute per GRPO sweep variant (issue 22), one figure per benchmark.

``variants_<benchmark>.png`` (and ``.svg``): the headline scorer's (:func:`rlscaling.tasks.default_scorer`) 0-shot
``subset == "all"`` seed-mean accuracy (percent, CI band = ``ci_low``/``ci_high``) against cumulative RL compute
``C_rl`` (FLOPs, log x; RL checkpoints only), one panel per (model, sweep key) (and pre-training budget, when a model
runs RL from several), the reference run and each of the key's values as one line each, coloured by variant (the
reference black). Drawn only when ``summary.csv`` holds sweep variants: a study without sweeps gets no such file.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from rlscaling.labels import format_tokens
from rlscaling.schemas import REFERENCE_VARIANT, SEED_MEAN, with_dimensions
from rlscaling.tasks import default_scorer
from rlscaling.tasks import title as benchmark_title

from .layout import label_panels, outside_legend, panel_grid, percent_axis, plotted_top
from .style import figure_function, finish, skip

REFERENCE_COLOR = (0.0, 0.0, 0.0)


def _variant_colors(variants: list[str]) -> dict[str, tuple]:
    """The reference black, the sweep values along a qualitative palette (stable: in sorted label order)."""
    cmap = plt.get_cmap("tab10")
    values = sorted(v for v in variants if v != REFERENCE_VARIANT)
    return {REFERENCE_VARIANT: REFERENCE_COLOR, **{v: tuple(cmap(i % 10)[:3]) for i, v in enumerate(values)}}


def _panels(rows: pd.DataFrame) -> list[tuple[str, float, str]]:
    """``(model, pretrain_tokens, sweep key)`` of every panel: the cells where some variant ran, in order."""
    swept = rows[rows["variant"] != REFERENCE_VARIANT]
    keys = swept.assign(sweep_key=swept["variant"].str.split("=").str[0])
    cells = keys[["model", "pretrain_tokens", "sweep_key"]].drop_duplicates()
    return sorted(cells.itertuples(index=False, name=None))


@figure_function
def plot_variant_curves(summary: pd.DataFrame, out_stem: Path, benchmark: str = "gsm8k") -> list[Path]:
    """One benchmark's sweep figure (module docstring); ``[]`` when the benchmark has no variant rows."""
    scorer = default_scorer(benchmark)
    rows = summary[
        (summary["benchmark"] == benchmark)
        & (summary["scorer"] == scorer)
        & (summary["subset"] == "all")
        & (summary["shots"] == 0)
        & (summary["seed"] == SEED_MEAN)
        & (summary["rl_step"] > 0)
    ]
    panels = _panels(rows)
    if not panels:
        return skip(out_stem.name, f"no sweep variant rows of {benchmark} 0-shot `{scorer}`")
    colors = _variant_colors(sorted(set(rows["variant"])))
    several_budgets = rows.groupby("model")["pretrain_tokens"].nunique().max() > 1
    fig, axes = panel_grid(len(panels), 3, 4.0, 3.2, sharey=True)
    handles: dict[str, object] = {}
    for ax, (model, tokens, key) in zip(axes, panels, strict=True):
        cell = rows[(rows["model"] == model) & (rows["pretrain_tokens"] == tokens)]
        shown = [REFERENCE_VARIANT] + sorted(v for v in set(cell["variant"]) if v.split("=")[0] == key)
        for variant in shown:
            line = cell[cell["variant"] == variant].sort_values("c_rl")
            if line.empty:
                continue
            color = colors[variant]
            x, y = line["c_rl"], 100 * line["accuracy"]
            ax.fill_between(x, 100 * line["ci_low"], 100 * line["ci_high"], color=color, alpha=0.15, linewidth=0)
            (handle,) = ax.plot(x, y, color=color, marker="o", markersize=4, linewidth=1.5, label=variant)
            handles.setdefault(variant, handle)
        ax.set_xscale("log")
        budget = f" · {format_tokens(float(tokens))} tok" if several_budgets else ""
        ax.set_title(f"{model}{budget}: {key}", fontsize=10)
        percent_axis(ax, "y", plotted_top(rows))
    title = benchmark_title(benchmark)
    label_panels(axes, "RL compute $C_{rl}$ (FLOPs, log scale)", f"{title} accuracy (%), 0-shot")
    order = [REFERENCE_VARIANT] + sorted(v for v in handles if v != REFERENCE_VARIANT)
    outside_legend(fig, [handles[v] for v in order if v in handles], [v for v in order if v in handles], "variant")
    return finish(fig, out_stem, f"{title} accuracy during RL per sweep variant ({scorer} scorer, seed means)")


def plot_variants(summary: pd.DataFrame, out_dir: str | Path) -> dict[str, list[Path]]:
    """Every sweep figure into ``out_dir`` (one per benchmark with a headline scorer); ``{}`` without sweep variants,
    so a study without sweeps has no such figure (not even a logged skip)."""
    frame = with_dimensions(summary) if "variant" in summary.columns else summary
    if "variant" not in frame.columns or not (frame["variant"].astype(str) != REFERENCE_VARIANT).any():
        return {}
    out_dir = Path(out_dir)
    benchmarks = [b for b in dict.fromkeys(frame["benchmark"]) if default_scorer(b)]
    return {f"variants_{b}": plot_variant_curves(frame, out_dir / f"variants_{b}", benchmark=b) for b in benchmarks}
