"""The robustness benchmark's arithmetic (benchmarks/bench_robustness.py): seed lists, crossings and its tables, on
synthetic accuracies for the embedded config (no run)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_robustness as br  # noqa: E402
from rlscaling import study as rs  # noqa: E402
from rlscaling.workflow import config as rc  # noqa: E402


def test_seed_lists_and_crossings():
    assert br.seed_list("1-5") == [1, 2, 3, 4, 5] and br.seed_list("3,1,7-8") == [1, 3, 7, 8]
    budgets = ["0.75M", "1M", "1.5M", "2M"]
    acc = {"0.75M": 0.05, "1M": 0.19, "1.5M": 0.2, "2M": 0.4}
    assert br.crossing(acc, budgets, 0.20) == "1.5M"
    assert br.crossing({b: 0.05 for b in budgets}, budgets, 0.20) is None


def test_every_size_gets_every_seed_and_the_table_counts_early_crossings():
    cfg = br.robustness_config(rc.load_config(ROOT / "config.yaml"), [1, 2, 3])
    assert all(rs.seeds(cfg, m) == [1, 2, 3] for m in cfg["models"])
    targets = br.targets(cfg)
    assert len(targets) == 3 * 3 * 4 and all(t.endswith("/base/step_0/gsm8k_0shot.summary.json") for t in targets)
    floor, step = 0.05, 0.35
    late = {("tiny-s", 3): "2M", ("tiny-l", 2): None}  # crosses only at the top budget; never crosses
    acc = {}
    for model in cfg["models"]:
        budgets = list(rs.budgets(cfg, model))
        for seed in (1, 2, 3):
            first = late.get((model, seed), "1M")
            after = budgets.index(first) if first else len(budgets)
            acc[(model, seed)] = {b: step if i >= after else floor for i, b in enumerate(budgets)}
    text = br.tables(cfg, acc, 0.20)
    assert "| tiny-s | 3 | 2 of 3 |" in text and "| tiny-m | 3 | 3 of 3 |" in text and "| tiny-l | 3 | 2 of 3 |" in text
    assert "| 3 | 5.0 | 5.0 | 5.0 | 35.0 | 2M |" in text and "| 2 | 5.0 | 5.0 | 5.0 | 5.0 | never |" in text
    assert "25.0 [5.0, 35.0]" in text  # mean [min, max] over seeds of a budget where one of three sits at the floor
