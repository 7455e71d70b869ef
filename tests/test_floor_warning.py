"""summary.md warns about replicate seeds that sit at the floor at their model's top budget (a lineage that never
learnt what the larger budgets teach), naming each one, and says nothing when every seed rose."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlscaling.report.dimensions import floor_replicates, section_floor_warnings
from rlscaling.schemas import SUMMARY_COLUMNS

N_ITEMS = 1400


def _row(model, seed, tokens, acc, scorer="custom_flexible"):
    half = 1.96 * np.sqrt(acc * (1 - acc) / N_ITEMS)
    row = {
        "study": "synthetic", "model": model, "n_params": {"tiny-s": 1e5, "tiny-l": 8e5}[model],
        "pretrain_tokens": tokens, "c_pretrain": 6e5 * tokens, "rl_step": 0, "c_rl": 0.0, "benchmark": "gsm8k",
        "subset": "all", "shots": 0, "scorer": scorer, "n_items": N_ITEMS, "accuracy": acc,
        "ci_low": acc - half, "ci_high": acc + half, "seed": seed, "reward_mode": "base", "n_seeds": 1,
        "variant": "reference",
    }  # fmt: skip
    return [row[c] for c in SUMMARY_COLUMNS]


def _summary(curves: dict[tuple[str, str], list[float]], budgets=(0.75e6, 1e6, 2e6)) -> pd.DataFrame:
    rows = [_row(m, s, t, a) for (m, s), accs in curves.items() for t, a in zip(budgets, accs)]
    rows += [_row(m, s, t, 0.5, scorer="strict") for (m, s) in curves for t in budgets]  # another scorer: ignored
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def test_a_seed_that_never_rose_is_named_with_its_numbers():
    summary = _summary({
        ("tiny-s", "1"): [0.05, 0.06, 0.40],
        ("tiny-s", "2"): [0.05, 0.04, 0.045],  # at the floor at 2M
        ("tiny-l", "1"): [0.06, 0.30, 0.38],
        ("tiny-l", "2"): [0.063, 0.05, 0.061],  # at the floor too
    })  # fmt: skip
    found = floor_replicates(summary)
    assert [(f["model"], f["seed"]) for f in found] == [("tiny-s", "2"), ("tiny-l", "2")]
    text = "\n".join(section_floor_warnings(summary))
    assert "**tiny-s seed 2**: 4.5% [" in text and "at 2e6 tokens vs 5.0% [" in text and "seed 1 40.0%" in text
    assert "**tiny-l seed 2**: 6.1%" in text and "seed 1 38.0%" in text
    assert "seed 1**" not in text


def test_no_warning_when_every_seed_rose_or_there_is_nothing_to_compare():
    rose = _summary({("tiny-s", "1"): [0.05, 0.06, 0.40], ("tiny-s", "2"): [0.05, 0.04, 0.09]})
    assert floor_replicates(rose) == [] and section_floor_warnings(rose) == []
    one_budget = _summary({("tiny-s", "1"): [0.40], ("tiny-s", "2"): [0.05]}, budgets=(2e6,))
    assert floor_replicates(one_budget) == []
    one_seed = _summary({("tiny-s", "1"): [0.05, 0.05, 0.05]})
    assert floor_replicates(one_seed) == []


def test_the_warning_opens_summary_md():
    from rlscaling.report.summary import render_summary_md

    summary = _summary({("tiny-s", "1"): [0.05, 0.06, 0.40], ("tiny-s", "2"): [0.05, 0.04, 0.045]})
    text = render_summary_md(summary)
    assert "## Warning: replicate seeds at the floor" in text
    assert text.index("## Warning") < text.index("## Replicate seeds")
