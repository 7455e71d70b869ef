"""``results/summary.md``: the study's tables, in the layout of the seed write-up.

Accuracies are reported in percent with one decimal and their 95% percentile-bootstrap CIs over items
(the ``ci_low``/``ci_high`` columns of ``summary.csv``). "Baseline" is ``rl_step == 0``; "after RL" is the final
checkpoint (largest ``rl_step`` of that ``(model, pretrain_tokens)``). Gains are in percentage points (pp) and come
from :mod:`rlscaling.analysis.gains` (the table ``fits.json`` and the gain figure use): their CI is the paired item
bootstrap
with the config's ``fit`` seed, resamples and level when per-item records are given, and is reported as unavailable
otherwise (the two marginal CIs cannot be combined into a paired one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rlscaling.analysis.findings import FINDINGS_COLUMNS, findings_table
from rlscaling.analysis.gains import GainSettings, gain_table
from rlscaling.analysis.views import reference_rows, study_view
from rlscaling.io import write_csv, write_text
from rlscaling.labels import (
    MAJ_AT_N,
    PASS_AT_K,
    format_params,
    format_tokens,
    model_index,
)
from rlscaling.report.dimensions import (
    section_findings,
    section_floor_warnings,
    section_joint_law,
    section_reward_modes,
    section_seeds,
    section_strata,
)
from rlscaling.report.fits import section_identifiability, section_law_verdict
from rlscaling.report.markdown import flatten, fmt_ci, fmt_gain, fmt_pct, fmt_pp_ci, md_table, section
from rlscaling.report.seed_comparison import section_seed_comparison
from rlscaling.report.sweeps import section_sweeps
from rlscaling.schemas import validate_records, validate_summary
from rlscaling.tasks import default_scorers, family, title

# ---------------------------------------------------------------------------------------------------------
# Markdown formatting
# ---------------------------------------------------------------------------------------------------------


def _labels(summary: pd.DataFrame) -> dict[tuple[str, float], str]:
    return {(m.model, m.pretrain_tokens): m.label for m in model_index(summary).itertuples()}


def _gain_rows(table: pd.DataFrame, labels: Mapping[tuple[str, float], str]) -> list[list[str]]:
    return [
        [
            labels[(r.model, r.pretrain_tokens)],
            format_params(r.n_params),
            format_tokens(r.pretrain_tokens),
            str(r.final_step),
            str(r.n_items),
            fmt_pct(r.base_accuracy) + fmt_ci(r.base_ci_low, r.base_ci_high),
            fmt_pct(r.final_accuracy) + fmt_ci(r.final_ci_low, r.final_ci_high),
            fmt_gain(r.gain_pp) + fmt_pp_ci(r.gain_ci_low, r.gain_ci_high),
        ]
        for r in table.itertuples()
    ]


def _gain_ci_note(table: pd.DataFrame, records_given: bool, settings: GainSettings) -> str:
    if not records_given:
        return (
            "Gain CI unavailable: no per-item records were given, and a paired CI cannot be derived from "
            "the two marginal CIs."
        )
    paired = table["n_paired"]
    return (
        f"Gain CI: paired bootstrap over items scored at both checkpoints ({settings.n_boot} resamples, "
        f"seed {settings.seed}; {int(paired.min())}–{int(paired.max())} items per model)."
    )


def _ci_label(settings: GainSettings) -> str:
    return f"[{100 * settings.ci:g}% CI]"


def _section_gains(summary, records, settings: GainSettings, labels) -> list[str]:
    out = ["## RL gains by model size", ""]
    ci = _ci_label(settings)
    headers = [
        "Model",
        "Params",
        "Pretrain tokens",
        "Final step",
        "Items",
        "Baseline [95% CI]",
        "After RL [95% CI]",
        f"Gain {ci}",
    ]
    for benchmark, scorer in _headline_benchmarks(summary):
        present = summary[
            (summary["benchmark"] == benchmark) & (summary["scorer"] == scorer) & (summary["subset"] == "all")
        ]
        if present.empty:
            continue
        shots = 0 if (present["shots"] == 0).any() else int(present["shots"].min())
        table = gain_table(summary, records, benchmark=benchmark, scorer=scorer, shots=shots, settings=settings)
        out += [
            f"### {title(benchmark)} ({shots}-shot, `{scorer}`)",
            "",
            md_table(headers, _gain_rows(table, labels)),
            "",
            _gain_ci_note(table, records is not None, settings),
            "",
        ]
    return out


def _headline_benchmarks(summary: pd.DataFrame) -> list[tuple[str, str]]:
    """``(benchmark, headline scorer)`` of every benchmark with ``subset == "all"`` rows under a registered family's
    headline scorer (scorer names are unique across families, so a benchmark not named after its family is found
    too): family by family in registration order; within one, the benchmark named after it first, then by name."""
    rows = summary[summary["subset"] == "all"]
    out = []
    for kind, scorer in default_scorers().items():
        names = set(rows.loc[rows["scorer"] == scorer, "benchmark"])
        out += [(b, scorer) for b in sorted(names, key=lambda b: (b != kind, b))]
    return out


def _section_methods(summary, records, settings: GainSettings, labels) -> list[str]:
    gsm = summary[(summary["benchmark"] == "gsm8k") & (summary["shots"] == 0) & (summary["subset"] == "all")]
    scorers = [s for s in family("gsm8k").scorer_names(seed=False) if s in set(gsm["scorer"])]
    if not scorers:
        return []
    rows = []
    tables = {s: gain_table(summary, records, benchmark="gsm8k", scorer=s, settings=settings) for s in scorers}
    for key, label in labels.items():
        for scorer in scorers:
            t = tables[scorer]
            hit = t[(t["model"] == key[0]) & (t["pretrain_tokens"] == key[1])]
            if hit.empty:
                continue
            r = hit.iloc[0]
            rows.append(
                [
                    label,
                    f"`{scorer}`",
                    fmt_pct(r["base_accuracy"]) + fmt_ci(r["base_ci_low"], r["base_ci_high"]),
                    fmt_pct(r["final_accuracy"]) + fmt_ci(r["final_ci_low"], r["final_ci_high"]),
                    fmt_gain(r["gain_pp"]) + fmt_pp_ci(r["gain_ci_low"], r["gain_ci_high"]),
                ]
            )
    headers = ["Model", "Method", "Baseline [95% CI]", "After RL [95% CI]", f"Gain {_ci_label(settings)}"]
    return section(
        "## Evaluation method (GSM8K, 0-shot)",
        _method_text("gsm8k"),
        md_table(headers, rows),
    )


def _method_text(kind: str) -> str:
    """How the family's project scorers read an answer: each registered scorer's ``method`` phrase, in order."""
    described = [s for s in family(kind).scorers if s.method is not None]
    return "; ".join(f"`{s.name}` {s.method}" for s in described) + "."


def _section_fewshot(summary, labels) -> list[str]:
    models = model_index(summary)
    gsm_scorers = family("gsm8k").scorer_names(seed=False)
    gsm = summary[
        (summary["benchmark"] == "gsm8k") & (summary["subset"] == "all") & summary["scorer"].isin(gsm_scorers)
    ]
    gsm = gsm.merge(models[["model", "pretrain_tokens", "final_step"]], on=["model", "pretrain_tokens"])
    gsm = gsm[(gsm["rl_step"] == 0) | (gsm["rl_step"] == gsm["final_step"])]
    shots = sorted(gsm["shots"].unique())
    if len(shots) < 2:
        return []
    rows = []
    for key, label in labels.items():
        mine = gsm[(gsm["model"] == key[0]) & (gsm["pretrain_tokens"] == key[1])]
        for scorer in gsm_scorers:
            for step, stage in sorted({(int(s), "baseline" if s == 0 else "after RL") for s in mine["rl_step"]}):
                cur = mine[(mine["scorer"] == scorer) & (mine["rl_step"] == step)].set_index("shots")["accuracy"]
                if cur.empty:
                    continue
                rows.append(
                    [label, f"`{scorer}`", f"{stage} (step {step})"] + [fmt_pct(cur.get(k, math.nan)) for k in shots]
                )
    headers = ["Model", "Scorer", "Checkpoint"] + [f"{k}-shot" for k in shots]
    return section(
        "## Few-shot collapse (GSM8K accuracy vs number of examples)",
        "A base model that solves the problem but keeps generating new `Question:` blocks after its answer "
        "fails `strict` scoring; `custom_flexible` removes that artifact. CIs: `summary.csv` and the "
        "accuracy-vs-shots figure.",
        md_table(headers, rows),
    )


def _section_pass_at_k(summary, labels) -> list[str]:
    models = model_index(summary)
    df = summary[summary["scorer"].str.match(PASS_AT_K) & (summary["subset"] == "all")].copy()
    if df.empty:
        return []
    df["k"] = df["scorer"].str.extract(PASS_AT_K, expand=False).astype(int)
    df = df.merge(models[["model", "pretrain_tokens", "final_step"]], on=["model", "pretrain_tokens"])
    df = df[(df["rl_step"] == 0) | (df["rl_step"] == df["final_step"])]
    maj = summary[summary["scorer"].str.match(MAJ_AT_N) & (summary["subset"] == "all")]
    out = ["## pass@k before and after RL", ""]
    if not maj.empty:
        out += [
            "maj@n: majority vote over the same n samples (ties to the answer sampled first). Where it exceeds "
            "greedy accuracy, sharpening the policy (what RL does first) can lift greedy accuracy; where it "
            "does not, RL must teach something new.",
            "",
        ]
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
                vote = mine_maj[
                    (mine_maj["model"] == key[0])
                    & (mine_maj["pretrain_tokens"] == key[1])
                    & (mine_maj["rl_step"] == step)
                ].set_index("scorer")["accuracy"]
                rows.append(
                    [label, f"{stage} (step {step})"]
                    + [fmt_pct(cur.get(k, math.nan)) for k in ks]
                    + [fmt_pct(vote.get(m, math.nan)) for m in maj_names]
                )
        out += [
            f"### {title(benchmark)} ({shots}-shot)",
            "",
            md_table(["Model", "Checkpoint"] + [f"pass@{k}" for k in ks] + maj_names, rows),
            "",
        ]
    return out


def _section_loss(summary, labels) -> list[str]:
    df = summary[(summary["scorer"] == "loss") & (summary["rl_step"] == 0) & (summary["subset"] == "all")]
    if df.empty:
        return []
    rows = []
    for r in df.sort_values(["benchmark", "n_params", "pretrain_tokens"]).itertuples():
        rows.append(
            [
                labels[(r.model, r.pretrain_tokens)],
                title(r.benchmark),
                format_params(r.n_params),
                format_tokens(r.pretrain_tokens),
                f"{r.c_pretrain:.3g}",
                f"{r.accuracy:.3f}",
                f"{math.exp(r.accuracy):.2f}",
            ]
        )
    headers = ["Model", "Dataset", "Params", "Pretrain tokens", "C_pretrain (FLOPs)", "Loss (nats/token)", "Perplexity"]
    return section("## Validation loss of the base models", None, md_table(headers, rows))


def _section_math_subjects(summary, labels) -> list[str]:
    subjects = sorted(
        set(
            summary.loc[
                (summary["benchmark"] == "math") & (summary["subset"] != "all") & (summary["scorer"] == "math_verify"),
                "subset",
            ]
        )
    )
    if not subjects:
        return []
    rows = []
    for subject in subjects:
        table = gain_table(summary, benchmark="math", scorer="math_verify", subset=subject)
        for r in table.itertuples():
            rows.append(
                [
                    labels[(r.model, r.pretrain_tokens)],
                    subject,
                    fmt_pct(r.base_accuracy),
                    fmt_pct(r.final_accuracy),
                    fmt_gain(r.gain_pp),
                ]
            )
    order = {label: i for i, label in enumerate(labels.values())}
    rows.sort(key=lambda row: (order[row[0]], row[1]))
    return section(
        "## MATH by subject (0-shot, `math_verify`)",
        None,
        md_table(["Model", "Subject", "Baseline", "After RL", "Gain"], rows),
    )


def _section_fits(fits: Mapping[str, Any] | None) -> list[str]:
    if not fits:
        return []
    out = ["## Fits", "", "Parameters and bootstrap CIs from `fits/fits.json`.", ""]
    for name, fit in fits.items():
        out += [f"### {name}", "", md_table(["Quantity", "Value"], flatten(fit)), ""]
    return out


# ---------------------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------------------


def _fits_bootstrap(fits: Mapping[str, Any] | None) -> dict:
    """The ``fit`` settings recorded in ``fits.json`` (``{"bootstrap": n, "ci": .., "seed": ..}``), if any."""
    record = (fits or {}).get("bootstrap") or {}
    return {"bootstrap": record["n"], "ci": record["ci"], "seed": record["seed"]} if "n" in record else {}


def render_summary_md(
    summary: pd.DataFrame,
    fits: Mapping[str, Any] | None = None,
    records: pd.DataFrame | None = None,
    gain_settings: GainSettings = GainSettings(),
    reward_mode: str | None = None,
    findings: pd.DataFrame | None = None,
    seed_comparison: pd.DataFrame | None = None,
    variant_comparisons: pd.DataFrame | None = None,
) -> str:
    """The markdown text of ``summary.md`` (see :func:`write_summary_md`); ``summary`` and ``records`` hold one sweep
    variant's rows (:func:`rlscaling.analysis.views.reference_rows`), ``variant_comparisons`` every variant's paired
    comparison (the "Sweeps" section; None: no sweeps)."""
    full = validate_summary(summary)
    if full.empty:
        raise ValueError("summary.csv has no rows: nothing to report")
    summary = study_view(full, reward_mode)
    full_records = None if records is None else validate_records(records)
    records = None if records is None else study_view(full_records, reward_mode)
    labels = _labels(summary)
    studies = ", ".join(sorted(summary["study"].unique()))
    lines = [
        f"# RL scaling study: results summary ({studies})",
        "",
        "Accuracies in percent of benchmark items (one decimal) with 95% percentile-bootstrap CIs over items in "
        "brackets. *Baseline* = base model (RL step 0); *after RL* = final GRPO checkpoint of that model. Gains "
        "in percentage points (pp).",
        "",
    ]
    lines += section_law_verdict(fits)
    lines += section_floor_warnings(full)
    if findings is not None:
        lines += section_findings(findings)
    lines += section_seeds(full)
    lines += section_reward_modes(full, full_records, gain_settings)
    lines += section_strata(full, reward_mode)
    lines += _section_gains(summary, records, gain_settings, labels)
    lines += _section_methods(summary, records, gain_settings, labels)
    lines += _section_fewshot(summary, labels)
    lines += _section_math_subjects(summary, labels)
    lines += _section_pass_at_k(summary, labels)
    lines += _section_loss(summary, labels)
    lines += section_seed_comparison(seed_comparison, gain_settings.ci)
    lines += section_sweeps(variant_comparisons, gain_settings.ci)
    lines += section_joint_law(fits)
    lines += section_identifiability(fits)
    lines += _section_fits(fits)
    return "\n".join(lines).rstrip() + "\n"


def write_summary_md(
    summary: pd.DataFrame,
    out_path: str | Path,
    fits: Mapping[str, Any] | None = None,
    records: pd.DataFrame | None = None,
    gain_settings: GainSettings | None = None,
    fit_settings: Mapping[str, Any] | None = None,
    reward_mode: str | None = None,
    findings_path: str | Path | None = None,
    seed_comparison: pd.DataFrame | None = None,
    variant: str = "reference",
    variant_comparisons: pd.DataFrame | None = None,
) -> Path:
    """Write ``results/summary.md`` atomically: gain tables per benchmark (GSM8K/MATH/MMLU), the
    evaluation-method table, the few-shot collapse table, and — when present — MATH by subject, pass@k,
    validation loss and the fits. ``records`` (per-item scores, ``rlscaling.schemas.RECORD_COLUMNS``) enable
    paired gain CIs (``rlscaling.analysis.gains``), bootstrapped as ``gain_settings`` says, else as the config's ``fit``
    section ``fit_settings`` (``bootstrap``, ``seed``, ``ci``) says, else as the fits in ``fits`` were
    (their ``bootstrap`` record), so a gain has the same CI here, in ``fits.json`` and in the gain figure. Every table
    and the findings read the sweep variant ``variant`` (``fit.variant``, default the reference runs);
    ``variant_comparisons`` (:mod:`rlscaling.analysis.variants`, when the study has sweeps) adds the "Sweeps"
    section."""
    out_path = Path(out_path)
    summary = reference_rows(summary, variant)
    records = None if records is None else reference_rows(records, variant)
    settings = gain_settings or GainSettings.from_fit(fit_settings or _fits_bootstrap(fits))
    findings = None
    if records is not None and reward_mode is not None:
        findings = findings_table(summary, records, reward_mode, settings.n_boot, settings.ci, settings.seed)
    if findings_path is not None:
        write_csv(findings_path, findings if findings is not None else pd.DataFrame(columns=FINDINGS_COLUMNS))
    text = render_summary_md(
        summary, fits, records, settings, reward_mode, findings, seed_comparison, variant_comparisons
    )
    write_text(out_path, text)
    return out_path
