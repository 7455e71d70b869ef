"""The seed's findings tested on a study's own numbers (rlscaling.analysis.findings) and the seed-mean view
(rlscaling.analysis.views)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlscaling.analysis.findings import FINDINGS_COLUMNS, findings_table
from rlscaling.analysis.views import study_view
from rlscaling.schemas import RECORD_COLUMNS, SUMMARY_COLUMNS

N_ITEMS = 200


def _records(rng) -> pd.DataFrame:
    """One cell (tiny, 1M tokens), seed mean: a base model that solves 40% of the items but formats none, and two
    RL runs: `strict` teaches the format only, `custom_flexible` adds 10% of the items."""
    solves = rng.random(N_ITEMS) < 0.4
    better = solves | (rng.random(N_ITEMS) < 0.1)
    checkpoints = {
        ("base", 0): {"custom_flexible": solves, "strict": np.zeros(N_ITEMS, bool), "continues_past_answer": True},
        ("strict", 10): {"custom_flexible": solves, "strict": solves, "continues_past_answer": False},
        ("custom_flexible", 10): {"custom_flexible": better, "strict": np.zeros(N_ITEMS, bool),
                                  "continues_past_answer": True},
    }  # fmt: skip
    rows = []
    for (mode, step), scores in checkpoints.items():
        for scorer, s in scores.items():
            s = np.broadcast_to(np.asarray(s, float), (N_ITEMS,))
            for shots in (0, 1):
                for i in range(N_ITEMS):
                    rows.append(
                        {"model": "tiny", "seed": "mean", "reward_mode": mode, "variant": "reference", "budget": "1M",
                         "pretrain_tokens": 1e6,
                         "rl_step": step, "benchmark": "gsm8k", "subset": "all", "shots": shots, "scorer": scorer,
                         "item_id": f"q{i}", "score": 0.0 if (shots and scorer == "strict") else float(s[i])}
                    )  # fmt: skip
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


def _summary(records: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in RECORD_COLUMNS if c not in ("item_id", "score", "budget")]
    s = records.groupby(keys, as_index=False)["score"].mean().rename(columns={"score": "accuracy"})
    s = s.assign(study="t", n_params=1e5, c_pretrain=6e11, c_rl=s["rl_step"] * 1e9, n_items=N_ITEMS, n_seeds=2)
    return s.assign(ci_low=s["accuracy"], ci_high=s["accuracy"])[SUMMARY_COLUMNS]


def test_findings_are_paired_differences_with_a_verdict_per_cell():
    records = _records(np.random.default_rng(0))
    table = findings_table(_summary(records), records, "custom_flexible", n_boot=300, seed=1)
    assert list(table.columns) == FINDINGS_COLUMNS
    got = table.set_index("finding")
    solved = (
        100
        * records[(records.rl_step == 0) & (records.scorer == "custom_flexible") & (records.shots == 0)]["score"].mean()
    )
    # base: solves 40% but formats none -> the format gap is the whole accuracy, reproduced
    assert got.loc["format_not_reasoning", "estimate_pp"] == pytest.approx(solved)
    assert got.loc["format_not_reasoning", "verdict"] == "reproduced"
    # strict accuracy is 0 at 0 and at 1 shot: no collapse to detect -> inconclusive (the CI is [0, 0])
    assert got.loc["fewshot_collapse_strict", "verdict"] == "inconclusive"
    # the strict reward taught the format only: strict gain minus custom_flexible gain = the solved share
    assert got.loc["strict_reward_teaches_format", "estimate_pp"] == pytest.approx(solved)
    assert got.loc["strict_reward_stops_continuing", "estimate_pp"] == pytest.approx(100.0)
    # custom_flexible's run solved more items than the strict run, paired on the same items
    wasted = got.loc["strict_reward_wastes_compute"]
    assert wasted["estimate_pp"] > 0 and wasted["ci_low_pp"] > 0 and wasted["verdict"] == "reproduced"
    assert (table["n_items"] == N_ITEMS).all()


def test_a_cell_without_rl_runs_reports_only_the_base_findings():
    records = _records(np.random.default_rng(0))
    base_only = records[records.reward_mode == "base"]
    table = findings_table(_summary(base_only), base_only, "custom_flexible", n_boot=100)
    assert set(table["finding"]) == {"format_not_reasoning", "fewshot_collapse_strict", "base_continues"}


def test_study_view_keeps_seed_means_of_the_base_and_one_reward_mode():
    records = _records(np.random.default_rng(0))
    per_seed = records.assign(seed="1")
    both = pd.concat([records, per_seed])
    view = study_view(both, "strict")
    assert set(view["seed"]) == {"mean"} and set(view["reward_mode"]) == {"base", "strict"}
    assert set(study_view(both, None)["reward_mode"]) == {"base", "strict", "custom_flexible"}
    assert set(study_view(both, "strict", seed="1")["seed"]) == {"1"}
    old = both.drop(columns=["seed", "reward_mode", "variant"])  # a table from before the dimension columns
    assert study_view(old, "strict").shape == old.shape


def test_each_replicate_seed_gets_its_own_rows_and_the_report_counts_them():
    """Seed 1 repeats the seed-mean cell; seed 2's strict run taught nothing (its format finding fails alone)."""
    from rlscaling.report.dimensions import section_findings

    mean = _records(np.random.default_rng(0))
    one = mean.assign(seed="1")
    two = mean.assign(seed="2")
    after_strict = (two.reward_mode == "strict") & (two.scorer == "strict")
    two.loc[after_strict, "score"] = 0.0  # no format learnt in seed 2's strict run
    records = pd.concat([mean, one, two], ignore_index=True)
    table = findings_table(_summary(records), records, "custom_flexible", n_boot=200, seed=1)
    assert list(table["seed"].unique()) == ["mean", "1", "2"]
    teach = table[table["finding"] == "strict_reward_teaches_format"].set_index("seed")["verdict"]
    assert teach.to_dict() == {"mean": "reproduced", "1": "reproduced", "2": "inconclusive"}
    text = "\n".join(section_findings(table))
    assert "1 reproduced, 0 contradicted, 0 inconclusive of 1 cells | 1 of 2 (cell, seed) pairs reproduced" in text
