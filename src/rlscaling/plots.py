"""Every data figure of the study, drawn from ``results/summary.csv``.

Each ``plot_xxx(summary, out_stem)`` writes ``<out_stem>.png`` and ``<out_stem>.svg`` atomically and returns
the written paths, or ``[]`` (with a logged reason) when the summary lacks the rows the figure needs.
Conventions shared by all figures:

* a *model* is a ``(model, pretrain_tokens)`` pair; its label adds the budget (``tiny-l · 6e5 tok``) only
  when the size was pre-trained on several budgets (:func:`model_table`);
* one colour per model size (darker = more parameters); a smaller pre-training budget of the same size is
  a lighter shade of that colour;
* "base" is ``rl_step == 0``, "after RL" the largest ``rl_step`` of that model; in line plots base is
  solid with circles and after-RL dashed with squares, in bar plots base is a hatched light bar;
* accuracies are plotted in percent with 95% bootstrap CIs (``ci_low``/``ci_high``) as error bars.

Helpers reusable by other figure modules (e.g. ``rlscaling.plots_fits``): :func:`model_table`,
:func:`save_figure`, :func:`format_tokens`, :func:`format_params`, :data:`STAGE_STYLE`.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from rlscaling.io import atomic_path  # noqa: E402

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = (
    "study", "model", "n_params", "pretrain_tokens", "c_pretrain", "rl_step", "c_rl", "benchmark",
    "subset", "shots", "scorer", "n_items", "accuracy", "ci_low", "ci_high",
)
GSM8K_SCORERS = ("strict", "flexible", "custom_flexible")
DEFAULT_SCORER = {"gsm8k": "custom_flexible", "math": "math_verify", "mmlu": "mmlu_letter"}
BENCHMARK_TITLES = {"gsm8k": "GSM8K", "math": "MATH", "mmlu": "MMLU", "wikitext": "WikiText-2"}
SCORER_LABELS = {
    "strict": "strict (#### format)",
    "flexible": "flexible (last number)",
    "custom_flexible": "custom flexible (cut at ####)",
    "math_verify": "math-verify",
    "mmlu_letter": "answer letter",
}
# Okabe-Ito vermillion / blue / bluish green: distinct for colour-blind readers.
SCORER_COLORS = {"strict": "#D55E00", "flexible": "#0072B2", "custom_flexible": "#009E73"}
STAGE_STYLE = {
    "base": {"linestyle": "-", "marker": "o"},
    "final": {"linestyle": "--", "marker": "s"},
}
BUDGET_MARKERS = ("o", "s", "^", "D", "v", "P")
PASS_AT_K = re.compile(r"^pass@(\d+)$")
MAJ_AT_N = re.compile(r"^maj@(\d+)$")    # majority vote over n samples (aggregate rows)
FIGURE_DPI = 200
_RC = {
    "svg.hashsalt": "rlscaling",  # deterministic SVG ids: reruns give byte-identical figures
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
}


# ---------------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------------


def validate_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Return a typed copy of ``summary``; raise ``ValueError`` naming any missing summary.csv column."""
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"summary.csv is missing column(s) {missing}; expected {list(SUMMARY_COLUMNS)}")
    df = summary.copy()
    for col in ("n_params", "pretrain_tokens", "c_pretrain", "c_rl", "accuracy", "ci_low", "ci_high"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
    for col in ("rl_step", "shots"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype(int)
    for col in ("model", "benchmark", "subset", "scorer"):
        df[col] = df[col].astype(str)
    return df


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


def _size_colors(sizes: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per model size along viridis, light-green (smallest) to dark purple (largest)."""
    cmap = plt.get_cmap("viridis")
    points = np.linspace(0.78, 0.05, len(sizes)) if len(sizes) > 1 else [0.35]
    return {size: tuple(cmap(p)[:3]) for size, p in zip(sizes, points, strict=True)}


def _tint(color, amount: float) -> tuple[float, float, float]:
    """Mix ``color`` with white; ``amount`` 0 keeps it, 1 gives white."""
    rgb = np.array(mcolors.to_rgb(color))
    return tuple(rgb + (1.0 - rgb) * amount)


def model_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(model, pretrain_tokens)``, ordered by size then budget.

    Columns: ``model, pretrain_tokens, n_params, c_pretrain, final_step`` (largest ``rl_step`` of that model in
    the whole summary), ``label`` (plot/report label) and ``color`` (RGB tuple; size colour, lighter for a
    smaller budget of the same size).
    """
    df = validate_summary(summary)
    models = (
        df.groupby(["model", "pretrain_tokens"], sort=False)
        .agg(n_params=("n_params", "max"), c_pretrain=("c_pretrain", "max"), final_step=("rl_step", "max"))
        .reset_index()
        .sort_values(["n_params", "model", "pretrain_tokens"], kind="stable")
        .reset_index(drop=True)
    )
    sizes = list(dict.fromkeys(models["model"]))
    size_color = _size_colors(sizes)
    budgets_per_size = models.groupby("model")["pretrain_tokens"].transform("nunique")
    budget_rank = models.groupby("model")["pretrain_tokens"].rank(method="dense", ascending=False) - 1
    models["label"] = [
        f"{m} · {format_tokens(t)} tok" if nb > 1 else m
        for m, t, nb in zip(models["model"], models["pretrain_tokens"], budgets_per_size, strict=True)
    ]
    models["color"] = [
        _tint(size_color[m], 0.5 * r / max(nb - 1, 1))
        for m, r, nb in zip(models["model"], budget_rank, budgets_per_size, strict=True)
    ]
    models["budget_marker"] = [
        BUDGET_MARKERS[int(i) % len(BUDGET_MARKERS)]
        for i in models["pretrain_tokens"].rank(method="dense").astype(int) - 1
    ]
    return models


def _with_stage(df: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """Keep base (step 0) and final-checkpoint rows; add a ``stage`` column (``base``/``final``)."""
    merged = df.merge(models[["model", "pretrain_tokens", "final_step"]], on=["model", "pretrain_tokens"])
    merged = merged[(merged["rl_step"] == 0) | (merged["rl_step"] == merged["final_step"])].copy()
    merged["stage"] = np.where(merged["rl_step"] == 0, "base", "final")
    # A model never trained with RL (final_step 0) has only a base stage.
    return merged


def _models_in(models: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`model_table` that have at least one row in ``df`` (order kept)."""
    key = ["model", "pretrain_tokens"]
    present = models.set_index(key).index.isin(df.set_index(key).index.unique())
    return models[present].reset_index(drop=True)


def _plotted_top(df: pd.DataFrame) -> float:
    """Upper accuracy-axis limit (percent) for the rows ``df``: covers every point and CI."""
    return _percent_top(100 * df["ci_high"].fillna(df["accuracy"]))


def _select(df: pd.DataFrame, **filters) -> pd.DataFrame:
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


def _percent_errors(rows: pd.DataFrame) -> np.ndarray:
    """Asymmetric error-bar lengths in percent from ``ci_low``/``ci_high`` (missing CIs draw no bar)."""
    low = (rows["accuracy"] - rows["ci_low"]).clip(lower=0).fillna(0.0)
    high = (rows["ci_high"] - rows["accuracy"]).clip(lower=0).fillna(0.0)
    return 100.0 * np.vstack([low.to_numpy(), high.to_numpy()])


def _stage_labels(models: pd.DataFrame) -> dict[str, str]:
    steps = sorted(set(models.loc[models["final_step"] > 0, "final_step"]))
    final = f"after RL (step {steps[0]})" if len(steps) == 1 else "after RL (final step)"
    return {"base": "base (step 0)", "final": final}


def _panel_grid(n: int, ncols: int, panel_w: float, panel_h: float, **kwargs):
    """``n`` panels on a grid ``ncols`` wide (unused cells hidden); returns ``(fig, axes)``."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_w * ncols, panel_h * nrows), squeeze=False, **kwargs
    )
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _label_panels(axes, xlabel: str, ylabel: str) -> None:
    """Axis labels on the outer panels only; a panel with no visible panel below keeps its x tick labels."""
    ncols = axes[0].get_gridspec().ncols
    for i, ax in enumerate(axes):
        if i + ncols >= len(axes):
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(xlabel)
        if i % ncols == 0:
            ax.set_ylabel(ylabel)


def _percent_axis(ax, axis: str = "y", top: float | None = None) -> None:
    """Format an accuracy axis (values already in percent) starting at 0."""
    getter = ax.yaxis if axis == "y" else ax.xaxis
    getter.set_major_formatter(ticker.PercentFormatter(decimals=0))
    lim = ax.set_ylim if axis == "y" else ax.set_xlim
    lim(0, top)


def _percent_top(values_pct: Iterable[float]) -> float:
    """Upper axis limit: a little above the largest value (CI included), at most 100."""
    finite = [v for v in values_pct if np.isfinite(v)]
    peak = max(finite, default=100.0)
    return float(min(100.0, max(5.0, peak * 1.08 + 2.0)))


def _outside_legend(fig, handles, labels, title: str | None = None) -> None:
    fig.legend(handles, labels, title=title, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


# no creation date or software version in the files, so the same data gives byte-identical figures
DETERMINISTIC_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}


def save_figure(fig, out_stem: str | Path) -> list[Path]:
    """Write ``fig`` as ``<out_stem>.png`` and ``<out_stem>.svg`` atomically; close it; return the paths.

    The one figure writer of the project (data and fit figures). PNG resolution: matplotlib's ``savefig.dpi`` when
    set (``rlscaling.figures.make_all_figures`` sets it from ``plots.dpi``), else :data:`FIGURE_DPI`; no metadata
    that changes between runs, and fixed SVG ids."""
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    dpi = plt.rcParams["savefig.dpi"]
    dpi = FIGURE_DPI if dpi == "figure" else dpi
    written = []
    try:
        with plt.rc_context({"svg.hashsalt": "rlscaling"}):
            for ext in ("png", "svg"):
                path = out_stem.with_name(f"{out_stem.name}.{ext}")
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight", metadata=DETERMINISTIC_METADATA[ext])
                written.append(path)
    finally:
        plt.close(fig)
    return written


def _figure_function(func: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """Validate the summary, apply the shared style and close any figure left open by an error."""

    @functools.wraps(func)
    def wrapper(summary: pd.DataFrame, out_stem: str | Path, **kwargs) -> list[Path]:
        summary = validate_summary(summary)
        before = set(plt.get_fignums())
        try:
            with sns.axes_style("whitegrid"), plt.rc_context(_RC):
                return func(summary, Path(out_stem), **kwargs)
        finally:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)

    return wrapper


def _skip(figure: str, reason: str) -> list[Path]:
    log.info("figure %s skipped: %s", figure, reason)
    return []


# ---------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------


@_figure_function
def plot_accuracy_vs_shots(
    summary: pd.DataFrame,
    out_stem: Path,
    benchmark: str = "gsm8k",
    scorers: Sequence[str] = GSM8K_SCORERS,
) -> list[Path]:
    """Accuracy (%) vs number of few-shot examples: one panel per model, a line per scorer, base solid and
    after-RL dashed. Shows the "instruction collapse" of base models under the strict scorer."""
    models = model_table(summary)
    df = _with_stage(_select(summary, benchmark=benchmark, subset="all", scorer=list(scorers)), models)
    if df.empty:
        return _skip("accuracy_vs_shots", f"no {benchmark} rows with scorers {list(scorers)}")
    if df["shots"].nunique() < 2:
        return _skip("accuracy_vs_shots", f"{benchmark} was evaluated at a single shot count only")
    models = _models_in(models, df)
    present = [s for s in scorers if s in set(df["scorer"])]
    shots = sorted(df["shots"].unique())
    dodge = dict(zip(present, np.linspace(-0.08, 0.08, len(present)) if len(present) > 1 else [0.0],
                     strict=True))
    stage_labels = _stage_labels(models)

    fig, axes = _panel_grid(len(models), 3, 3.6, 3.0, sharex=True, sharey=True)
    top = _plotted_top(df)
    for ax, model in zip(axes, models.itertuples(), strict=True):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        for scorer in present:
            for stage, style in STAGE_STYLE.items():
                line = rows[(rows["scorer"] == scorer) & (rows["stage"] == stage)].sort_values("shots")
                if line.empty:
                    continue
                ax.errorbar(
                    line["shots"] + dodge[scorer], 100 * line["accuracy"], yerr=_percent_errors(line),
                    color=SCORER_COLORS.get(scorer, "0.3"), capsize=2.5, markersize=4.5, linewidth=1.5,
                    elinewidth=0.9, **style,
                )
        ax.set_title(f"{model.label}  ({format_params(model.n_params)} params)")
        ax.set_xticks(shots)
        _percent_axis(ax, "y", top)
    _label_panels(axes, "few-shot examples in prompt", f"{BENCHMARK_TITLES.get(benchmark, benchmark)} accuracy (%)")
    handles = [Line2D([], [], color=SCORER_COLORS.get(s, "0.3"), linewidth=2) for s in present]
    labels = [SCORER_LABELS.get(s, s) for s in present]
    handles += [Line2D([], [], color="0.25", **STAGE_STYLE[s]) for s in STAGE_STYLE]
    labels += [stage_labels[s] for s in STAGE_STYLE]
    _outside_legend(fig, handles, labels, title="scorer / checkpoint")
    fig.suptitle(f"{BENCHMARK_TITLES.get(benchmark, benchmark)} accuracy vs few-shot examples", y=1.0)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def _grouped_bars(ax, positions, rows_by_stage, color, width, horizontal=False) -> None:
    """Draw base (hatched, light) and after-RL (solid) bars with CI whiskers at ``positions``."""
    for offset, stage in ((-width / 2, "base"), (width / 2, "final")):
        rows = rows_by_stage.get(stage)
        if rows is None or rows.empty:
            continue
        pos = positions.loc[rows.index] + (offset if not horizontal else -offset)
        face = _tint(color, 0.6) if stage == "base" else color
        kwargs = dict(color=face, edgecolor=color, linewidth=0.8, hatch="///" if stage == "base" else None)
        err = _percent_errors(rows)
        if horizontal:
            ax.barh(pos, 100 * rows["accuracy"], height=width, **kwargs)
            ax.errorbar(100 * rows["accuracy"], pos, xerr=err, fmt="none", ecolor="0.15", capsize=2,
                        elinewidth=0.8)
        else:
            ax.bar(pos, 100 * rows["accuracy"], width=width, **kwargs)
            ax.errorbar(pos, 100 * rows["accuracy"], yerr=err, fmt="none", ecolor="0.15", capsize=2.5,
                        elinewidth=0.8)


def _stage_patches(stage_labels: dict[str, str]) -> tuple[list, list]:
    handles = [
        Patch(facecolor=_tint("0.35", 0.6), edgecolor="0.35", hatch="///"),
        Patch(facecolor="0.35", edgecolor="0.35"),
    ]
    return handles, [stage_labels["base"], stage_labels["final"]]


def _first_shots(df: pd.DataFrame, preferred: int = 0) -> int:
    present = sorted(df["shots"].unique())
    return preferred if preferred in present else int(present[0])


@_figure_function
def plot_math_by_subject(
    summary: pd.DataFrame, out_stem: Path, scorer: str = "math_verify", shots: int = 0
) -> list[Path]:
    """MATH accuracy (%) per subject, base vs after RL: one panel of horizontal grouped bars per model."""
    models = model_table(summary)
    df = _select(summary, benchmark="math", scorer=scorer)
    df = df[df["subset"] != "all"]
    if df.empty:
        return _skip("math_by_subject", f"no per-subject MATH rows with scorer {scorer!r}")
    shots = _first_shots(df, shots)
    df = _with_stage(df[df["shots"] == shots], models)
    if df.empty:
        return _skip("math_by_subject", "no MATH subject rows at the base or final checkpoint")
    models = _models_in(models, df)
    subjects = sorted(df["subset"].unique())
    ypos = pd.Series(np.arange(len(subjects))[::-1], index=subjects, dtype=float)

    fig, axes = _panel_grid(len(models), 3, 3.9, 0.42 * len(subjects) + 1.2, sharex=True, sharey=True)
    top = _plotted_top(df)
    for ax, model in zip(axes, models.itertuples(), strict=True):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        by_stage = {stage: group for stage, group in rows.groupby("stage")}
        positions = pd.Series(ypos.loc[rows["subset"]].to_numpy(), index=rows.index)
        _grouped_bars(ax, positions, by_stage, model.color, width=0.38, horizontal=True)
        ax.set_yticks(ypos.to_numpy(), ypos.index)
        ax.set_title(f"{model.label}  ({format_params(model.n_params)} params)")
        _percent_axis(ax, "x", top)
        ax.grid(axis="y", visible=False)
    _label_panels(axes, f"MATH accuracy (%), {shots}-shot", "")
    _outside_legend(fig, *_stage_patches(_stage_labels(models)), title="checkpoint")
    fig.suptitle(f"MATH accuracy by subject before and after RL ({scorer} scorer)", y=1.0)
    fig.tight_layout()
    return save_figure(fig, out_stem)


@_figure_function
def plot_cross_model(
    summary: pd.DataFrame,
    out_stem: Path,
    benchmark: str = "gsm8k",
    scorer: str | None = None,
    shots: int = 0,
) -> list[Path]:
    """Accuracy (%) of every model before and after RL on one benchmark: grouped bars with 95% CIs, the
    gain in percentage points written above each pair. ``scorer`` defaults to the benchmark's main one."""
    scorer = scorer or DEFAULT_SCORER.get(benchmark)
    models = model_table(summary)
    df = _select(summary, benchmark=benchmark, subset="all", scorer=scorer)
    if df.empty:
        return _skip(f"cross_model_{benchmark}", f"no {benchmark} rows with scorer {scorer!r}")
    shots = _first_shots(df, shots)
    df = _with_stage(df[df["shots"] == shots], models)
    models = _models_in(models, df)
    if models.empty:
        return _skip(f"cross_model_{benchmark}", "no rows at the base or final checkpoint")

    fig, ax = plt.subplots(figsize=(max(4.5, 0.95 * len(models) + 2.0), 3.8))
    width = 0.38
    top = _plotted_top(df) + 6.0  # headroom for the gain labels
    for i, model in enumerate(models.itertuples()):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        by_stage = {stage: group for stage, group in rows.groupby("stage")}
        positions = pd.Series(float(i), index=rows.index)
        _grouped_bars(ax, positions, by_stage, model.color, width=width)
        if {"base", "final"} <= by_stage.keys():
            base, final = by_stage["base"].iloc[0], by_stage["final"].iloc[0]
            gain = 100 * (final["accuracy"] - base["accuracy"])
            peak = 100 * max(final["ci_high"], base["ci_high"], final["accuracy"], base["accuracy"])
            ax.annotate(f"{gain:+.1f} pp", (i, peak), xytext=(0, 4), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8.5)
    crowded = sum(len(label) for label in models["label"]) > 9 * len(models) and len(models) > 3
    ax.set_xticks(range(len(models)), models["label"], rotation=25 if crowded else 0,
                  ha="right" if crowded else "center")
    ax.set_xlim(-0.6, len(models) - 0.4)
    _percent_axis(ax, "y", top)
    ax.grid(axis="x", visible=False)
    several_budgets = models.groupby("model")["pretrain_tokens"].nunique().max() > 1
    ax.set_xlabel("model (size · pre-training tokens)" if several_budgets else "model")
    title = BENCHMARK_TITLES.get(benchmark, benchmark)
    ax.set_ylabel(f"{title} accuracy (%)")
    ax.set_title(f"{title} before and after RL ({shots}-shot, {scorer} scorer)")
    _outside_legend(fig, *_stage_patches(_stage_labels(models)), title="checkpoint")
    fig.tight_layout()
    return save_figure(fig, out_stem)


def _log_axis_plain(axis) -> None:
    """Log-scale axis with plain-number tick labels (for a loss spanning less than a decade)."""
    axis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


@_figure_function
def plot_validation_loss(summary: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Base-model validation loss (nats/token, ``scorer == 'loss'`` rows) vs parameters and vs pre-training
    FLOPs, log-log. Lines join the sizes of one budget (left) and the budgets of one size (right)."""
    models = model_table(summary)
    df = _select(summary, scorer="loss", rl_step=0, subset="all")
    if df.empty:
        return _skip("validation_loss", "no base-model validation-loss rows (scorer 'loss')")
    df = df.merge(models[["model", "pretrain_tokens", "label", "color", "budget_marker"]],
                  on=["model", "pretrain_tokens"])
    benchmark = sorted(df["benchmark"].unique())[0]
    df = df[df["benchmark"] == benchmark].sort_values(["n_params", "pretrain_tokens"])
    several_budgets = df["pretrain_tokens"].nunique() > 1

    fig, (ax_n, ax_c) = plt.subplots(1, 2, figsize=(8.6, 3.6), sharey=True)
    for tokens, group in df.groupby("pretrain_tokens"):
        if len(group) > 1:
            ax_n.plot(group["n_params"], group["accuracy"], color="0.6", linewidth=1, zorder=1,
                      linestyle="-" if tokens == df["pretrain_tokens"].max() else ":")
    for _, group in df.groupby("model", sort=False):
        if len(group) > 1:
            group = group.sort_values("c_pretrain")
            ax_c.plot(group["c_pretrain"], group["accuracy"], color=group["color"].iloc[-1], linewidth=1.2,
                      zorder=1)
    for row in df.itertuples():
        for ax, x in ((ax_n, row.n_params), (ax_c, row.c_pretrain)):
            err = None
            if np.isfinite(row.ci_low) and np.isfinite(row.ci_high):
                err = [[max(row.accuracy - row.ci_low, 0)], [max(row.ci_high - row.accuracy, 0)]]
            ax.errorbar([x], [row.accuracy], yerr=err, fmt=row.budget_marker, color=row.color,
                        markeredgecolor="0.2", markersize=7, capsize=2, zorder=3)
    for ax in (ax_n, ax_c):
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_axis_plain(ax.yaxis)
    ax_n.set_xlabel("parameters N")
    ax_c.set_xlabel("pre-training compute $C_{pretrain}$ (FLOPs)")
    ax_n.set_ylabel(f"{BENCHMARK_TITLES.get(benchmark, benchmark)} validation loss (nats/token)")
    for ax in (ax_n, ax_c):
        ax.margins(x=0.15, y=0.1)
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=7, color=c, markeredgecolor="0.2")
               for c in models.drop_duplicates("model", keep="last")["color"]]
    labels = [f"{m} ({format_params(n)})" for m, n in
              models.drop_duplicates("model", keep="last")[["model", "n_params"]].itertuples(index=False)]
    if several_budgets:
        budgets = models.drop_duplicates("pretrain_tokens").sort_values("pretrain_tokens")
        handles += [Line2D([], [], linestyle="none", marker=m, color="0.4", markersize=7)
                    for m in budgets["budget_marker"]]
        labels += [f"{format_tokens(t)} pre-training tokens" for t in budgets["pretrain_tokens"]]
    _outside_legend(fig, handles, labels, title="model size / budget")
    fig.suptitle("Pre-training scaling of base-model validation loss (log-log)", y=1.0)
    fig.tight_layout()
    return save_figure(fig, out_stem)


@_figure_function
def plot_pass_at_k(summary: pd.DataFrame, out_stem: Path, benchmark: str = "gsm8k") -> list[Path]:
    """pass@k (%) vs k (log2 axis) per model, base vs after RL: does RL widen or narrow the set of problems
    the model can solve with k samples? Uses ``pass@<k>`` scorer rows of ``benchmark`` (else the first
    benchmark that has them)."""
    models = model_table(summary)
    df = summary[summary["scorer"].str.match(PASS_AT_K) & (summary["subset"] == "all")].copy()
    if df.empty:
        return _skip("pass_at_k", "no pass@k rows (scorer 'pass@<k>')")
    if benchmark not in set(df["benchmark"]):
        benchmark = sorted(df["benchmark"].unique())[0]
    df = df[df["benchmark"] == benchmark]
    df = df[df["shots"] == _first_shots(df, 0)]
    df["k"] = df["scorer"].str.extract(PASS_AT_K, expand=False).astype(int)
    df = _with_stage(df, models)
    if df.empty:
        return _skip("pass_at_k", "no pass@k rows at the base or final checkpoint")
    models = _models_in(models, df)
    ks = sorted(df["k"].unique())

    fig, axes = _panel_grid(len(models), 3, 3.3, 2.9, sharex=True, sharey=True)
    top = _plotted_top(df)
    for ax, model in zip(axes, models.itertuples(), strict=True):
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        for stage, style in STAGE_STYLE.items():
            line = rows[rows["stage"] == stage].sort_values("k")
            if not line.empty:
                ax.errorbar(line["k"], 100 * line["accuracy"], yerr=_percent_errors(line), color=model.color,
                            capsize=2.5, markersize=4.5, linewidth=1.6, elinewidth=0.9, **style)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        _percent_axis(ax, "y", top)
        ax.set_title(f"{model.label}  ({format_params(model.n_params)} params)")
    _label_panels(axes, "samples per problem k", f"{BENCHMARK_TITLES.get(benchmark, benchmark)} pass@k (%)")
    stage_labels = _stage_labels(models)
    handles = [Line2D([], [], color="0.25", **STAGE_STYLE[s]) for s in STAGE_STYLE]
    _outside_legend(fig, handles, [stage_labels[s] for s in STAGE_STYLE], title="checkpoint")
    fig.suptitle(f"{BENCHMARK_TITLES.get(benchmark, benchmark)} pass@k before and after RL", y=1.0)
    fig.tight_layout()
    return save_figure(fig, out_stem)


@_figure_function
def plot_accuracy_vs_rl(
    summary: pd.DataFrame,
    out_stem: Path,
    benchmark: str = "gsm8k",
    scorer: str | None = None,
    shots: int = 0,
) -> list[Path]:
    """Accuracy (%) at every RL checkpoint vs RL step (left) and RL compute ``C_rl`` in FLOPs (right), one
    line per model, raw points with 95% CIs (fitted curves are drawn by ``rlscaling.plots_fits``)."""
    scorer = scorer or DEFAULT_SCORER.get(benchmark)
    models = model_table(summary)
    df = _select(summary, benchmark=benchmark, subset="all", scorer=scorer)
    if df.empty:
        return _skip("accuracy_vs_rl", f"no {benchmark} rows with scorer {scorer!r}")
    df = df[df["shots"] == _first_shots(df, shots)]
    steps_per_model = df.groupby(["model", "pretrain_tokens"])["rl_step"].nunique()
    if steps_per_model.max() < 2:
        return _skip("accuracy_vs_rl", "no model has more than one RL checkpoint evaluated")
    models = _models_in(models, df)

    fig, (ax_s, ax_c) = plt.subplots(1, 2, figsize=(9.0, 3.7), sharey=True)
    top = _plotted_top(df)
    for model in models.itertuples():
        rows = df[(df["model"] == model.model) & (df["pretrain_tokens"] == model.pretrain_tokens)]
        rows = rows.sort_values("rl_step")
        for ax, x in ((ax_s, rows["rl_step"]), (ax_c, rows["c_rl"])):
            ax.errorbar(x, 100 * rows["accuracy"], yerr=_percent_errors(rows), color=model.color,
                        marker=model.budget_marker, markersize=5, linewidth=1.4, capsize=2.5, elinewidth=0.9,
                        label=model.label)
    for ax in (ax_s, ax_c):
        _percent_axis(ax, "y", top)
    positive = df.loc[df["c_rl"] > 0, "c_rl"]
    c_label = "RL compute $C_{rl}$ (FLOPs)"
    if not positive.empty:  # log-like axis that still shows the base model at C_rl = 0
        ax_c.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.4)
        ax_c.set_xlim(left=-0.05 * float(positive.min()))
        c_label = "RL compute $C_{rl}$ (FLOPs, log scale; 0 = base model)"
    ax_s.set_xlabel("RL (GRPO) step")
    ax_c.set_xlabel(c_label)
    title = BENCHMARK_TITLES.get(benchmark, benchmark)
    ax_s.set_ylabel(f"{title} accuracy (%), {int(df['shots'].iloc[0])}-shot")
    handles, labels = ax_s.get_legend_handles_labels()
    _outside_legend(fig, handles, labels, title="model")
    fig.suptitle(f"{title} accuracy during RL ({scorer} scorer)", y=1.0)
    fig.tight_layout()
    return save_figure(fig, out_stem)


def plot_all(summary: pd.DataFrame, out_dir: str | Path) -> dict[str, list[Path]]:
    """Draw every figure into ``out_dir``; maps figure name (= file stem) to the files written ([] = skipped)."""
    out_dir = Path(out_dir)
    figures: dict[str, list[Path]] = {
        "accuracy_vs_shots": plot_accuracy_vs_shots(summary, out_dir / "accuracy_vs_shots"),
        "math_by_subject": plot_math_by_subject(summary, out_dir / "math_by_subject"),
    }
    for benchmark in DEFAULT_SCORER:
        name = f"cross_model_{benchmark}"
        figures[name] = plot_cross_model(summary, out_dir / name, benchmark=benchmark)
    figures["validation_loss"] = plot_validation_loss(summary, out_dir / "validation_loss")
    figures["pass_at_k"] = plot_pass_at_k(summary, out_dir / "pass_at_k")
    figures["accuracy_vs_rl"] = plot_accuracy_vs_rl(summary, out_dir / "accuracy_vs_rl")
    return figures
