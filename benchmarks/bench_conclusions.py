"""Do the study's conclusions hold across RL seeds? Re-run the RL part of a finished study with other seeds.

Takes a workdir holding a finished study run (``snakemake`` of ``--config``; run there first if it has no
``findings.csv``), copies it once per extra RL seed (``<workdir>-rl<seed>``, timestamps and Snakemake's metadata
kept) and re-runs it with ``grpo.seed: <seed>``: Snakemake's params trigger re-runs exactly the GRPO runs, the
evaluations of their checkpoints and the analysis; base models and their evaluations are reused. Then prints, per
finding and cell of ``findings.csv`` (its verdict: CI above 0 = reproduced):

- how many RL seeds reproduce it on the seed means, with the estimate's mean and [min, max] across RL seeds;
- how many (RL seed, replicate seed) lineages reproduce it on their own;

and the RL gain (custom_flexible and strict accuracy, final checkpoint minus base, seed means, GSM8K 0-shot) per
model and reward mode across RL seeds. Base-model findings do not depend on the RL seed: their spread is the
replicate seeds' (``bench_robustness.py`` has more lineages).

    python benchmarks/bench_conclusions.py --workdir /tmp/study --rl-seeds 1234,1,2
    python benchmarks/bench_conclusions.py --workdir /tmp/study --rl-seeds 1234,1,2 --no-run   # tables only

The first RL seed is the workdir's own run (the study seed when ``grpo.seed`` is null); the tables are Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from rlscaling import study as rs
from rlscaling.labels import format_tokens
from rlscaling.report.markdown import md_table
from rlscaling.workflow import config as rc

ROOT = Path(__file__).resolve().parents[1]


def run_study(workdir: Path, config_path: Path, cores: str) -> float:
    """``snakemake`` on this repository's Snakefile in ``workdir``; wall seconds."""
    t0 = time.time()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(config_path), "--cores", cores]  # fmt: skip
    subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    return time.time() - t0


def rl_seed_config(cfg: dict, rl_seed: int) -> dict:
    out = yaml.safe_load(yaml.safe_dump(cfg))
    out["grpo"]["seed"] = int(rl_seed)
    return out


def findings_across(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """One row per (finding, model, pretrain_tokens): verdict counts over RL seeds (seed means) and over
    (RL seed, replicate seed) lineages, and the seed-mean estimate's mean / min / max over RL seeds (pp)."""
    frames = [t.assign(rl_seed=s, seed=t["seed"].astype(str)) for s, t in tables.items()]
    both = pd.concat(frames, ignore_index=True)
    rows = []
    for (finding, model, tokens), g in both.groupby(["finding", "model", "pretrain_tokens"], sort=False):
        mean, lineage = g[g["seed"] == "mean"], g[g["seed"] != "mean"]
        rows.append({
            "finding": finding, "model": model, "pretrain_tokens": tokens,
            "rl_seeds_reproduced": f"{int((mean['verdict'] == 'reproduced').sum())} of {len(mean)}",
            "estimate_pp_mean": mean["estimate_pp"].mean(), "estimate_pp_min": mean["estimate_pp"].min(),
            "estimate_pp_max": mean["estimate_pp"].max(),
            "verdicts": ", ".join(f"{n} {v}" for v, n in mean["verdict"].value_counts().items()),
            "lineages_reproduced": f"{int((lineage['verdict'] == 'reproduced').sum())} of {len(lineage)}",
        })  # fmt: skip
    return pd.DataFrame(rows)


def rl_gains(summaries: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Per (model, reward mode, scorer): the final checkpoint's minus the base model's accuracy (pp, seed means,
    GSM8K 0-shot, all items) per RL seed, and their mean / min / max."""
    rows = []
    for rl_seed, s in summaries.items():
        s = s[(s["seed"].astype(str) == "mean") & (s["benchmark"] == "gsm8k") & (s["subset"] == "all")]
        s = s[(s["shots"] == 0) & s["scorer"].isin(["custom_flexible", "strict"])]
        for (model, tokens), cell in s.groupby(["model", "pretrain_tokens"]):
            base = cell[cell["reward_mode"] == rs.BASE].set_index("scorer")["accuracy"]
            for mode, run in cell[cell["reward_mode"] != rs.BASE].groupby("reward_mode"):
                final = run[run["rl_step"] == run["rl_step"].max()].set_index("scorer")["accuracy"]
                for scorer in final.index:
                    rows.append({"model": model, "pretrain_tokens": tokens, "reward_mode": mode, "scorer": scorer,
                                 "rl_seed": rl_seed, "gain_pp": 100 * (final[scorer] - base[scorer])})  # fmt: skip
    g = pd.DataFrame(rows)
    return (
        g.groupby(["model", "pretrain_tokens", "reward_mode", "scorer"], sort=False)["gain_pp"]
        .agg(n_rl_seeds="count", mean="mean", min="min", max="max")
        .reset_index()
    )


def split_answers(dirs: dict[int, Path], results: str) -> pd.DataFrame:
    """Per RL seed: whether a joint law is identified, which, and its compute-optimal pre-training share (with CI)
    at each allocation budget (``fits/fits.json``, ``fits/allocation.csv``)."""
    rows = []
    for rl_seed, d in dirs.items():
        law = json.loads((d / results / "fits" / "fits.json").read_text())["joint_law"]
        row = {"rl_seed": rl_seed, "identified": law["identified"], "form": law.get("chosen") or "–"}
        allocation = pd.read_csv(d / results / "fits" / "allocation.csv")
        for r in allocation.itertuples():
            row[f"f_pretrain at {r.budget_flops:.2g} FLOPs"] = (
                f"{r.f_pretrain:.2f} [{r.f_ci_low:.2f}, {r.f_ci_high:.2f}]"
            )
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table: token counts compact, other floats to one decimal."""

    def cell(col, v):
        if col == "pretrain_tokens":
            return format_tokens(v)
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    return md_table(
        list(frame.columns), [[cell(c, v) for c, v in zip(frame.columns, row)] for row in frame.itertuples(index=False)]
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", required=True, help="a finished study run of --config (run there if unfinished)")
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--rl-seeds", default="1234,1,2", help="comma-separated; the first is the workdir's own run")
    ap.add_argument("--cores", default="2")
    ap.add_argument("--no-run", action="store_true", help="only print the tables of existing runs")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir).resolve()
    cfg = rc.load_config(args.config)
    seeds = [int(s) for s in args.rl_seeds.split(",")]
    dirs = {seeds[0]: workdir}
    results = rs.results_dir(cfg)
    if not args.no_run and not (workdir / results / "findings.csv").exists():
        print(f"no finished study in {workdir}: running it ({time.strftime('%H:%M:%S')})", flush=True)
        print(f"study: {run_study(workdir, Path(args.config).resolve(), args.cores):.0f} s", flush=True)
    for rl_seed in seeds[1:]:
        dest = workdir.with_name(f"{workdir.name}-rl{rl_seed}")
        dirs[rl_seed] = dest
        if args.no_run:
            continue
        if not dest.exists():
            shutil.copytree(workdir, dest, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
        config_path = dest / f"rl_seed_{rl_seed}.yaml"
        config_path.write_text(yaml.safe_dump(rl_seed_config(cfg, rl_seed), sort_keys=False))
        print(f"RL seed {rl_seed} in {dest} ({time.strftime('%H:%M:%S')})", flush=True)
        print(f"RL seed {rl_seed}: {run_study(dest, config_path, args.cores):.0f} s", flush=True)
    tables = {s: pd.read_csv(d / results / "findings.csv") for s, d in dirs.items()}
    summaries = {s: pd.read_csv(d / results / "summary.csv") for s, d in dirs.items()}
    print(f"\nRL seeds {seeds} (the first: {workdir})\n")
    print(markdown(findings_across(tables)))
    print("\nRL gain (pp), final checkpoint minus base, seed means, GSM8K 0-shot, all items:\n")
    print(markdown(rl_gains(summaries)))
    print("\nThe split question per RL seed (fits/fits.json, fits/allocation.csv):\n")
    print(markdown(split_answers(dirs, results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
