"""The ``summary.md`` section "Sweeps": each GRPO sweep variant against the reference run, one table per sweep key.

Reads the paired comparisons of :mod:`rlscaling.analysis.variants` (``variant_comparisons.csv``) and shows, per
variant, cell (model, pre-training tokens, reward mode; the seed mean) and benchmark, the headline scorer's
(:func:`rlscaling.tasks.default_scorers`) ``subset == "all"`` rows at the final step of the shorter run: the paired
difference in percentage points with its CI, the number of paired items and where the CI lies. Every other step,
seed, scorer, shots count and subset is in the CSV.
"""

from __future__ import annotations

import pandas as pd

from rlscaling.labels import format_tokens
from rlscaling.report.markdown import fmt_gain, fmt_pct, fmt_pp_ci, md_table
from rlscaling.schemas import SEED_MEAN
from rlscaling.tasks import default_scorers, title

HEADERS = ["Variant", "Model", "Pretrain tokens", "Reward", "Step", "Benchmark", "Reference", "Variant acc."]


def _rows(table: pd.DataFrame) -> list[list[str]]:
    return [
        [
            r.variant,
            r.model,
            format_tokens(float(r.pretrain_tokens)),
            f"`{r.reward_mode}`",
            str(int(r.rl_step)),
            f"{title(r.benchmark)} ({int(r.shots)}-shot, `{r.scorer}`)",
            fmt_pct(r.reference_accuracy),
            fmt_pct(r.variant_accuracy),
            fmt_gain(r.delta_pp) + fmt_pp_ci(r.ci_low_pp, r.ci_high_pp),
            str(int(r.n_items)),
            r.verdict,
        ]
        for r in table.itertuples()
    ]


def section_sweeps(comparisons: pd.DataFrame | None, ci: float = 0.95) -> list[str]:
    """The "Sweeps" section's lines (none when ``comparisons`` is None: the study has no sweep variants)."""
    if comparisons is None:
        return []
    level = f"{100 * ci:g}% CI"
    out = [
        "## Sweeps",
        "",
        "Each GRPO sweep variant (`grpo.sweeps`, `<key>=<value>`) against the reference run of the same cell (same "
        "model, pre-training budget, reward mode and RL seed), seed means, at the final RL step of the shorter run, "
        f"on each benchmark's headline scorer: Δ = variant − reference accuracy in pp over the items both scored, "
        f"with the paired bootstrap {level} over items; the verdict says where the CI lies. Every step, seed, scorer, "
        "shots count and subset: `variant_comparisons.csv`.",
        "",
    ]
    headline = set(default_scorers().values())
    shown = comparisons[
        comparisons["final_step"].astype(bool)
        & (comparisons["seed"].astype(str) == SEED_MEAN)
        & comparisons["scorer"].isin(headline)
        & (comparisons["subset"].astype(str) == "all")
    ]
    if shown.empty:
        return out + ["No variant shares a final step and a headline scorer with its reference run.", ""]
    headers = [*HEADERS, f"Δ pp [{level}]", "Items", "Verdict"]
    for key, rows in shown.groupby("sweep_key", sort=True):
        out += [f"### `{key}`", "", md_table(headers, _rows(rows)), ""]
    return out
