"""Run a study end to end and print wall time per rule and in total (target: default study <= 10 min on 2 cores).

    python benchmarks/bench_study.py                      # default config, in a fresh temporary directory
    python benchmarks/bench_study.py --workdir . --no-run # only summarise an existing results/benchmarks/
    python benchmarks/bench_study.py --config tests/configs/micro.yaml

Per-job times come from each rule's ``benchmark:`` file (``results/benchmarks/**.tsv``, column ``s``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_workflow import snakemake_command  # noqa: E402

TARGET_S = 10 * 60


def per_rule_times(workdir: Path) -> pd.DataFrame:
    rows = []
    bench_dir = workdir / "results" / "benchmarks"
    for tsv in bench_dir.rglob("*.tsv"):
        rule = tsv.relative_to(bench_dir).parts[0].removesuffix(".tsv")
        s = pd.read_csv(tsv, sep="\t")["s"].iloc[0]
        rows.append({"rule": rule, "job": str(tsv.relative_to(bench_dir)), "s": float(s)})
    if not rows:
        raise SystemExit(f"no benchmark files under {bench_dir}: run the study first")
    df = pd.DataFrame(rows)
    return (
        df.groupby("rule")["s"]
        .agg(jobs="count", total_s="sum", mean_s="mean", max_s="max")
        .sort_values("total_s", ascending=False)
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--workdir", default=None, help="run (or read) here instead of a fresh temporary directory")
    ap.add_argument("--cores", default="2")
    ap.add_argument("--no-run", action="store_true", help="only summarise existing benchmark files")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="rlscaling-bench-"))
    wall = None
    if not args.no_run:
        t0 = time.time()
        cmd = snakemake_command(workdir, Path(args.config).resolve(), "--cores", args.cores)
        subprocess.run(cmd, check=True)
        wall = time.time() - t0
    table = per_rule_times(workdir)
    pd.set_option("display.width", 120)
    print(table.round(2).to_string())
    print(f"\nsum of job times: {table['total_s'].sum():.1f} s (jobs run {args.cores}-way in parallel)")
    if wall is not None:
        print(
            f"wall time: {wall:.1f} s = {wall / 60:.2f} min; target {TARGET_S / 60:.0f} min; "
            f"ratio wall/target = {wall / TARGET_S:.2f}"
        )
    print(f"workdir: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
