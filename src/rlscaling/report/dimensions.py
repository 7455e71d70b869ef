"""``summary.md`` sections over the study's dimensions: replicate seeds, reward modes, strata, the seed's findings.

Accuracies in percent with their CI from ``summary.csv`` (per seed: items; seed mean: seeds then items); gains in
percentage points with the paired item CI of :mod:`rlscaling.analysis.gains` on the seed means.
"""

from __future__ import annotations

import pandas as pd

from rlscaling.analysis.gains import GainSettings, gain_table
from rlscaling.analysis.views import BASE, study_view
from rlscaling.labels import format_params, format_tokens
from rlscaling.report.markdown import fmt_ci, fmt_gain, fmt_pct, fmt_pp_ci, md_table, section
from rlscaling.schemas import CONTINUES, SEED_MEAN


def _select(summary: pd.DataFrame, **where) -> pd.DataFrame:
    keep = pd.Series(True, index=summary.index)
    for col, value in where.items():
        keep &= summary[col].astype(type(value)) == value if col != "shots" else summary[col] == value
    return summary[keep]


def _base_accuracy(summary: pd.DataFrame) -> pd.DataFrame:
    """The base models' GSM8K accuracy rows (0-shot, all items, ``custom_flexible``): every seed and the mean."""
    return _select(summary, reward_mode=BASE, benchmark="gsm8k", subset="all", shots=0, scorer="custom_flexible")


def section_seeds(summary: pd.DataFrame) -> list[str]:
    """Base accuracy (custom_flexible, 0-shot, all items) per model x budget: every seed and their mean."""
    base = _base_accuracy(summary)
    if base.empty or base["seed"].nunique() < 2:
        return []
    seeds = sorted((s for s in base["seed"].unique() if s != SEED_MEAN), key=int)
    rows = []
    base = base.sort_values(["n_params", "pretrain_tokens"], kind="stable")
    for (model, tokens), g in base.groupby(["model", "pretrain_tokens"], sort=False):
        by_seed = {r.seed: r for r in g.itertuples()}
        cells = [
            fmt_pct(by_seed[s].accuracy) + fmt_ci(by_seed[s].ci_low, by_seed[s].ci_high) if s in by_seed else "–"
            for s in seeds
        ]
        m = by_seed.get(SEED_MEAN)
        n = f"{m.n_seeds} seed" + ("s" if m.n_seeds != 1 else "") if m else ""
        mean = fmt_pct(m.accuracy) + fmt_ci(m.ci_low, m.ci_high) + f" ({n})" if m else "–"
        rows.append([model, format_params(g["n_params"].iloc[0]), format_tokens(tokens), *cells, mean])
    headers = ["Model", "Params", "Pretrain tokens", *[f"seed {s}" for s in seeds], "Mean [CI over seeds and items]"]
    intro = (
        "Base models (RL step 0), GSM8K-style test items, 0-shot, `custom_flexible`. One column per replicate seed "
        "(its own pre-training run: trunk and annealed branches); per-seed CIs resample items, the mean's CI resamples "
        "seeds, then items."
    )
    return section("## Replicate seeds: base accuracy by pre-training budget", intro, md_table(headers, rows))


def floor_replicates(summary: pd.DataFrame) -> list[dict]:
    """Replicate seeds that sit at the floor at their model's top pre-training budget: base accuracy
    (``custom_flexible``, GSM8K 0-shot, all items) whose CI at the top budget does not rise above its own CI at the
    smallest budget (``ci_low`` at the top <= ``ci_high`` at the smallest), i.e. a lineage that never learnt what the
    budgets between teach. One dict per such (model, seed): ``model``, ``seed``, ``top``/``low`` (budget tokens),
    ``top_row``/``low_row`` (the summary rows) and ``others`` (the model's other seeds' rows at the top budget).
    Models with one budget or one seed are skipped: there is no floor to compare with, or no lineage to tell apart."""
    base = _base_accuracy(summary)
    base = base[base["seed"] != SEED_MEAN]
    out = []
    for model, g in base.groupby("model", sort=False):
        tokens = sorted(g["pretrain_tokens"].unique())
        if len(tokens) < 2 or g["seed"].nunique() < 2:
            continue
        top, low = g[g["pretrain_tokens"] == tokens[-1]], g[g["pretrain_tokens"] == tokens[0]]
        for row in top.itertuples():
            first = low[low["seed"] == row.seed]
            if first.empty or row.ci_low > first["ci_high"].iloc[0]:
                continue
            others = [r for r in top.itertuples() if r.seed != row.seed]
            out.append({"model": model, "seed": row.seed, "top": tokens[-1], "low": tokens[0], "top_row": row,
                        "low_row": next(first.itertuples()), "others": others})  # fmt: skip
    return out


def section_floor_warnings(summary: pd.DataFrame) -> list[str]:
    """A warning naming every replicate seed at the floor at its model's top budget (:func:`floor_replicates`)."""
    found = floor_replicates(summary)
    if not found:
        return []
    lines = ["## Warning: replicate seeds at the floor at the top pre-training budget", ""]
    for f in found:
        top, low = f["top_row"], f["low_row"]
        others = ", ".join(f"seed {r.seed} {fmt_pct(r.accuracy)}" for r in f["others"])
        lines.append(
            f"- **{f['model']} seed {f['seed']}**: {fmt_pct(top.accuracy)}{fmt_ci(top.ci_low, top.ci_high)} at "
            f"{format_tokens(f['top'])} tokens vs {fmt_pct(low.accuracy)}{fmt_ci(low.ci_low, low.ci_high)} at "
            f"{format_tokens(f['low'])} (base, GSM8K 0-shot, `custom_flexible`; the other seeds at "
            f"{format_tokens(f['top'])}: {others})."
        )
    lines += [
        "",
        "These lineages never learnt what the larger budgets teach the other seeds: RL from them starts without "
        "that skill, and the seed means of their model mix two regimes (read the per-seed rows below).",
        "",
    ]
    return lines


def section_reward_modes(summary: pd.DataFrame, records, settings: GainSettings) -> list[str]:
    """RL gains (seed means, 0-shot) in custom_flexible and strict accuracy per reward mode, with paired CIs, and
    the share of responses continuing past their answer before and after RL."""
    modes = [m for m in summary["reward_mode"].unique() if m != BASE]
    if not modes:
        return []
    rows = []
    for mode in modes:
        view, recs = study_view(summary, mode), None if records is None else study_view(records, mode)
        tables = {s: gain_table(view, recs, scorer=s, settings=settings) for s in ("custom_flexible", "strict")}
        cont = gain_table(view, recs, scorer=CONTINUES, settings=settings)
        for i, r in tables["custom_flexible"].iterrows():
            if r["final_step"] == 0:
                continue
            s, c = tables["strict"].loc[i], cont.loc[i] if i in cont.index else None
            rows.append(
                [
                    r["model"],
                    format_tokens(r["pretrain_tokens"]),
                    f"`{mode}`",
                    str(r["final_step"]),
                    fmt_gain(r["gain_pp"]) + fmt_pp_ci(r["gain_ci_low"], r["gain_ci_high"]),
                    fmt_gain(s["gain_pp"]) + fmt_pp_ci(s["gain_ci_low"], s["gain_ci_high"]),
                    "–" if c is None else f"{fmt_pct(c['base_accuracy'])} → {fmt_pct(c['final_accuracy'])}",
                ]
            )
    headers = [
        "Model",
        "Pretrain tokens",
        "Reward",
        "Steps",
        "Gain custom_flexible",
        "Gain strict",
        "Continues past answer",
    ]
    intro = (
        "The reward-mode ablation: each reward mode is its own GRPO run from the same base model (seed means, "
        "GSM8K-style items, 0-shot). Gains in pp with paired bootstrap CIs over items; *continues past answer* is "
        "the share of responses that keep writing after their `#### answer` line (base → after RL)."
    )
    return section("## Reward-mode ablation", intro, md_table(headers, rows))


def section_strata(summary: pd.DataFrame, reward_mode: str | None) -> list[str]:
    """Base and after-RL accuracy per stratum (seed means, primary reward mode, 0-shot, custom_flexible)."""
    view = study_view(summary, reward_mode)
    sel = _select(view, benchmark="gsm8k", shots=0, scorer="custom_flexible")
    strata = sorted(s for s in sel["subset"].unique() if s != "all")
    if not strata:
        return []
    rows = []
    sel = sel.sort_values(["n_params", "pretrain_tokens"], kind="stable")
    for (model, tokens), g in sel.groupby(["model", "pretrain_tokens"], sort=False):
        final = g["rl_step"].max()
        for step in sorted({0, final}):
            at = {r.subset: r for r in g[g["rl_step"] == step].itertuples()}
            cells = [fmt_pct(at[s].accuracy) + fmt_ci(at[s].ci_low, at[s].ci_high) if s in at else "–" for s in strata]
            rows.append([model, format_tokens(tokens), "base" if step == 0 else f"RL step {step}", *cells])
    n_items = {s: int(sel[sel["subset"] == s]["n_items"].max()) for s in strata}
    headers = ["Model", "Pretrain tokens", "Checkpoint", *[f"{s} ({n_items[s]} items)" for s in strata]]
    intro = (
        "Accuracy by stratum (seed means, 0-shot, `custom_flexible`): `3term` = 3-operand chains whose running sums "
        "stay >= 0, `3term_negpartial` = 3-operand chains with a negative running partial sum (where the corpus's "
        "designed sign slip misleads the base models), `4term` = 4-operand chains, never seen in pre-training."
    )
    return section("## Accuracy by stratum", intro, md_table(headers, rows))


def section_findings(table: pd.DataFrame) -> list[str]:
    """The seed's findings (:mod:`rlscaling.analysis.findings`): a verdict count per finding, then every cell."""
    if table.empty:
        return []
    out = [
        "## The seed's findings in this study",
        "",
        "Each finding is a difference the seed reports as positive, estimated per cell (seed means) with a paired "
        "bootstrap CI over items; *reproduced* = CI above 0, *contradicted* = CI below 0, else *inconclusive*. "
        "Every cell is listed (`results/findings.csv`). *Per replicate seed*: the same difference on each replicate "
        "seed's own lineage (its base models and RL runs), counting the (cell, seed) pairs whose CI lies above 0.",
        "",
    ]
    rows = []
    seeds = table["seed"].astype(str)
    replicates = table[seeds != SEED_MEAN]
    for key, g in table[seeds == SEED_MEAN].groupby("finding", sort=False):
        counts = g["verdict"].value_counts()
        verdicts = ", ".join(f"{counts.get(v, 0)} {v}" for v in ("reproduced", "contradicted", "inconclusive"))
        cells = "; ".join(
            f"{r.model} {format_tokens(r.pretrain_tokens)}: {r.estimate_pp:+.1f} "
            f"[{r.ci_low_pp:.1f}, {r.ci_high_pp:.1f}]"
            for r in g.itertuples()
        )
        mine = replicates[replicates["finding"] == key]
        per_seed = (
            f"{int((mine['verdict'] == 'reproduced').sum())} of {len(mine)} (cell, seed) pairs reproduced"
            if len(mine) else "–"
        )  # fmt: skip
        rows.append([g["claim"].iloc[0], g["seed_reports"].iloc[0], f"{verdicts} of {len(g)} cells", per_seed, cells])
    headers = ["Finding (pp)", "Seed (Qwen3)", "Verdict (seed means)", "Per replicate seed", "Per cell: estimate [CI]"]
    out += [md_table(headers, rows), ""]
    return out


def section_joint_law(fits) -> list[str]:
    """The competing joint-law forms (fit and cross-validation errors, accuracy fractions) and the chosen form's
    parameters with their bootstrap CIs, from ``fits.json``."""
    joint = (fits or {}).get("joint_law") or {}
    forms = joint.get("forms") or {}
    if not forms:
        return []
    score = (joint.get("choice") or {}).get("scores") or {}

    def err(e, key):
        v = e.get(key) if key == "rmse" else (e.get(key) or (e.get("cv") or {}).get(key) or {}).get("rmse")
        return f"{v:.3f}" if isinstance(v, (int, float)) else "–"

    rows = [
        [f"**{name}**" if name == joint.get("chosen") else name, e.get("status", "–"), err(e, "rmse"),
         err(e, "loso"), err(e, "lobo"), f"{score[name]:.3f}" if name in score else (e.get("reason") or "–")[:90]]
        for name, e in forms.items()
    ]  # fmt: skip
    out = section(
        "## Joint law: which form the data choose",
        "Errors in accuracy (fraction): in-sample RMSE, leave-one-size-out (LOSO) and leave-one-budget-out (LOBO) "
        "RMSE; the chosen form (bold), if any, is the identified form with the lowest mean CV error (next section). "
        "Fitted on the seed means of the base models and the primary reward mode's runs.",
        md_table(["Form", "Status", "RMSE", "LOSO", "LOBO", "CV score / reason"], rows),
    )
    return out  # the chosen form's parameters: rlscaling.report.fits.section_identifiability
