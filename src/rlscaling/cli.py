"""``rlscaling`` command line: a registry of subcommands.

Add a subcommand from any module with::

    from rlscaling.cli import register

    def _args(p): p.add_argument("--config", required=True)

    @register("gpu-hours", help="estimate GPU hours for a config", arguments=_args)
    def gpu_hours(args) -> int: ...

Each handler returns an exit status. Expected failures raise ``CLIError`` (or ``FitError`` /
``FileNotFoundError``) and are printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class CLIError(Exception):
    """A user-facing error: printed without a traceback."""


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


SUBCOMMANDS: dict[str, Subcommand] = {}


def register(name: str, *, help: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Decorator adding ``run(args) -> int`` as subcommand ``name``."""
    def wrap(run: Callable[[argparse.Namespace], int]):
        if name in SUBCOMMANDS:
            raise ValueError(f"subcommand {name!r} registered twice")
        SUBCOMMANDS[name] = Subcommand(name, help, arguments, run)
        return run
    return wrap


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlscaling", description="RL scaling study tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def _existing_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"{what} not found: {path}")
    return path


def _single_threaded_blas() -> None:
    """Fits run many tiny L-BFGS problems; threaded BLAS only adds contention. Call before numpy loads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


# --------------------------------------------------------------------------------------------------
# rlscaling fit
# --------------------------------------------------------------------------------------------------


def _fit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--summary", required=True, help="results/summary.csv")
    p.add_argument("--records", help="per-item records (parquet) for item bootstrap; else points are resampled")
    p.add_argument("--out", required=True, help="output directory (fits.json, allocation.csv, iso_flop.csv)")
    p.add_argument("--config", help="workflow config YAML; its 'fit' section and 'seed' are used")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples (overrides the config)")
    p.add_argument("--seed", type=int, help="bootstrap seed (overrides the config)")
    p.add_argument("--seed-table", help="published gain table CSV (benchmark, n_params_nonembedding_b, gain_pp) "
                   "to fit the seed's gain law alongside")
    p.add_argument("--figures", help="also write the fit figures (PNG + SVG) into this directory")
    p.add_argument("--progress", action="store_true", help="show progress bars")


def _load_fit_config(args: argparse.Namespace) -> dict:
    cfg: dict = {}
    if args.config:
        import yaml

        with open(_existing_file(args.config, "config"), encoding="utf-8") as fh:
            full = yaml.safe_load(fh) or {}
        cfg = dict(full.get("fit") or {})
        if "seed" in full:
            cfg.setdefault("seed", full["seed"])
    for key in ("bootstrap", "seed"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.progress:
        cfg["progress"] = True
    return cfg


def write_fits(summary_path, records_path, config: dict, out, seed_table=None) -> dict:
    """Fit every law on a study and write ``fits.json`` (+ ``allocation.csv``, ``iso_flop.csv``) into ``out``.

    ``config`` is the workflow's ``fit`` section (plus ``seed``); used by the CLI and by the ``fit`` rule.
    """
    import pandas as pd

    from rlscaling import allocate as al
    from rlscaling.fit import fit_seed_gains, fit_summary, to_jsonable
    from rlscaling.io import write_csv, write_json

    summary = pd.read_csv(_existing_file(summary_path, "summary CSV"))
    records = pd.read_parquet(_existing_file(records_path, "records parquet")) if records_path else None
    raw = fit_summary(summary, records, config)
    if seed_table:
        table = pd.read_csv(_existing_file(seed_table, "seed table CSV"))
        raw["seed_table"] = fit_seed_gains(table, bootstrap=config.get("bootstrap", 1000),
                                           seed=config.get("seed", 0))
    fits = to_jsonable(raw)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = fits["joint_law"]["chosen"]
    if chosen is None:
        print("no joint law could be fitted; allocation skipped", file=sys.stderr)
    else:
        law = al.JointLaw.from_fits(fits)
        table = al.allocation_table(law, fits.get("allocation_budgets"))
        write_csv(out / "allocation.csv", table)
        write_csv(out / "iso_flop.csv", al.iso_flop_curves(law, table["budget_flops"]))
        print(f"wrote {out / 'allocation.csv'} ({len(table)} budgets, joint form: {chosen})")
    write_json(out / "fits.json", fits)  # last: its presence marks a complete fit
    print(f"wrote {out / 'fits.json'}")
    return fits


@register("fit", help="fit the scaling laws to summary.csv and write fits.json", arguments=_fit_arguments)
def cmd_fit(args: argparse.Namespace) -> int:
    import pandas as pd

    fits = write_fits(args.summary, args.records, _load_fit_config(args), args.out, args.seed_table)
    summary = pd.read_csv(args.summary)
    if args.figures:
        from rlscaling.plots_fits import plot_all_fits

        for path in plot_all_fits(fits, summary, Path(args.figures)):
            print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------------------------------
# rlscaling allocate
# --------------------------------------------------------------------------------------------------


def _allocate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=float, action="append", required=True,
                   help="total compute in FLOPs (repeatable), e.g. 1e23")
    p.add_argument("--fits", required=True, help="fits.json written by 'rlscaling fit'")


def format_allocation(row: dict) -> str:
    """Human-readable lines for one allocation row."""
    lines = [
        f"budget            {row['budget_flops']:.3g} FLOPs",
        f"pre-training      f = {row['f_pretrain']:.3f} (95% CI {row['f_ci_low']:.3f}-{row['f_ci_high']:.3f})"
        f"  -> C_pretrain = {row['c_pretrain']:.3g} FLOPs",
        f"RL                1 - f = {1 - row['f_pretrain']:.3f}  -> C_rl = {row['c_rl']:.3g} FLOPs",
        f"accuracy          {row['accuracy']:.3f} (95% CI {row['acc_ci_low']:.3f}-{row['acc_ci_high']:.3f})",
    ]
    if row["extrapolated"]:
        lines.append(f"WARNING           extrapolated: {row['note']}")
    return "\n".join(lines)


@register("allocate", help="optimal pre-training / RL split of a FLOPs budget", arguments=_allocate_arguments)
def cmd_allocate(args: argparse.Namespace) -> int:
    from rlscaling import allocate as al
    from rlscaling.io import read_json

    path = _existing_file(args.fits, "fits JSON")
    try:
        fits = read_json(path)
    except ValueError as exc:
        raise CLIError(f"{path}: not valid JSON ({exc})") from None
    law = al.JointLaw.from_fits(fits)
    print(f"joint law ({law.form}) from {path}")
    for budget in args.budget:
        print(format_allocation(al.allocate(law, budget)))
    return 0


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rlscaling`` console script."""
    _single_threaded_blas()
    parser = build_parser()
    args = parser.parse_args(argv)
    from rlscaling.fit import FitError

    try:
        return int(args._run(args) or 0)
    except (CLIError, FitError, FileNotFoundError) as exc:
        print(f"rlscaling {args.command}: error: {exc}", file=sys.stderr)
        return 2


# --------------------------------------------------------------------------------------------------
# rlscaling gpu-hours
# --------------------------------------------------------------------------------------------------


def _gpu_hours_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="configs/qwen3.yaml", help="workflow config YAML (default: the Qwen3 study)")


@register("gpu-hours", help="estimate the GRPO GPU-hours per model size from a config", arguments=_gpu_hours_arguments)
def cmd_gpu_hours(args: argparse.Namespace) -> int:
    from rlscaling.config import load_config
    from rlscaling.gpu_hours import assumptions, estimate_gpu_hours

    cfg = load_config(_existing_file(args.config, "config"))
    table = estimate_gpu_hours(cfg)
    a = assumptions(cfg)
    print(f"GRPO GPU-hours from {args.config} (assumptions: {a})")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
