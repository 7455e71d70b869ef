"""Benchmark: ``fit_summary`` with 1,000 bootstrap resamples on a synthetic 5-size x 20-checkpoint study.

Every fit: gain laws, sigmoids, Tan et al., four joint forms with leave-one-size/budget-out, and the bootstrap of
the chosen (and allocation) form. Target: < 60 s on one core. Prints the wall time and its ratio to the target. Run:
    python benchmarks/bench_fit.py [--bootstrap 1000] [--profile]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, before numpy loads
    os.environ.setdefault(_var, "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the synthetic generator lives with the tests
from rlscaling.fit import fit_summary

from fit_synthetic import synthetic_study

TARGET_S = 60.0
SIZES = (1e5, 3e5, 1e6, 3e6, 1e7)  # parameters
PRETRAIN_TOKENS = (2e5, 6e5)  # tokens per budget
RL_STEPS = tuple(range(21))  # base + 20 RL checkpoints
RL_TOKENS_PER_STEP = 2e4


def benchmark_law() -> dict[str, float]:
    """A joint law giving error rates between ~0.2 and ~0.85 over the benchmark grid."""
    c_pre = [6 * n * d for n in SIZES for d in PRETRAIN_TOKENS]
    c_rl = [6 * n * RL_TOKENS_PER_STEP * s for n in SIZES for s in RL_STEPS if s]
    g_pre, g_rl = np.exp(np.mean(np.log(c_pre))), np.exp(np.mean(np.log(c_rl)))
    return {
        "E": 0.1,
        "A": 0.15 * g_pre**0.25,
        "alpha": 0.25,
        "B": 0.4 * (g_rl / 10) ** 0.48,
        "beta": 0.48,
        "C0": g_rl / 10,
    }


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--profile", action="store_true", help="print the 15 costliest functions")
    args = parser.parse_args(argv)
    summary, records = synthetic_study(
        benchmark_law(),
        n_params=SIZES,
        pretrain_tokens=PRETRAIN_TOKENS,
        rl_steps=RL_STEPS,
        rl_tokens_per_step=RL_TOKENS_PER_STEP,
        n_items=args.items,
        seed=0,
    )
    config = {"bootstrap": args.bootstrap, "seed": 0}
    start = time.perf_counter()
    if args.profile:
        import cProfile
        import pstats

        with cProfile.Profile() as prof:
            fits = fit_summary(summary, records, config)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(15)
    else:
        fits = fit_summary(summary, records, config)
    elapsed = time.perf_counter() - start
    print(
        f"fit_summary: {len(summary)} points ({len(SIZES)} sizes x {len(PRETRAIN_TOKENS)} budgets x "
        f"{len(RL_STEPS)} steps), {args.bootstrap} bootstrap resamples of {args.items} items"
    )
    print(f"chosen joint form: {fits['joint_law']['chosen']}; allocation form: {fits['joint_law']['allocation_form']}")
    print(
        f"time: {elapsed:.1f} s; target {TARGET_S:.0f} s; ratio {elapsed / TARGET_S:.2f} "
        f"({'PASS' if elapsed < TARGET_S else 'FAIL'})"
    )
    return elapsed


if __name__ == "__main__":
    main()
