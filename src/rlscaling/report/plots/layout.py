"""Row selection and axes helpers shared by the data figures (accuracies in percent, CIs as error bars)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker

from rlscaling.tasks import default_scorer


def with_stage(df: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """Keep base (step 0) and final-checkpoint rows; add a ``stage`` column (``base``/``final``)."""
    merged = df.merge(models[["model", "pretrain_tokens", "final_step"]], on=["model", "pretrain_tokens"])
    merged = merged[(merged["rl_step"] == 0) | (merged["rl_step"] == merged["final_step"])].copy()
    merged["stage"] = np.where(merged["rl_step"] == 0, "base", "final")
    # A model never trained with RL (final_step 0) has only a base stage.
    return merged


def models_in(models: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`model_table` that have at least one row in ``df`` (order kept)."""
    key = ["model", "pretrain_tokens"]
    present = models.set_index(key).index.isin(df.set_index(key).index.unique())
    return models[present].reset_index(drop=True)


def plotted_top(df: pd.DataFrame) -> float:
    """Upper accuracy-axis limit (percent) for the rows ``df``: covers every point and CI."""
    return percent_top(100 * df["ci_high"].fillna(df["accuracy"]))


def select(df: pd.DataFrame, **filters) -> pd.DataFrame:
    """Rows whose columns equal the given values (a list/tuple value means "any of")."""
    mask = pd.Series(True, index=df.index)
    for col, value in filters.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)):
            mask &= df[col].isin(list(value))
        else:
            mask &= df[col] == value
    return df[mask]


def benchmark_rows(summary: pd.DataFrame, benchmark: str, scorer: str | None, shots: int) -> tuple[str, pd.DataFrame]:
    """``(scorer, rows)``: the ``subset == "all"`` rows of ``benchmark`` scored by ``scorer`` (default: the
    benchmark's main scorer) at ``shots`` if evaluated, else at the smallest shot count; rows may be empty."""
    scorer = scorer or default_scorer(benchmark)
    df = select(summary, benchmark=benchmark, subset="all", scorer=scorer)
    return scorer, df if df.empty else df[df["shots"] == first_shots(df, shots)]


def first_shots(df: pd.DataFrame, preferred: int = 0) -> int:
    present = sorted(df["shots"].unique())
    return preferred if preferred in present else int(present[0])


def percent_errors(rows: pd.DataFrame) -> np.ndarray:
    """Asymmetric error-bar lengths in percent from ``ci_low``/``ci_high`` (missing CIs draw no bar)."""
    low = (rows["accuracy"] - rows["ci_low"]).clip(lower=0).fillna(0.0)
    high = (rows["ci_high"] - rows["accuracy"]).clip(lower=0).fillna(0.0)
    return 100.0 * np.vstack([low.to_numpy(), high.to_numpy()])


def stage_names(models: pd.DataFrame) -> dict[str, str]:
    steps = sorted(set(models.loc[models["final_step"] > 0, "final_step"]))
    final = f"after RL (step {steps[0]})" if len(steps) == 1 else "after RL (final step)"
    return {"base": "base (step 0)", "final": final}


def panel_grid(n: int, ncols: int, panel_w: float, panel_h: float, **kwargs):
    """``n`` panels on a grid ``ncols`` wide (unused cells hidden); returns ``(fig, axes)``."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols, panel_h * nrows), squeeze=False, **kwargs)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def label_panels(axes, xlabel: str, ylabel: str) -> None:
    """Axis labels on the outer panels only; a panel with no visible panel below keeps its x tick labels."""
    ncols = axes[0].get_gridspec().ncols
    for i, ax in enumerate(axes):
        if i + ncols >= len(axes):
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(xlabel)
        if i % ncols == 0:
            ax.set_ylabel(ylabel)


def percent_axis(ax, axis: str = "y", top: float | None = None) -> None:
    """Format an accuracy axis (values already in percent) starting at 0."""
    getter = ax.yaxis if axis == "y" else ax.xaxis
    getter.set_major_formatter(ticker.PercentFormatter(decimals=0))
    lim = ax.set_ylim if axis == "y" else ax.set_xlim
    lim(0, top)


def percent_top(values_pct: Iterable[float]) -> float:
    """Upper axis limit: a little above the largest value (CI included), at most 100."""
    finite = [v for v in values_pct if np.isfinite(v)]
    peak = max(finite, default=100.0)
    return float(min(100.0, max(5.0, peak * 1.08 + 2.0)))


def outside_legend(fig, handles, labels, title: str | None = None) -> None:
    fig.legend(handles, labels, title=title, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


def log_axis_plain(axis) -> None:
    """Log-scale axis with plain-number tick labels (for a loss spanning less than a decade)."""
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())
