"""Figures over the study's dimensions (:mod:`rlscaling.schemas`): replicate seeds, reward modes and strata.

* ``base_accuracy_vs_budget``: base-model accuracy (%) vs pre-training tokens, every replicate seed (thin) and
  their mean (thick, 95% CI band over seeds and items), one panel per model size; a second row per stratum;
* ``reward_mode_ablation``: RL gain (final step - base, pp) in custom_flexible and strict accuracy per reward
  mode, and the share of responses that go on after their ``#### answer`` line, base vs after RL;
* ``accuracy_vs_rl_by_mode``: accuracy (%) along RL, one line per reward mode and scorer.

All read GSM8K-style rows at 0 shots; the reward-mode figures read the seed means (``seed == "mean"``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from rlscaling.analysis.views import BASE
from rlscaling.labels import format_params, format_tokens
from rlscaling.schemas import CONTINUES, SEED_MEAN
from rlscaling.tasks import scorer_color, scorer_label

from . import layout
from .style import figure_function, finish, model_table, size_colors, skip, tint

GAIN_SCORERS = ("custom_flexible", "strict")
STRATA = {
    "3term": "3term: 3-term chains",
    "3term_negpartial": "3term_negpartial: partial sum < 0",
    "4term": "4term: unseen in pre-training",
}
SCORER_LINES = {"custom_flexible": {"linestyle": "-", "marker": "o"}, "strict": {"linestyle": "--", "marker": "s"}}
# Okabe-Ito orange / sky blue / reddish purple / black / yellow: apart from the scorer colours of .style
MODE_PALETTE = ("#E69F00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
GROUP = ["model", "pretrain_tokens"]


def _gsm8k(summary: pd.DataFrame, **filters) -> pd.DataFrame:
    """GSM8K-style rows at 0 shots that match ``filters`` (:func:`layout.select`)."""
    return layout.select(summary, benchmark="gsm8k", shots=0, **filters)


def _of(rows: pd.DataFrame, model) -> pd.DataFrame:
    """The rows of one ``(model, pretrain_tokens)`` (a :func:`model_table` row)."""
    return rows[(rows["model"] == model.model) & (rows["pretrain_tokens"] == model.pretrain_tokens)]


def _mode_colors(modes) -> dict[str, str]:
    return {m: MODE_PALETTE[i % len(MODE_PALETTE)] for i, m in enumerate(modes)}


def _seed_order(seeds) -> list[str]:
    """Replicate seeds in numeric order (non-numeric names last, alphabetically), the seed mean left out."""
    seeds = [s for s in set(seeds) if s != SEED_MEAN]
    return sorted(seeds, key=lambda s: (0, int(s), "") if s.isdigit() else (1, 0, s))


def _label_grid(axes: np.ndarray, xlabel: str, ylabel: str) -> None:
    """x labels (and tick labels) on the lowest visible panel of each column, y labels on the first of each row."""
    for col in axes.T:
        shown = [ax for ax in col if ax.get_visible()]
        if shown:
            shown[-1].xaxis.set_tick_params(labelbottom=True)
            shown[-1].set_xlabel(xlabel)
    for row in axes:
        shown = [ax for ax in row if ax.get_visible()]
        if shown:
            shown[0].set_ylabel(ylabel)


def _budget_axis(ax, budgets) -> None:
    ax.set_xscale("log")
    ax.set_xticks(budgets, [format_tokens(b) for b in budgets])
    ax.xaxis.set_minor_locator(ticker.NullLocator())


def _mean_line(ax, rows: pd.DataFrame, color, label: str | None = None) -> None:
    """The seed mean: thick line with circles and its 95% CI as a shaded band."""
    rows = rows.sort_values("pretrain_tokens")
    if rows.empty:
        return
    x = rows["pretrain_tokens"]
    ax.fill_between(x, 100 * rows["ci_low"], 100 * rows["ci_high"], color=color, alpha=0.2, linewidth=0)
    ax.plot(x, 100 * rows["accuracy"], color=color, linewidth=2.4, marker="o", markersize=5, label=label)


def _seed_lines(ax, rows: pd.DataFrame, color) -> None:
    """Each replicate seed as a thin line with small markers (a marker shape per seed), then the seed mean."""
    for i, seed in enumerate(_seed_order(rows["seed"])):
        line = rows[rows["seed"] == seed].sort_values("pretrain_tokens")
        marker = ("v", "^", "<", ">", "D", "P")[i % 6]
        ax.plot(
            line["pretrain_tokens"],
            100 * line["accuracy"],
            color=tint(color, 0.3),
            linewidth=0.9,
            marker=marker,
            markersize=3.5,
            alpha=0.9,
        )
    _mean_line(ax, rows[rows["seed"] == SEED_MEAN], color)


@figure_function
def plot_base_accuracy_vs_budget(summary: pd.DataFrame, out_stem: Path, scorer: str = "custom_flexible") -> list[Path]:
    """Base-model accuracy (%) vs pre-training tokens (log x): one panel per model size with every replicate seed
    (thin) and their mean (thick, CI band over seeds then items); a second row has one panel per stratum with the
    seed mean of every size."""
    name = "base_accuracy_vs_budget"
    base = _gsm8k(summary, rl_step=0, reward_mode=BASE, scorer=scorer)
    overall = base[base["subset"] == "all"]
    if overall.empty:
        return skip(name, f"no base-model gsm8k 0-shot rows (subset all) with scorer {scorer!r}")
    if overall["pretrain_tokens"].nunique() < 2:
        return skip(name, "the base models were pre-trained on a single budget")
    strata_rows = base[(base["seed"] == SEED_MEAN) & base["subset"].isin(list(STRATA))]
    strata = [s for s in STRATA if s in set(strata_rows["subset"])]
    params = overall.groupby("model")["n_params"].max().sort_values(kind="stable")
    colors = size_colors(list(params.index))
    ncols, nrows = max(len(colors), len(strata)), 2 if strata else 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.0 * nrows), squeeze=False, sharex=True, sharey=True)
    for ax, (size, color) in zip(axes[0], colors.items(), strict=False):
        _seed_lines(ax, overall[overall["model"] == size], color)
        ax.set_title(f"{size}  ({format_params(params[size])} params)")
    for ax, stratum in zip(axes[-1] if strata else [], strata, strict=False):
        for size, color in colors.items():
            _mean_line(ax, strata_rows[(strata_rows["model"] == size) & (strata_rows["subset"] == stratum)], color)
        ax.set_title(STRATA[stratum])
    for row, used in zip(axes, (len(colors), len(strata)), strict=False):
        for ax in row[used:]:
            ax.set_visible(False)
    top = layout.percent_top(100 * pd.concat([overall, strata_rows])[["accuracy", "ci_high"]].max(axis=1))
    for ax in axes.ravel():
        _budget_axis(ax, sorted(base["pretrain_tokens"].unique()))
        layout.percent_axis(ax, "y", top)
    _label_grid(axes, "pre-training tokens (log scale)", "accuracy (%), all items")
    if strata:
        axes[1, 0].set_ylabel("accuracy (%) by stratum, seed mean")
    means = overall[overall["seed"] == SEED_MEAN]
    n_seeds = int(means["n_seeds"].max()) if not means.empty else len(_seed_order(overall["seed"]))
    handles = [Line2D([], [], color="0.6", linewidth=0.9, marker="v", markersize=3.5)]
    handles += [(Patch(color="0.3", alpha=0.2, linewidth=0), Line2D([], [], color="0.3", linewidth=2.4, marker="o"))]
    labels = ["one replicate seed", "seed mean, 95% CI"]
    handles += [Line2D([], [], color=c, linewidth=2.4) for c in colors.values()]
    labels += list(colors)
    layout.outside_legend(fig, handles, labels, title="line / model size")
    title = (
        f"Base-model GSM8K accuracy (0-shot, {scorer}) vs pre-training budget: {n_seeds} replicate seed(s) and "
        "their mean\n(bands: the mean's 95% bootstrap CI over seeds, then items)"
    )
    return finish(fig, out_stem, title)


def rl_gains(summary: pd.DataFrame, scorers=GAIN_SCORERS) -> pd.DataFrame:
    """One row per ``(model, pretrain_tokens, reward_mode, scorer)`` with RL (seed means, GSM8K 0-shot, all
    items): ``final_step`` (the mode's largest ``rl_step``), ``accuracy``/``ci_low``/``ci_high`` at it,
    ``base_accuracy``/``base_ci_low``/``base_ci_high`` at step 0, ``gain_pp`` and the final checkpoint's CI
    shifted by the base as ``err_low_pp``/``err_high_pp`` (error-bar lengths in pp)."""
    rows = _gsm8k(layout.select(summary, seed=SEED_MEAN), subset="all", scorer=list(scorers))
    rl = rows[(rows["rl_step"] > 0) & (rows["reward_mode"] != BASE)]
    final = rl[rl["rl_step"] == rl.groupby([*GROUP, "reward_mode"])["rl_step"].transform("max")]
    base = rows[rows["rl_step"] == 0].drop_duplicates([*GROUP, "scorer"])
    base = base[[*GROUP, "scorer", "accuracy", "ci_low", "ci_high"]].rename(
        columns={c: f"base_{c}" for c in ("accuracy", "ci_low", "ci_high")}
    )
    out = final.rename(columns={"rl_step": "final_step"}).merge(base, on=[*GROUP, "scorer"])
    out["gain_pp"] = 100 * (out["accuracy"] - out["base_accuracy"])
    out["err_low_pp"], out["err_high_pp"] = layout.percent_errors(out)
    columns = [
        *GROUP,
        "n_params",
        "reward_mode",
        "scorer",
        "final_step",
        "accuracy",
        "ci_low",
        "ci_high",
        "base_accuracy",
        "base_ci_low",
        "base_ci_high",
        "gain_pp",
        "err_low_pp",
        "err_high_pp",
    ]
    return out[columns].sort_values([*GROUP, "reward_mode", "scorer"], kind="stable").reset_index(drop=True)


def _gain_bars(ax, rows: pd.DataFrame, modes: list[str]) -> None:
    """Grouped bars of the gain (pp) per reward mode, one bar per scorer, with the gain written on each bar."""
    width = 0.8 / len(GAIN_SCORERS)
    for k, scorer in enumerate(GAIN_SCORERS):
        r = rows[rows["scorer"] == scorer]
        x = np.array([modes.index(m) for m in r["reward_mode"]]) + (k - (len(GAIN_SCORERS) - 1) / 2) * width
        ax.bar(x, r["gain_pp"], width=width, color=scorer_color(scorer, "0.4"), edgecolor="0.2", linewidth=0.5)
        err = np.vstack([r["err_low_pp"].to_numpy(), r["err_high_pp"].to_numpy()])
        ax.errorbar(x, r["gain_pp"], yerr=err, fmt="none", ecolor="0.15", capsize=2.5, elinewidth=0.8)
        for xi, gain, lo, hi in zip(x, r["gain_pp"], r["err_low_pp"], r["err_high_pp"], strict=True):
            y, va = (gain + hi, "bottom") if gain >= 0 else (gain - lo, "top")
            ax.annotate(
                f"{gain:+.1f}",
                (xi, y),
                xytext=(0, 2 if gain >= 0 else -2),
                textcoords="offset points",
                ha="center",
                va=va,
                fontsize=7,
            )
    ax.axhline(0, color="0.3", linewidth=0.8)
    steps = rows.drop_duplicates("reward_mode").set_index("reward_mode")["final_step"]
    ax.set_xticks(range(len(modes)), [f"{m}\n(step {steps[m]})" if m in steps else m for m in modes])
    ax.set_xlim(-0.6, len(modes) - 0.4)
    ax.margins(y=0.15)
    ax.grid(axis="x", visible=False)


def _continuation_bars(ax, rows: pd.DataFrame, modes: list[str], color) -> None:
    """Share (%) of responses continuing past their answer: the base model (hatched) and each mode after RL."""
    ax.set_xticks(range(len(modes) + 1), ["base", *modes])
    ax.grid(axis="x", visible=False)
    if rows.empty:
        ax.text(0.5, 0.5, "no continuation rows", ha="center", va="center", transform=ax.transAxes, color="0.4")
        return
    b = rows.iloc[[0]]
    base = pd.DataFrame({"accuracy": b["base_accuracy"], "ci_low": b["base_ci_low"], "ci_high": b["base_ci_high"]})
    x = np.array([1 + modes.index(m) for m in rows["reward_mode"]])
    for pos, r, face, hatch in ((np.array([0]), base, tint(color, 0.6), "///"), (x, rows, color, None)):
        ax.bar(pos, 100 * r["accuracy"], width=0.6, color=face, edgecolor=color, linewidth=0.8, hatch=hatch)
        ax.errorbar(
            pos,
            100 * r["accuracy"],
            yerr=layout.percent_errors(r),
            fmt="none",
            ecolor="0.15",
            capsize=2.5,
            elinewidth=0.8,
        )
    layout.percent_axis(ax, "y", layout.percent_top(100 * pd.concat([base, rows])["ci_high"].fillna(0)))


@figure_function
def plot_reward_mode_ablation(summary: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Per model with RL: grouped bars of the RL gain (pp) in custom_flexible and strict accuracy per reward mode
    (seed means; error bars = the final checkpoint's CI shifted by the base) and, when scored, the share (%) of
    responses that continue past their ``#### answer`` line at base and after RL per mode."""
    gains = rl_gains(summary)
    if gains.empty:
        return skip("reward_mode_ablation", "no RL checkpoint (seed means, gsm8k 0-shot) with its base model")
    cont = rl_gains(summary, (CONTINUES,))
    models = layout.models_in(model_table(summary), gains)
    modes = sorted(gains["reward_mode"].unique())
    nrows = 2 if not cont.empty else 1
    width = max(3.0, 1.0 * len(modes) + 1.4)
    fig, axes = plt.subplots(
        nrows, len(models), figsize=(width * len(models), 3.3 * nrows), squeeze=False, sharey="row"
    )
    for j, model in enumerate(models.itertuples()):
        _gain_bars(axes[0, j], _of(gains, model), modes)
        axes[0, j].set_title(f"{model.label}  ({format_params(model.n_params)} params)")
        if nrows == 2:
            _continuation_bars(axes[1, j], _of(cont, model), modes, model.color)
    axes[0, 0].set_ylabel("RL gain (pp): final step − base")
    if nrows == 2:
        axes[1, 0].set_ylabel("continues past '#### answer' (%)")
    for ax in axes[-1]:
        ax.set_xlabel("GRPO reward mode")
    handles = [Patch(facecolor=scorer_color(s, "0.4"), edgecolor="0.2") for s in GAIN_SCORERS]
    labels = [f"gain, {scorer_label(s)}" for s in GAIN_SCORERS]
    if nrows == 2:
        handles += [Patch(facecolor=tint("0.35", 0.6), edgecolor="0.35", hatch="///"), Patch(facecolor="0.35")]
        labels += ["continues: base (step 0)", "continues: after RL (final step)"]
    layout.outside_legend(fig, handles, labels, title="bars")
    title = (
        "Reward-mode ablation (seed means, GSM8K 0-shot): RL gain per reward mode\n"
        "error bars: final checkpoint's 95% CI shifted by the base accuracy (paired gain CIs: summary.md)"
    )
    return finish(fig, out_stem, title)


def _mode_lines(ax, base: pd.DataFrame, rl: pd.DataFrame, modes: list[str], dodge: float) -> None:
    """Accuracy (%) vs RL step per reward mode (colour) and scorer (line style), each mode's line from the base."""
    colors = _mode_colors(modes)
    for i, mode in enumerate(modes):
        for scorer, style in SCORER_LINES.items():
            line = pd.concat(
                [base[base["scorer"] == scorer], rl[(rl["reward_mode"] == mode) & (rl["scorer"] == scorer)]]
            )
            if line["rl_step"].gt(0).any():
                line = line.sort_values("rl_step")
                ax.errorbar(
                    line["rl_step"] + dodge * (i - (len(modes) - 1) / 2),
                    100 * line["accuracy"],
                    yerr=layout.percent_errors(line),
                    color=colors[mode],
                    linewidth=1.5,
                    markersize=4.5,
                    capsize=2.5,
                    elinewidth=0.8,
                    **style,
                )


@figure_function
def plot_accuracy_vs_rl_by_mode(summary: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Accuracy (%, seed means, GSM8K 0-shot, all items) vs RL step: custom_flexible (solid) and strict (dashed)
    per reward mode (colour), starting from the shared base model; one row of panels per model size, one panel
    per pre-training budget with RL."""
    rows = _gsm8k(layout.select(summary, seed=SEED_MEAN), subset="all", scorer=list(SCORER_LINES))
    rl = rows[(rows["rl_step"] > 0) & (rows["reward_mode"] != BASE)]
    if rl.empty:
        return skip("accuracy_vs_rl_by_mode", "no RL checkpoints (seed means, gsm8k 0-shot, custom_flexible/strict)")
    base = rows[rows["rl_step"] == 0].drop_duplicates([*GROUP, "scorer"])
    models = layout.models_in(model_table(summary), rl)
    sizes = list(dict.fromkeys(models["model"]))
    col = models.groupby("model", sort=False).cumcount().to_numpy()
    modes = sorted(rl["reward_mode"].unique())
    fig, axes = plt.subplots(
        len(sizes),
        int(col.max()) + 1,
        figsize=(3.8 * (col.max() + 1), 3.0 * len(sizes)),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for ax in axes.ravel():
        ax.set_visible(False)
    dodge = 0.008 * float(rl["rl_step"].max())
    for model, c in zip(models.itertuples(), col, strict=True):
        ax = axes[sizes.index(model.model), c]
        ax.set_visible(True)
        _mode_lines(ax, _of(base, model), _of(rl, model), modes, dodge)
        ax.set_title(f"{model.model} · {format_tokens(model.pretrain_tokens)} tok  ({format_params(model.n_params)})")
        ax.set_xticks(sorted({0, *_of(rl, model)["rl_step"]}))
    top = layout.plotted_top(pd.concat([base, rl]))
    for ax in axes.ravel():
        layout.percent_axis(ax, "y", top)
    _label_grid(axes, "RL (GRPO) step", "GSM8K accuracy (%), 0-shot")
    colors = _mode_colors(modes)
    handles = [Line2D([], [], color=colors[m], linewidth=2) for m in modes]
    handles += [Line2D([], [], color="0.3", **style) for style in SCORER_LINES.values()]
    labels = [f"reward: {m}" for m in modes] + [scorer_label(s) for s in SCORER_LINES]
    layout.outside_legend(fig, handles, labels, title="reward mode / scorer")
    return finish(fig, out_stem, "GSM8K accuracy during RL by reward mode (seed means, 95% CIs over seeds and items)")


def plot_dimensions(summary: pd.DataFrame, out_dir: str | Path) -> dict[str, list[Path]]:
    """Draw the dimension figures into ``out_dir``; maps figure name (= file stem) to the files written."""
    out_dir = Path(out_dir)
    return {
        "base_accuracy_vs_budget": plot_base_accuracy_vs_budget(summary, out_dir / "base_accuracy_vs_budget"),
        "reward_mode_ablation": plot_reward_mode_ablation(summary, out_dir / "reward_mode_ablation"),
        "accuracy_vs_rl_by_mode": plot_accuracy_vs_rl_by_mode(summary, out_dir / "accuracy_vs_rl_by_mode"),
    }
