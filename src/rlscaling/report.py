"""``results/summary.md``: the study's tables, in the layout of the seed write-up.

Accuracies are reported in percent with one decimal and their 95% percentile-bootstrap CIs over items
(the ``ci_low``/``ci_high`` columns of ``summary.csv``). "Baseline" is ``rl_step == 0``; "after RL" is the final
checkpoint (largest ``rl_step`` of that ``(model, pretrain_tokens)``). Gains are in percentage points (pp);
their CI comes from a paired bootstrap over items when per-item records are given, and is reported as
unavailable otherwise (the two marginal CIs cannot be combined into a paired one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlscaling.io import write_text
from rlscaling.plots import (
    BENCHMARK_TITLES,
    DEFAULT_SCORER,
    GSM8K_SCORERS,
    MAJ_AT_N,
    PASS_AT_K,
    format_params,
    format_tokens,
    model_table,
    validate_summary,
)

RECORD_COLUMNS = ("model", "pretrain_tokens", "rl_step", "benchmark", "subset", "shots", "scorer", "item_id",
                  "score")
GAIN_COLUMNS = ("model", "pretrain_tokens", "n_params", "base", "final", "gain", "gain_ci_low", "gain_ci_high")
CI_LEVEL = 0.95
MISSING = "–"


# ---------------------------------------------------------------------------------------------------------
# Paired bootstrap
# ---------------------------------------------------------------------------------------------------------


def paired_bootstrap_ci(
    base_scores: np.ndarray, final_scores: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = CI_LEVEL
) -> tuple[float, float]:
    """Percentile CI (fractions) of ``mean(final - base)`` resampling *items* with replacement.

    ``base_scores[i]`` and ``final_scores[i]`` are the same item's scores at the two checkpoints; pairing keeps
    the strong per-item correlation, so the CI is much tighter than one built from two independent samples.
    """
    base = np.asarray(base_scores, dtype=float)
    final = np.asarray(final_scores, dtype=float)
    if base.shape != final.shape or base.ndim != 1:
        raise ValueError(f"paired scores must be 1-D and aligned, got shapes {base.shape} and {final.shape}")
    if base.size == 0:
        return math.nan, math.nan
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    diffs = final - base
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // diffs.size)  # bound memory for large benchmarks
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        idx = rng.integers(0, diffs.size, size=(stop - start, diffs.size))
        means[start:stop] = diffs[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def validate_records(records: pd.DataFrame) -> pd.DataFrame:
    """Typed copy of per-item records; ``ValueError`` naming any missing column."""
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"per-item records are missing column(s) {missing}; expected {list(RECORD_COLUMNS)}")
    df = records.copy()
    df["pretrain_tokens"] = pd.to_numeric(df["pretrain_tokens"]).astype(float)
    df["rl_step"] = pd.to_numeric(df["rl_step"]).astype(int)
    df["shots"] = pd.to_numeric(df["shots"]).astype(int)
    df["score"] = pd.to_numeric(df["score"]).astype(float)
    for col in ("model", "benchmark", "subset", "scorer", "item_id"):
        df[col] = df[col].astype(str)
    return df


def _item_scores(records: pd.DataFrame, step: int, where: str) -> pd.Series:
    """Scores indexed by item_id for one checkpoint; duplicated items are an error naming ``where``."""
    rows = records[records["rl_step"] == step]
    duplicated = rows["item_id"].duplicated()
    if duplicated.any():
        example = rows.loc[duplicated, "item_id"].iloc[0]
        raise ValueError(f"records for {where} step {step} list item {example!r} more than once")
    return rows.set_index("item_id")["score"]


def _paired_scores(
    records: pd.DataFrame, model: str, tokens: float, final_step: int, benchmark: str, subset: str,
    shots: int, scorer: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned (base, final) item scores of one model; items scored at only one checkpoint are dropped.

    For ``subset == 'all'`` records tagged with a MATH subject count too when no ``all`` records exist.
    """
    sel = records[
        (records["model"] == model)
        & np.isclose(records["pretrain_tokens"], tokens, rtol=1e-9)
        & (records["benchmark"] == benchmark)
        & (records["shots"] == shots)
        & (records["scorer"] == scorer)
    ]
    if subset != "all" or (sel["subset"] == "all").any():
        sel = sel[sel["subset"] == subset]
    where = f"{model} ({format_tokens(tokens)} tokens) {benchmark}/{subset} {shots}-shot {scorer}"
    base = _item_scores(sel, 0, where)
    final = _item_scores(sel, final_step, where)
    common = base.index.intersection(final.index)
    return base.loc[common].to_numpy(), final.loc[common].to_numpy()


# ---------------------------------------------------------------------------------------------------------
# Tables (DataFrames)
# ---------------------------------------------------------------------------------------------------------


def rl_gain_table(
    summary: pd.DataFrame,
    records: pd.DataFrame | None = None,
    benchmark: str = "gsm8k",
    scorer: str = "custom_flexible",
    shots: int = 0,
    n_boot: int = 1000,
    seed: int = 0,
    subset: str = "all",
) -> pd.DataFrame:
    """Baseline vs final-checkpoint accuracy per ``(model, pretrain_tokens)`` (fractions, not percent).

    Columns ``model, pretrain_tokens, n_params, base, final, gain, gain_ci_low, gain_ci_high`` then
    ``final_step, base_ci_low, base_ci_high, final_ci_low, final_ci_high, n_items, n_paired``. ``base``/``final``
    are NaN where that checkpoint was not evaluated. The gain CI is a paired bootstrap over the items scored at
    both checkpoints (``n_paired``) when ``records`` are given, NaN otherwise. Models with no row for this
    benchmark/subset/shots/scorer are left out.
    """
    summary = validate_summary(summary)
    recs = validate_records(records) if records is not None else None
    models = model_table(summary)
    sel = summary[
        (summary["benchmark"] == benchmark) & (summary["subset"] == subset) & (summary["shots"] == shots)
        & (summary["scorer"] == scorer)
    ]
    rows = []
    for m in models.itertuples():
        mine = sel[(sel["model"] == m.model) & (sel["pretrain_tokens"] == m.pretrain_tokens)]
        base = mine[mine["rl_step"] == 0]
        final = mine[mine["rl_step"] == m.final_step] if m.final_step > 0 else mine.iloc[0:0]
        if base.empty and final.empty:
            continue
        for part, name in ((base, "base"), (final, "final")):
            if len(part) > 1:
                raise ValueError(f"summary has {len(part)} rows for {m.model} ({format_tokens(m.pretrain_tokens)}"
                                 f" tokens) {benchmark}/{subset} {shots}-shot {scorer} at the {name} checkpoint")
        b = base.iloc[0] if not base.empty else None
        f = final.iloc[0] if not final.empty else None
        low = high = math.nan
        n_paired = 0
        if recs is not None and b is not None and f is not None:
            base_scores, final_scores = _paired_scores(recs, m.model, m.pretrain_tokens, m.final_step, benchmark,
                                                       subset, shots, scorer)
            n_paired = int(base_scores.size)
            low, high = paired_bootstrap_ci(base_scores, final_scores, n_boot=n_boot, seed=seed)
        rows.append({
            "model": m.model,
            "pretrain_tokens": m.pretrain_tokens,
            "n_params": m.n_params,
            "base": b["accuracy"] if b is not None else math.nan,
            "final": f["accuracy"] if f is not None else math.nan,
            "gain": (f["accuracy"] - b["accuracy"]) if b is not None and f is not None else math.nan,
            "gain_ci_low": low,
            "gain_ci_high": high,
            "final_step": int(m.final_step),
            "base_ci_low": b["ci_low"] if b is not None else math.nan,
            "base_ci_high": b["ci_high"] if b is not None else math.nan,
            "final_ci_low": f["ci_low"] if f is not None else math.nan,
            "final_ci_high": f["ci_high"] if f is not None else math.nan,
            "n_items": int((f if f is not None else b)["n_items"]),
            "n_paired": n_paired,
        })
    columns = list(GAIN_COLUMNS) + ["final_step", "base_ci_low", "base_ci_high", "final_ci_low", "final_ci_high",
                                    "n_items", "n_paired"]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------------------------------
# Markdown formatting
# ---------------------------------------------------------------------------------------------------------


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(float(x))


def fmt_pct(fraction: float) -> str:
    """``0.4071`` -> ``40.7%``; missing -> ``–``."""
    return f"{100 * fraction:.1f}%" if _finite(fraction) else MISSING


def fmt_ci(low: float, high: float) -> str:
    """``[37.1, 44.2]`` in percent; empty when either bound is missing."""
    return f" [{100 * low:.1f}, {100 * high:.1f}]" if _finite(low) and _finite(high) else ""


def fmt_gain(gain: float) -> str:
    """``0.276`` -> ``+27.6 pp``."""
    return f"{100 * gain:+.1f} pp" if _finite(gain) else MISSING


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """GitHub-flavoured markdown table (``|`` in cells escaped)."""
    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _labels(summary: pd.DataFrame) -> dict[tuple[str, float], str]:
    models = model_table(summary)
    return {(m.model, m.pretrain_tokens): m.label for m in models.itertuples()}


def _gain_rows(table: pd.DataFrame, labels: Mapping[tuple[str, float], str]) -> list[list[str]]:
    return [
        [
            labels[(r.model, r.pretrain_tokens)], format_params(r.n_params), format_tokens(r.pretrain_tokens),
            str(r.final_step), str(r.n_items),
            fmt_pct(r.base) + fmt_ci(r.base_ci_low, r.base_ci_high),
            fmt_pct(r.final) + fmt_ci(r.final_ci_low, r.final_ci_high),
            fmt_gain(r.gain) + fmt_ci(r.gain_ci_low, r.gain_ci_high),
        ]
        for r in table.itertuples()
    ]


def _gain_ci_note(table: pd.DataFrame, records_given: bool, n_boot: int) -> str:
    if not records_given:
        return ("Gain CI unavailable: no per-item records were given, and a paired CI cannot be derived from "
                "the two marginal CIs.")
    paired = table["n_paired"]
    return (f"Gain CI: paired bootstrap over items scored at both checkpoints ({n_boot} resamples; "
            f"{int(paired.min())}–{int(paired.max())} items per model).")


def _section_gains(summary, records, n_boot, seed, labels) -> list[str]:
    out = ["## RL gains by model size", ""]
    headers = ["Model", "Params", "Pretrain tokens", "Final step", "Items", "Baseline [95% CI]",
               "After RL [95% CI]", "Gain [95% CI]"]
    for benchmark, scorer in DEFAULT_SCORER.items():
        present = summary[(summary["benchmark"] == benchmark) & (summary["scorer"] == scorer)
                          & (summary["subset"] == "all")]
        if present.empty:
            continue
        shots = 0 if (present["shots"] == 0).any() else int(present["shots"].min())
        table = rl_gain_table(summary, records, benchmark=benchmark, scorer=scorer, shots=shots, n_boot=n_boot,
                              seed=seed)
        title = BENCHMARK_TITLES.get(benchmark, benchmark)
        out += [f"### {title} ({shots}-shot, `{scorer}`)", "", md_table(headers, _gain_rows(table, labels)), "",
                _gain_ci_note(table, records is not None, n_boot), ""]
    return out


def _section_methods(summary, records, n_boot, seed, labels) -> list[str]:
    gsm = summary[(summary["benchmark"] == "gsm8k") & (summary["shots"] == 0) & (summary["subset"] == "all")]
    scorers = [s for s in GSM8K_SCORERS if s in set(gsm["scorer"])]
    if not scorers:
        return []
    rows = []
    tables = {s: rl_gain_table(summary, records, "gsm8k", s, 0, n_boot, seed) for s in scorers}
    for key, label in labels.items():
        for scorer in scorers:
            t = tables[scorer]
            hit = t[(t["model"] == key[0]) & (t["pretrain_tokens"] == key[1])]
            if hit.empty:
                continue
            r = hit.iloc[0]
            rows.append([label, f"`{scorer}`", fmt_pct(r["base"]) + fmt_ci(r["base_ci_low"], r["base_ci_high"]),
                         fmt_pct(r["final"]) + fmt_ci(r["final_ci_low"], r["final_ci_high"]),
                         fmt_gain(r["gain"]) + fmt_ci(r["gain_ci_low"], r["gain_ci_high"])])
    headers = ["Model", "Method", "Baseline [95% CI]", "After RL [95% CI]", "Gain [95% CI]"]
    return ["## Evaluation method (GSM8K, 0-shot)", "",
            "`strict` needs the `#### <number>` format; `flexible` takes the last number; `custom_flexible` "
            "cuts the response at the first `####` and then takes the last number.", "",
            md_table(headers, rows), ""]


def _section_fewshot(summary, labels) -> list[str]:
    models = model_table(summary)
    gsm = summary[(summary["benchmark"] == "gsm8k") & (summary["subset"] == "all")
                  & summary["scorer"].isin(GSM8K_SCORERS)]
    gsm = gsm.merge(models[["model", "pretrain_tokens", "final_step"]], on=["model", "pretrain_tokens"])
    gsm = gsm[(gsm["rl_step"] == 0) | (gsm["rl_step"] == gsm["final_step"])]
    shots = sorted(gsm["shots"].unique())
    if len(shots) < 2:
        return []
    rows = []
    for key, label in labels.items():
        mine = gsm[(gsm["model"] == key[0]) & (gsm["pretrain_tokens"] == key[1])]
        for scorer in GSM8K_SCORERS:
            for step, stage in sorted({(int(s), "baseline" if s == 0 else "after RL") for s in mine["rl_step"]}):
                cur = mine[(mine["scorer"] == scorer) & (mine["rl_step"] == step)].set_index("shots")["accuracy"]
                if cur.empty:
                    continue
                rows.append([label, f"`{scorer}`", f"{stage} (step {step})"]
                            + [fmt_pct(cur.get(k, math.nan)) for k in shots])
    headers = ["Model", "Scorer", "Checkpoint"] + [f"{k}-shot" for k in shots]
    return ["## Few-shot collapse (GSM8K accuracy vs number of examples)", "",
            "A base model that solves the problem but keeps generating new `Question:` blocks after its answer "
            "fails `strict` scoring; `custom_flexible` removes that artifact. CIs: `summary.csv` and the "
            "accuracy-vs-shots figure.", "", md_table(headers, rows), ""]


def _section_pass_at_k(summary, labels) -> list[str]:
    models = model_table(summary)
    df = summary[summary["scorer"].str.match(PASS_AT_K) & (summary["subset"] == "all")].copy()
    if df.empty:
        return []
    df["k"] = df["scorer"].str.extract(PASS_AT_K, expand=False).astype(int)
    df = df.merge(models[["model", "pretrain_tokens", "final_step"]], on=["model", "pretrain_tokens"])
    df = df[(df["rl_step"] == 0) | (df["rl_step"] == df["final_step"])]
    maj = summary[summary["scorer"].str.match(MAJ_AT_N) & (summary["subset"] == "all")]
    out = ["## pass@k before and after RL", ""]
    if not maj.empty:
        out += ["maj@n: majority vote over the same n samples (ties to the answer sampled first). Where it exceeds "
                "greedy accuracy, sharpening the policy (what RL does first) can lift greedy accuracy; where it "
                "does not, RL must teach something new.", ""]
    for (benchmark, shots), part in df.groupby(["benchmark", "shots"]):
        ks = sorted(part["k"].unique())
        mine_maj = maj[(maj["benchmark"] == benchmark) & (maj["shots"] == shots)]
        maj_names = sorted(mine_maj["scorer"].unique())
        rows = []
        for key, label in labels.items():
            mine = part[(part["model"] == key[0]) & (part["pretrain_tokens"] == key[1])]
            for step in sorted(mine["rl_step"].unique()):
                cur = mine[mine["rl_step"] == step].set_index("k")["accuracy"]
                stage = "baseline" if step == 0 else "after RL"
                vote = mine_maj[(mine_maj["model"] == key[0]) & (mine_maj["pretrain_tokens"] == key[1])
                                & (mine_maj["rl_step"] == step)].set_index("scorer")["accuracy"]
                rows.append([label, f"{stage} (step {step})"] + [fmt_pct(cur.get(k, math.nan)) for k in ks]
                            + [fmt_pct(vote.get(m, math.nan)) for m in maj_names])
        title = BENCHMARK_TITLES.get(benchmark, benchmark)
        out += [f"### {title} ({shots}-shot)", "",
                md_table(["Model", "Checkpoint"] + [f"pass@{k}" for k in ks] + maj_names, rows), ""]
    return out


def _section_loss(summary, labels) -> list[str]:
    df = summary[(summary["scorer"] == "loss") & (summary["rl_step"] == 0) & (summary["subset"] == "all")]
    if df.empty:
        return []
    rows = []
    for r in df.sort_values(["benchmark", "n_params", "pretrain_tokens"]).itertuples():
        rows.append([labels[(r.model, r.pretrain_tokens)], BENCHMARK_TITLES.get(r.benchmark, r.benchmark),
                     format_params(r.n_params), format_tokens(r.pretrain_tokens), f"{r.c_pretrain:.3g}",
                     f"{r.accuracy:.3f}", f"{math.exp(r.accuracy):.2f}"])
    headers = ["Model", "Dataset", "Params", "Pretrain tokens", "C_pretrain (FLOPs)", "Loss (nats/token)",
               "Perplexity"]
    return ["## Validation loss of the base models", "", md_table(headers, rows), ""]


def _section_math_subjects(summary, labels) -> list[str]:
    subjects = sorted(set(summary.loc[(summary["benchmark"] == "math") & (summary["subset"] != "all")
                                      & (summary["scorer"] == "math_verify"), "subset"]))
    if not subjects:
        return []
    rows = []
    for subject in subjects:
        table = rl_gain_table(summary, benchmark="math", scorer="math_verify", subset=subject)
        for r in table.itertuples():
            rows.append([labels[(r.model, r.pretrain_tokens)], subject, fmt_pct(r.base), fmt_pct(r.final),
                         fmt_gain(r.gain)])
    order = {label: i for i, label in enumerate(labels.values())}
    rows.sort(key=lambda row: (order[row[0]], row[1]))
    return ["## MATH by subject (0-shot, `math_verify`)", "",
            md_table(["Model", "Subject", "Baseline", "After RL", "Gain"], rows), ""]


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Scalar leaves of a nested fits dict as (dotted key, formatted value)."""
    if isinstance(obj, Mapping):
        out = []
        for key, value in obj.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(obj, (list, tuple)) and all(_finite(v) or v is None for v in obj):
        if len(obj) <= 4:
            return [(prefix, "[" + ", ".join(MISSING if v is None else f"{v:.4g}" for v in obj) + "]")]
        return [(prefix, f"({len(obj)} values)")]
    if isinstance(obj, (list, tuple)):
        out = []
        for i, value in enumerate(obj):
            out += _flatten(value, f"{prefix}[{i}]")
        return out
    if isinstance(obj, bool) or obj is None:
        return [(prefix, str(obj))]
    if _finite(obj):
        return [(prefix, f"{obj:.4g}")]
    return [(prefix, str(obj))]


def _section_fits(fits: Mapping[str, Any] | None) -> list[str]:
    if not fits:
        return []
    out = ["## Fits", "", "Parameters and bootstrap CIs from `fits/fits.json`.", ""]
    for name, fit in fits.items():
        out += [f"### {name}", "", md_table(["Quantity", "Value"], _flatten(fit)), ""]
    return out


# ---------------------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------------------


def render_summary_md(
    summary: pd.DataFrame,
    fits: Mapping[str, Any] | None = None,
    records: pd.DataFrame | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> str:
    """The markdown text of ``summary.md`` (see :func:`write_summary_md`)."""
    summary = validate_summary(summary)
    if summary.empty:
        raise ValueError("summary.csv has no rows: nothing to report")
    labels = _labels(summary)
    studies = ", ".join(sorted(summary["study"].unique()))
    lines = [
        f"# RL scaling study: results summary ({studies})", "",
        "Accuracies in percent of benchmark items (one decimal) with 95% percentile-bootstrap CIs over items in "
        "brackets. *Baseline* = base model (RL step 0); *after RL* = final GRPO checkpoint of that model. Gains "
        "in percentage points (pp).", "",
    ]
    lines += _section_gains(summary, records, n_boot, seed, labels)
    lines += _section_methods(summary, records, n_boot, seed, labels)
    lines += _section_fewshot(summary, labels)
    lines += _section_math_subjects(summary, labels)
    lines += _section_pass_at_k(summary, labels)
    lines += _section_loss(summary, labels)
    lines += _section_fits(fits)
    return "\n".join(lines).rstrip() + "\n"


def write_summary_md(
    summary: pd.DataFrame,
    out_path: str | Path,
    fits: Mapping[str, Any] | None = None,
    records: pd.DataFrame | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Path:
    """Write ``results/summary.md`` atomically: gain tables per benchmark (GSM8K/MATH/MMLU), the
    evaluation-method table, the few-shot collapse table, and — when present — MATH by subject, pass@k,
    validation loss and the fits. ``records`` (per-item scores, :data:`RECORD_COLUMNS`) enable paired gain CIs."""
    out_path = Path(out_path)
    write_text(out_path, render_summary_md(summary, fits=fits, records=records, n_boot=n_boot, seed=seed))
    return out_path
