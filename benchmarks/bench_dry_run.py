"""Time `snakemake -n --profile profiles/slurm` on the production (Qwen3) study; target < 5 s.

python benchmarks/bench_dry_run.py [--config configs/qwen3.yaml] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_workflow import snakemake_command  # noqa: E402

TARGET_S = 5.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "qwen3.yaml"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    times = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as wd:
            t0 = time.perf_counter()
            profile = str(ROOT / "profiles" / "slurm")
            cmd = snakemake_command(Path(wd), Path(args.config), "--profile", profile, "-n", "--quiet")
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
    best = min(times)
    print(
        f"dry run of {Path(args.config).name} with profiles/slurm: best {best:.2f} s of {args.repeat} "
        f"(all: {', '.join(f'{t:.2f}' for t in times)}); target {TARGET_S:.0f} s; ratio {best / TARGET_S:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
