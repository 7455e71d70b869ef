"""The seed write-up's findings, tested on a study's own numbers: each with its estimate, CI and a verdict.

Every finding is a signed difference of accuracies (percentage points) that the seed says is positive, computed per
cell (model size x pre-training budget, seed means) from the per-item records: the items are the same test questions
in every term, so the CI is a paired bootstrap over items of the per-item difference (``fit.bootstrap`` resamples,
``fit.seed``, ``fit.ci``). The verdict of a cell is ``reproduced`` when the CI lies above 0, ``contradicted`` when it
lies below, ``inconclusive`` otherwise; a finding reports every cell, never a selected one. The findings and the
seed's numbers (Qwen3-Base, GSM8K) are in :data:`FINDINGS`; nothing here is tuned to the embedded study.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlscaling.analysis.views import BASE, study_view
from rlscaling.metrics import bootstrap_mean_ci
from rlscaling.schemas import CONTINUES, SEED_MEAN, validate_records, validate_summary

FINDINGS_COLUMNS = [
    "finding",
    "claim",
    "seed_reports",
    "model",
    "pretrain_tokens",
    "seed",
    "estimate_pp",
    "ci_low_pp",
    "ci_high_pp",
    "n_items",
    "verdict",
]


@dataclass(frozen=True)
class Term:
    """One accuracy in a difference: a checkpoint (reward mode, final RL step or base) x scorer x shots."""

    sign: int
    scorer: str
    reward_mode: str = BASE  # the base model; else the final checkpoint of that mode's run
    shots: int = 0


@dataclass(frozen=True)
class Finding:
    key: str
    claim: str
    seed_reports: str
    terms: tuple[Term, ...]


def _findings(primary: str) -> tuple[Finding, ...]:
    """The seed's findings as differences (pp) that it reports as positive. ``primary``: the recommended reward."""
    s, c, cont = "strict", "custom_flexible", CONTINUES
    return (
        Finding(
            "format_not_reasoning",
            "base models can solve items they fail to format: custom_flexible minus strict accuracy (base, 0-shot)",
            "0.6B: 40.7% vs 0.0%",
            (Term(+1, c), Term(-1, s)),
        ),
        Finding(
            "fewshot_collapse_strict",
            "strict accuracy collapses with one shot: strict 0-shot minus strict 1-shot (base)",
            "4B: 67.4% -> 1.2%",
            (Term(+1, s), Term(-1, s, shots=1)),
        ),
        Finding(
            "base_continues",
            "base models keep writing after their answer (share of responses, base, 0-shot; > 0)",
            "new problems instead of stopping",
            (Term(+1, cont),),
        ),
        Finding(
            "strict_reward_teaches_format",
            "strict-reward RL raises strict accuracy more than custom_flexible accuracy (gain difference)",
            "0.6B: +69.1 strict vs +27.6 custom_flexible",
            (Term(+1, s, s), Term(-1, s), Term(-1, c, s), Term(+1, c)),
        ),
        Finding(
            "strict_reward_stops_continuing",
            "strict-reward RL stops the responses after the answer (share continuing: base minus after RL)",
            "RL on strict teaches formatting",
            (Term(+1, cont), Term(-1, cont, s)),
        ),
        Finding(
            "strict_reward_wastes_compute",
            f"the {primary} reward gains more custom_flexible accuracy than the strict reward (after RL)",
            "custom_flexible reward: +2.2 pp MATH transfer with fewer steps",
            (Term(+1, c, primary), Term(-1, c, s)),
        ),
    )


def _item_scores(records: pd.DataFrame, cell: tuple[str, float], term: Term, final_step: dict) -> pd.Series | None:
    """Per-item scores (fractions) of one term in one cell, indexed by item id; None when not evaluated."""
    step = 0 if term.reward_mode == BASE else final_step.get(term.reward_mode)
    if step is None:
        return None
    r = records[
        (records["model"] == cell[0])
        & (records["pretrain_tokens"] == cell[1])
        & (records["rl_step"] == step)
        & (records["reward_mode"] == term.reward_mode)
        & (records["benchmark"] == "gsm8k")
        & (records["subset"] == "all")
        & (records["shots"] == term.shots)
        & (records["scorer"] == term.scorer)
    ]
    return None if r.empty else r.groupby("item_id")["score"].mean()


def _cell_difference(records, cell, finding: Finding, final_step: dict, boot: dict) -> dict | None:
    series = [_item_scores(records, cell, t, final_step) for t in finding.terms]
    if any(x is None for x in series):
        return None
    frame = pd.concat(series, axis=1, join="inner")
    diff = 100.0 * (frame.to_numpy() @ np.array([t.sign for t in finding.terms], dtype=float))
    est, lo, hi = bootstrap_mean_ci(diff, boot["n_boot"], boot["ci"], boot["seed"])
    verdict = "reproduced" if lo > 0 else "contradicted" if hi < 0 else "inconclusive"
    return {"estimate_pp": est, "ci_low_pp": lo, "ci_high_pp": hi, "n_items": len(diff), "verdict": verdict}


def findings_table(
    summary: pd.DataFrame, records: pd.DataFrame, primary: str, n_boot: int = 1000, ci: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Every finding x cell (model, pretrain_tokens) of the seed-mean view (``seed`` = "mean"), then the same for each
    replicate seed on its own (``seed`` = "1", "2", ...: does the finding hold lineage by lineage?), columns
    :data:`FINDINGS_COLUMNS`.

    A cell without the checkpoints a finding needs (e.g. a budget without RL runs) is left out of that finding."""
    summary, records = validate_summary(summary), validate_records(records)
    replicates = sorted({str(s) for s in summary["seed"].unique()} - {SEED_MEAN}, key=_seed_order)
    rows: list[dict] = []
    for replicate in [SEED_MEAN, *replicates]:
        rows += _findings_rows(
            study_view(summary, None, seed=replicate), study_view(records, None, seed=replicate), replicate, primary,
            {"n_boot": n_boot, "ci": ci, "seed": seed},
        )  # fmt: skip
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)


def _seed_order(seed: str) -> tuple[int, str]:
    return (int(seed), "") if seed.isdigit() else (1 << 30, seed)


def _findings_rows(summary: pd.DataFrame, records: pd.DataFrame, replicate: str, primary: str, boot: dict) -> list:
    rows = []
    cells = (
        summary[["model", "n_params", "pretrain_tokens"]].drop_duplicates().sort_values(["n_params", "pretrain_tokens"])
    )
    for cell in cells.itertuples():
        mine = summary[(summary["model"] == cell.model) & (summary["pretrain_tokens"] == cell.pretrain_tokens)]
        final_step = mine[mine["rl_step"] > 0].groupby("reward_mode")["rl_step"].max().to_dict()
        for f in _findings(primary):
            got = _cell_difference(records, (cell.model, cell.pretrain_tokens), f, final_step, boot)
            if got is not None:
                rows.append(
                    {
                        "finding": f.key,
                        "claim": f.claim,
                        "seed_reports": f.seed_reports,
                        "model": cell.model,
                        "pretrain_tokens": cell.pretrain_tokens,
                        "seed": replicate,
                        **got,
                    }
                )
    return rows
