"""Robustness of the embedded study's pre-training: when does each (size, seed) lineage learn the copy step?

Runs the workflow itself (``snakemake``) on a copy of a study config whose every size gets replicate seeds
``--seeds`` (default 1-5), asking only for the base models' GSM8K 0-shot evaluations at every budget: tokenizer,
data, WSD trunks, annealed branches and their evaluations, exactly as the study makes them (same job seeds, so
seeds 1 and 2 are the study's own lineages). Then prints, per size:

- each lineage's base accuracy (``custom_flexible``, 0-shot, all items) per budget and the budget at which it first
  reaches ``--threshold`` (the copy step: without it accuracy sits at the ~5% floor);
- the share of lineages that cross at or before the budget below the top one ("well before the top budget");
- mean, min and max of the accuracy per budget over the lineages.

    python benchmarks/bench_robustness.py                          # config.yaml, seeds 1-5, fresh temp dir
    python benchmarks/bench_robustness.py --workdir /tmp/rob --seeds 1-8
    python benchmarks/bench_robustness.py --workdir /tmp/rob --no-run   # only the table of an existing run

A workdir that already holds a study run of the same config reuses its lineages (Snakemake plans only the missing
ones). The tables are Markdown; ``docs/embedded-study.md`` keeps the last measured one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from rlscaling import study as rs
from rlscaling.workflow import config as rc

ROOT = Path(__file__).resolve().parents[1]
SCORER = "custom_flexible"


def seed_list(text: str) -> list[int]:
    """``"1-5"`` or ``"1,2,7"`` -> sorted replicate seeds."""
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return sorted(out)


def robustness_config(cfg: dict, seeds: list[int]) -> dict:
    """``cfg`` with ``pretrain.seeds = seeds`` for every size (per-model seed lists dropped)."""
    cfg = json.loads(json.dumps(cfg))
    cfg["pretrain"]["seeds"] = list(seeds)
    for spec in cfg["models"].values():
        spec.pop("seeds", None)
    return cfg


def targets(cfg: dict) -> list[str]:
    """The 0-shot GSM8K summary of every base model (model x seed x budget)."""
    return [
        rs.path(
            cfg,
            "eval_summary",
            model=c.model,
            seed=c.seed,
            budget=c.budget,
            variant=rs.REFERENCE,
            reward=rs.BASE,
            step=0,
            bench="gsm8k",
            shots=0,
        )  # fmt: skip
        for c in rs.cells(cfg)
    ]


def read_accuracies(cfg: dict, workdir: Path) -> dict[tuple[str, int], dict[str, float]]:
    """(model, seed) -> budget label -> accuracy (fraction) of the ``custom_flexible`` scorer."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for c, target in zip(rs.cells(cfg), targets(cfg)):
        summary = json.loads((workdir / target).read_text())
        out.setdefault((c.model, c.seed), {})[c.budget] = summary["accuracy"][SCORER]["accuracy"]
    return out


def crossing(accuracy: dict[str, float], budgets: list[str], threshold: float) -> str | None:
    """The first budget (in budget order) whose accuracy reaches ``threshold``; None if none does."""
    return next((b for b in budgets if accuracy[b] >= threshold), None)


def tables(cfg: dict, acc: dict, threshold: float) -> str:
    """Markdown: per-lineage accuracies and crossings, then per-size spread per budget."""
    lines = []
    spread = ["| model | N lineages | crossed by the budget below the top | " + " | ".join(
        f"{b} mean [min, max]" for b in rs.budgets(cfg, next(iter(cfg["models"])))) + " |"]  # fmt: skip
    spread.append("|" + " --- |" * (len(spread[0].split("|")) - 2))
    for model in cfg["models"]:
        budgets = list(rs.budgets(cfg, model))
        head = f"| {model} seed | " + " | ".join(budgets) + " | crosses at |"
        lines += [head, "|" + " --- |" * (len(budgets) + 2)]
        crossed_early = 0
        seeds = rs.seeds(cfg, model)
        for s in seeds:
            a = acc[(model, s)]
            first = crossing(a, budgets, threshold)
            crossed_early += first is not None and budgets.index(first) <= len(budgets) - 2
            cells = " | ".join(f"{100 * a[b]:.1f}" for b in budgets)
            lines.append(f"| {s} | {cells} | {first or 'never'} |")
        lines.append("")
        per_budget = []
        for b in budgets:
            vals = [100 * acc[(model, s)][b] for s in seeds]
            per_budget.append(f"{sum(vals) / len(vals):.1f} [{min(vals):.1f}, {max(vals):.1f}]")
        spread.append(f"| {model} | {len(seeds)} | {crossed_early} of {len(seeds)} | " + " | ".join(per_budget) + " |")
    return "\n".join(lines + spread)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--seeds", default="1-5", help="replicate seeds per size, e.g. 1-5 or 1,2,9 (default 1-5)")
    ap.add_argument("--threshold", type=float, default=0.20, help="accuracy (fraction) that marks the copy step")
    ap.add_argument("--workdir", default=None, help="run (or read) here instead of a fresh temporary directory")
    ap.add_argument("--cores", default="2")
    ap.add_argument("--no-run", action="store_true", help="only print the tables of an existing run")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="rlscaling-robustness-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = robustness_config(rc.load_config(args.config), seed_list(args.seeds))
    config_path = workdir / "robustness.yaml"
    config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    wall = None
    if not args.no_run:
        t0 = time.time()
        cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
               "--configfile", str(config_path), "--cores", args.cores, *targets(cfg)]  # fmt: skip
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        subprocess.run(cmd, check=True, env=env)
        wall = time.time() - t0
    print(f"copy step = base accuracy ({SCORER}, GSM8K 0-shot, all items) >= {100 * args.threshold:.0f}%\n")
    print(tables(cfg, read_accuracies(cfg, workdir), args.threshold))
    if wall is not None:
        print(f"\nwall time: {wall:.0f} s = {wall / 60:.1f} min on {args.cores} cores")
    print(f"workdir: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
