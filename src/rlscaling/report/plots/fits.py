"""Figures of the scaling-law fits (matplotlib/seaborn, Agg backend, PNG + SVG written atomically).

Every ``plot_*`` function takes plain data (the ``fits.json`` dict, DataFrames) and an ``out_stem``
(path without suffix) and returns the written ``[<stem>.png, <stem>.svg]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from rlscaling.fit import FitConfig, percentile_ci, power_law, rl_sigmoid, select_rows
from rlscaling.fit.allocate import (
    JointLaw,
    allocation_table,
    default_budgets,
    iso_flop_curves,
)
from rlscaling.report.plots import save_figure
from rlscaling.report.plots.heldout import plot_heldout


def _style() -> None:
    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams["svg.hashsalt"] = "rlscaling"  # deterministic SVG element ids


def _band(draws, x: np.ndarray, fn, ci: float = 0.95):
    """Pointwise percentile band of ``fn(x, *params)`` over finite bootstrap parameter rows."""
    if draws is None:
        return None
    d = np.asarray(draws, dtype=float)
    d = d[np.all(np.isfinite(d), axis=1)] if d.size else d
    if len(d) < 10:
        return None
    return percentile_ci(np.stack([fn(x, *row) for row in d]), ci)


# --------------------------------------------------------------------------------------------------
# gain vs model size
# --------------------------------------------------------------------------------------------------


def gain_series_from_fits(fits: Mapping, seed_table: bool = False) -> list[dict]:
    """Series for ``plot_gain_vs_size`` from fits.json: the study's laws (one per pretrain budget), or
    with ``seed_table=True`` the seed's published table."""
    series = []
    if seed_table:
        seed = fits.get("seed_table")
        if seed and seed.get("a") is not None:
            series.append(
                {
                    "label": f"seed table {seed['benchmark']} (Qwen3, {seed['size_column']})",
                    "n_b": [p["n_params_b"] for p in seed["points"]],
                    "gain_pp": [p["gain_pp"] for p in seed["points"]],
                    "a": seed["a"],
                    "b": seed["b"],
                    "draws": seed.get("bootstrap_params"),
                }
            )
        return series
    for entry in fits.get("gain_power_law", []):
        pts = entry.get("points") or []
        ci = [(p["gain_ci_low"], p["gain_ci_high"]) for p in pts if "gain_ci_low" in p]
        series.append(
            {
                "label": f"this study, pretrain {entry['pretrain_tokens']:.3g} tokens",
                "n_b": [p["n_params"] / 1e9 for p in pts],
                "gain_pp": [p["gain_pp"] for p in pts],
                "gain_ci": ci if len(ci) == len(pts) else None,
                "a": entry.get("a"),
                "b": entry.get("b"),
                "draws": entry.get("bootstrap_params"),
                "reason": entry.get("reason"),
            }
        )
    return series


def _draw_gain_series(ax, s: Mapping, color, shift: float) -> None:
    """One series: measured gains (pp; with their paired CIs as error bars where given) at ``shift`` x N (side by
    side with the other series), and the fitted ``a N^b`` with its bootstrap band, or why it is missing."""
    n, g = np.asarray(s["n_b"], float), np.asarray(s["gain_pp"], float)
    if n.size == 0:  # e.g. a pre-training budget without RL runs
        ax.plot([], [], color=color, marker="o", ls="none", label=f"{s['label']}: no RL gains measured")
        return
    x = np.logspace(np.log10(n.min()) - 0.15, np.log10(n.max()) + 0.15, 200)
    if s.get("gain_ci") is not None:
        lo, hi = np.asarray(s["gain_ci"], float).T
        ax.errorbar(n * shift, g, yerr=[g - lo, hi - g], color=color, fmt="o", ms=5, capsize=3, zorder=3)
    else:
        ax.scatter(n * shift, g, color=color, zorder=3, s=30)
    if s.get("a") is not None:
        ax.plot(x, power_law(x, s["a"], s["b"]), color=color, label=f"{s['label']}: {s['a']:.3g}·N^{s['b']:.3f}")
        band = _band(s.get("draws"), x, power_law)
        if band is not None:
            ax.fill_between(x, *band, color=color, alpha=0.18, lw=0)
    else:
        ax.plot(
            [],
            [],
            color=color,
            marker="o",
            ls="none",
            label=f"{s['label']}: no power law (a gain is not positive)"
            if s.get("reason") and "positive" in str(s["reason"])
            else f"{s['label']}: not fitted ({s.get('reason') or 'no fit'})"[:90],
        )


def plot_gain_vs_size(
    series: Sequence[Mapping],
    out_stem: Path,
    *,
    title: str = "RL gain vs model size",
    reference: tuple[float, float, str] | None = None,
    points: Sequence[Mapping] = (),
) -> list[Path]:
    """Gain (percentage points) vs N (billions), fitted ``a N^b`` with 95% CI band per series; per-point paired
    gain CIs as error bars where the series has them (``gain_ci``).

    Log-log when every gain is positive; otherwise the gain axis is linear with a zero line, so measured
    non-positive gains (which a power law cannot fit) stay visible. ``reference = (a, b, label)`` draws a
    published law (dashed) for comparison; ``points`` are unfitted gains drawn over the series, each
    ``{"label", "n_b", "gain_pp", "marker", "color"}`` (e.g. the seed's published gains beside this run's).
    """
    _style()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    colors = sns.color_palette("colorblind", max(1, len(series)))
    all_n = [n for s in (*series, *points) for n in s["n_b"]]
    all_g = [g for s in (*series, *points) for g in s["gain_pp"]]
    all_low = [low for s in series for low, _ in (s.get("gain_ci") or [])]
    log_y = bool(all_g) and min(all_g + all_low) > 0
    if not all_n:
        reasons = "\n".join(sorted({str(s.get("reason")) for s in series if s.get("reason")}))
        ax.text(
            0.5,
            0.5,
            f"no gains to plot\n{reasons}",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            wrap=True,
        )
    else:
        for k, (s, color) in enumerate(zip(series, colors)):
            _draw_gain_series(ax, s, color, shift=1.0 + 0.04 * (k - (len(series) - 1) / 2))
        for p in points:
            ax.scatter(p["n_b"], p["gain_pp"], marker=p["marker"], color=p["color"], s=40, zorder=4, label=p["label"])
        if reference is not None:
            a, b, label = reference
            x = np.logspace(np.log10(min(all_n)) - 0.15, np.log10(max(all_n)) + 0.15, 200)
            ax.plot(x, power_law(x, a, b), color="0.3", ls="--", label=label)
        if not log_y:
            ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log" if log_y else "linear")
    if all_n and max(all_n) / min(all_n) < 30:  # under ~1.5 decades: label the measured sizes, not 2x10^-4 ...
        sizes = sorted(set(all_n))
        ax.set_xticks(sizes, [f"{n:.3g}" for n in sizes])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("model size N (billion parameters)")
    ax.set_ylabel("gain from RL (percentage points)")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best", framealpha=0.9)
    return save_figure(fig, out_stem)


# --------------------------------------------------------------------------------------------------
# RL curves with fitted sigmoids
# --------------------------------------------------------------------------------------------------


def _draw_sigmoid(ax, entry: Mapping, color, x_base: float, hi: float) -> None:
    """A fitted sigmoid: solid over the measured C_rl range (FLOPs, up to ``hi``), dashed beyond it (extrapolation)."""
    params = (entry["R0"], entry["A"], entry["C_mid"], entry["B"])
    xc = np.logspace(np.log10(x_base) + 0.3, np.log10(hi), 200)
    ax.plot(xc, rl_sigmoid(xc, *params), color=color)
    xe = np.logspace(np.log10(hi), np.log10(hi) + 0.3, 30)
    ax.plot(xe, rl_sigmoid(xe, *params), color=color, ls="--", lw=0.9)


def plot_rl_curves(rows: pd.DataFrame, fits: Mapping, out_stem: Path) -> list[Path]:
    """Accuracy vs C_rl (FLOPs, log) per model, one panel per pretrain budget; fitted sigmoids where fitted.

    Base models (C_rl = 0) are drawn at the left edge, on a tick labelled "base".
    """
    _style()
    budgets = sorted(rows["pretrain_tokens"].unique())
    models = list(rows.sort_values("n_params")["model"].unique())
    colors = dict(zip(models, sns.color_palette("viridis", len(models))))
    sig = {(e["model"], e["pretrain_tokens"]): e for e in fits.get("rl_sigmoid", [])}
    pos = rows.loc[rows["c_rl"] > 0, "c_rl"]
    lo, hi = (pos.min(), pos.max()) if len(pos) else (1.0, 10.0)
    x_base = lo / 10**1.2
    decades = np.arange(np.ceil(np.log10(x_base) + 0.6), np.floor(np.log10(hi * 3)) + 1)
    fig, axes = plt.subplots(1, len(budgets), figsize=(5.2 * len(budgets), 4.2), sharey=True, squeeze=False)
    notes = []
    for ax, budget in zip(axes[0], budgets):
        for model in models:
            g = rows[(rows["model"] == model) & (rows["pretrain_tokens"] == budget)].sort_values("c_rl")
            if g.empty:
                continue
            x = np.where(g["c_rl"] > 0, g["c_rl"], x_base)
            yerr = None
            if {"ci_low", "ci_high"} <= set(g.columns):
                yerr = np.clip([g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]], 0, None)
            ax.errorbar(
                x,
                g["accuracy"],
                yerr=yerr,
                fmt="o",
                color=colors[model],
                ms=4,
                capsize=2,
                label=f"{model} ({g['n_params'].iloc[0]:.3g} params)",
            )
            entry = sig.get((model, float(budget)))
            if entry and entry.get("status") == "ok":
                _draw_sigmoid(ax, entry, colors[model], x_base, hi)
            else:  # no fitted curve: join the measurements so each model's trajectory stays readable
                ax.plot(x, g["accuracy"], color=colors[model], lw=0.9, ls=":")
                if entry:
                    notes.append(entry.get("reason", ""))
        ax.set_xscale("log")
        ax.set_xticks([x_base, *10.0**decades], ["base", *[f"$10^{{{int(d)}}}$" for d in decades]])
        ax.minorticks_off()
        ax.axvline(x_base * 10**0.4, color="0.6", lw=0.8, ls=":")
        ax.set_xlim(x_base / 2, hi * 10**0.4)
        ax.set_xlabel("RL compute C_rl (FLOPs)")
        ax.set_title(f"pretrain {budget:.3g} tokens")
    axes[0, 0].set_ylabel("accuracy (fraction)")
    axes[0, -1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if notes:
        fig.text(0.01, -0.02, f"sigmoid not fitted for some curves: {sorted(set(notes))[0]}", fontsize=8)
    fig.suptitle("RL curves: ScaleRL sigmoid R(C) = R0 + (A - R0) / (1 + (C_mid/C)^B)", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out_stem)


# --------------------------------------------------------------------------------------------------
# iso-FLOP curves and the optimal split
# --------------------------------------------------------------------------------------------------


def _iso_panel(ax, curves: pd.DataFrame, table: pd.DataFrame, colors, x: str, lo: str, hi: str) -> None:
    """Accuracy along ``x`` per budget; the optimum as a dot with its 95% CI as a horizontal bar."""
    for color, (_, row) in zip(colors, table.iterrows()):
        c = curves[curves["budget_flops"] == row["budget_flops"]]
        ax.plot(
            c[x],
            c["accuracy"],
            color=color,
            ls="--" if row["extrapolated"] else "-",
            label=f"C = {row['budget_flops']:.2g} FLOPs",
        )
        xerr = None
        if np.isfinite(row[lo]) and np.isfinite(row[hi]):
            xerr = [[max(row[x] - row[lo], 0)], [max(row[hi] - row[x], 0)]]
        ax.errorbar([row[x]], [row["accuracy"]], xerr=xerr, fmt="o", color=color, mec="k", capsize=3, zorder=3)


def plot_iso_flop(law: JointLaw, out_stem: Path, budgets: Sequence[float] | None = None) -> list[Path]:
    """Iso-FLOP curves of the allocation law. Left: predicted accuracy vs pre-training fraction (N, D optimal for
    each fraction). Middle: accuracy vs model size N (best fraction for each N). Dots = optimum, bars = its 95%
    bootstrap CI, dashed = extrapolated. Right: optimal fraction vs budget (FLOPs) with its CI."""
    _style()
    budgets = default_budgets(law, n=5) if budgets is None else np.asarray(budgets, float)
    table = allocation_table(law, budgets)
    curves = iso_flop_curves(law, budgets)
    colors = sns.color_palette("rocket_r", len(budgets) + 1)[1:]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.6))
    _iso_panel(ax1, curves[curves["curve"] == "fraction"], table, colors, "f_pretrain", "f_ci_low", "f_ci_high")
    ax1.set_xlabel("pre-training fraction f = C_pretrain / C")
    ax1.set_ylabel("predicted accuracy (fraction)")
    ax1.set_title("iso-FLOP: accuracy vs pre-training fraction", fontsize=10)
    ax1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    if law.law.separates_size:
        _iso_panel(ax2, curves[curves["curve"] == "size"], table, colors, "n_params", "n_ci_low", "n_ci_high")
        ax2.axvspan(*law.fitted_range["n_params"], color="0.85", alpha=0.5, lw=0, label="fitted N range")
        ax2.set_xscale("log")
        ax2.legend(handles=ax2.get_legend_handles_labels()[0][-1:], fontsize=8, loc="lower center")
    else:
        ax2.text(
            0.5,
            0.5,
            f"{law.form} law sees only C_pretrain:\nno curve over model size",
            ha="center",
            va="center",
            transform=ax2.transAxes,
            fontsize=9,
        )
    ax2.set_xlabel("model size N (parameters); D = f C / 6N")
    ax2.set_title("iso-FLOP: accuracy vs model size", fontsize=10)
    b = table["budget_flops"].to_numpy()
    ax3.fill_between(b, table["f_ci_low"], table["f_ci_high"], color="C0", alpha=0.2, lw=0, label="95% CI")
    ax3.plot(b, table["f_pretrain"], color="C0")
    inside = ~table["extrapolated"].to_numpy(bool)
    ax3.plot(b[inside], table["f_pretrain"][inside], "o", color="C0", label="inside fitted range")
    ax3.plot(b[~inside], table["f_pretrain"][~inside], "o", mfc="white", color="C0", label="extrapolated")
    ax3.axvspan(*law.c_total_range, color="0.85", alpha=0.5, lw=0, label="fitted total compute")
    ax3.set_xscale("log")
    ax3.set_ylim(0, 1.02)
    ax3.set_xlabel("total compute budget C (FLOPs)")
    ax3.set_ylabel("optimal pre-training fraction f*")
    ax3.set_title("compute-optimal split", fontsize=10)
    ax3.legend(fontsize=8, loc="best")
    fig.suptitle(f"Allocation law: {law.form} ({law.law.formula})", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, out_stem)


# --------------------------------------------------------------------------------------------------
# extrapolation to the largest model
# --------------------------------------------------------------------------------------------------


def plot_extrapolation(extrapolation: Mapping, out_stem: Path) -> list[Path]:
    """Observed vs predicted accuracy of the held-out largest model (fit without it), 95% CI bars."""
    _style()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    pts = pd.DataFrame(extrapolation.get("points", []))
    if pts.empty:
        ax.text(
            0.5,
            0.5,
            f"no extrapolation check:\n{extrapolation.get('reason', '')}",
            transform=ax.transAxes,
            ha="center",
            wrap=True,
        )
    else:
        for (tokens, g), color in zip(pts.groupby("pretrain_tokens"), sns.color_palette("colorblind")):
            yerr = np.clip([g["predicted"] - g["pred_ci_low"], g["pred_ci_high"] - g["predicted"]], 0, None)
            ax.errorbar(
                g["observed"],
                g["predicted"],
                yerr=None if np.isnan(yerr).all() else yerr,
                fmt="o",
                color=color,
                capsize=3,
                label=f"pretrain {tokens:.3g} tokens",
            )
        lims = [
            min(pts["observed"].min(), pts["pred_ci_low"].min(skipna=True)) - 0.03,
            max(pts["observed"].max(), pts["pred_ci_high"].max(skipna=True)) + 0.03,
        ]
        ax.plot(lims, lims, color="0.4", ls="--", lw=1, label="perfect prediction")
        ax.set_xlim(lims)
        ax.set_ylim(lims)
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(
            f"held-out {extrapolation['held_out_model']}: MAE {extrapolation['mae']:.3f}, "
            f"{100 * extrapolation['coverage']:.0f}% inside CI",
            fontsize=10,
        )
    ax.set_xlabel("observed accuracy (fraction)")
    ax.set_ylabel("predicted accuracy, fit without it (fraction)")
    return save_figure(fig, out_stem)


def _seed_comparison_points(seed_comparison: pd.DataFrame | None) -> list[dict]:
    """The seed's published gains and this run's on the same cells
    (``rlscaling.report.seed_comparison.gain_points``)."""
    from rlscaling.report.seed_comparison import gain_points

    pts = gain_points(seed_comparison) if seed_comparison is not None else pd.DataFrame()
    if pts.empty:
        return []
    n_b = (pts["n_params"] / 1e9).tolist()
    return [
        {
            "label": "seed result files (published)",
            "n_b": n_b,
            "gain_pp": pts["published_gain_pp"],
            "marker": "x",
            "color": "0.1",
        },
        {
            "label": "this run, same cells (seed scorer)",
            "n_b": n_b,
            "gain_pp": pts["ours_gain_pp"],
            "marker": "D",
            "color": "tab:red",
        },
    ]


def plot_all_fits(
    fits: Mapping, summary: pd.DataFrame, out_dir: Path, seed_comparison: pd.DataFrame | None = None
) -> list[Path]:
    """Every fit figure for one fits.json into ``out_dir``; skips figures whose fit failed. ``seed_comparison``
    (``results/seed_comparison.csv``) puts the seed's published gains, and this run's, on the seed's gain figure."""
    out_dir = Path(out_dir)
    sel = fits["selection"]
    paths = plot_gain_vs_size(
        gain_series_from_fits(fits),
        out_dir / "fit_gain_vs_size",
        title=f"RL gain vs model size ({sel['benchmark']}, {sel['scorer']}, "
        f"{sel['shots']}-shot); bars and band = 95% CI",
    )
    if fits.get("seed_table"):
        paths += plot_gain_vs_size(
            gain_series_from_fits(fits, seed_table=True),
            out_dir / "fit_gain_vs_size_seed",
            title="Seed table: GSM8K gain vs size; band = 95% CI",
            reference=(10.7, 0.194, "seed write-up: 10.7·N^0.194 (as stated)"),
            points=_seed_comparison_points(seed_comparison),
        )
    cfg = FitConfig(benchmark=sel["benchmark"], scorer=sel["scorer"], shots=sel["shots"], subset=sel["subset"])
    paths += plot_rl_curves(select_rows(summary, cfg), fits, out_dir / "fit_rl_curves")
    if fits.get("joint_law", {}).get("allocation_form") or fits.get("joint_law", {}).get("chosen"):
        law = JointLaw.from_fits(fits)
        budgets = fits.get("allocation_budgets") or None
        paths += plot_iso_flop(law, out_dir / "fit_iso_flop", budgets=budgets[:6] if budgets else None)
    paths += plot_extrapolation(fits.get("extrapolation", {}), out_dir / "fit_extrapolation")
    paths += plot_heldout(fits, out_dir / "fit_heldout")
    return paths
