"""``rlscaling`` command line: a registry of subcommands.

Add a subcommand from any module with::

    from rlscaling.cli import register

    def _args(p): p.add_argument("--config", required=True)

    @register("gpu-hours", help="estimate GPU hours for a config", arguments=_args)
    def gpu_hours(args) -> int: ...

Each handler returns an exit status. Expected failures raise ``CLIError`` (or ``FitError``, e.g.
``FitInputError`` naming a file, row and column, a config's ``ConfigError`` naming its key, or
``FileNotFoundError``) and are printed as one line on stderr with exit status 2. ``rlscaling allocate`` exits 1,
saying why, when ``fits.json`` holds no identified law (``rlscaling fit`` exits 0 then: the fit ran, the data support
no plan). The work itself lives in the library (``rlscaling.fit``, ``rlscaling.fit.allocate``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rlscaling.io import existing_file


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
    p.add_argument(
        "--out",
        required=True,
        help="output directory: fits.json, allocation.csv, iso_flop.csv are (re)written, nothing else",
    )
    p.add_argument("--config", help="workflow config YAML; its 'fit' section and 'seed' are used")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples (overrides the config)")
    p.add_argument("--seed", type=int, help="bootstrap seed (overrides the config)")
    p.add_argument(
        "--seed-table",
        help="published gain table CSV (benchmark, n_params_nonembedding_b, gain_pp) "
        "to fit the seed's gain law alongside",
    )
    p.add_argument("--figures", help="also write the fit figures (PNG + SVG) into this directory")
    p.add_argument("--progress", action="store_true", help="show progress bars")


def _load_fit_config(args: argparse.Namespace) -> dict:
    cfg: dict = {}
    if args.config:
        import yaml

        with open(existing_file(args.config, "config", CLIError), encoding="utf-8") as fh:
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


@register("fit", help="fit the scaling laws to summary.csv and write fits.json", arguments=_fit_arguments)
def cmd_fit(args: argparse.Namespace) -> int:
    from rlscaling.fit import FitConfig, read_summary, write_fits
    from rlscaling.io import read_json

    settings = _load_fit_config(args)
    paths = write_fits(args.summary, args.records, settings, args.out, args.seed_table)
    fits = read_json(paths[0])
    if fits["allocation"]["status"] != "ok":  # the fit itself succeeded (exit 0); the plan files are header-only
        print(f"no compute plan ({fits['allocation']['reason']})", file=sys.stderr)
    for path in paths:
        print(f"wrote {path}")
    if args.figures:
        from rlscaling.analysis.views import reference_rows
        from rlscaling.report.plots.fits import plot_all_fits

        fit_cfg = FitConfig.from_mapping(settings)
        summary = reference_rows(read_summary(args.summary, fit_cfg), fit_cfg.variant)
        for path in plot_all_fits(fits, summary, Path(args.figures)):
            print(f"wrote {path}")
    return 0


def write_fits(*args, **kwargs):
    """Deprecated alias of :func:`rlscaling.fit.write_fits` (kept while ``workflow/scripts/fit.py`` imports it)."""
    from rlscaling.fit import write_fits as _write_fits

    return _write_fits(*args, **kwargs)


# --------------------------------------------------------------------------------------------------
# rlscaling allocate
# --------------------------------------------------------------------------------------------------


def _allocate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--budget", type=float, action="append", required=True, help="total compute in FLOPs (repeatable), e.g. 1e23"
    )
    p.add_argument("--fits", required=True, help="fits.json written by 'rlscaling fit'")


def _with_ci(value: float, low: float, high: float, fmt: str) -> str:
    ci = "no CI" if math.isnan(low) or math.isnan(high) else f"95% CI {low:{fmt}} - {high:{fmt}}"  # NaN: no draws
    return f"{value:{fmt}} ({ci})"


def format_allocation(row: dict) -> str:
    """Human-readable lines for one allocation row (``rlscaling.fit.allocate.ALLOCATION_COLUMNS``)."""
    lines = [
        f"budget            {row['budget_flops']:.3g} FLOPs (law: {row['form']})",
        (
            f"pre-training      f = {_with_ci(row['f_pretrain'], row['f_ci_low'], row['f_ci_high'], '.3f')}"
            f"  -> C_pretrain = {row['c_pretrain']:.3g} FLOPs"
        ),
    ]
    if not math.isnan(row["n_params"]):  # the law separates size from tokens
        lines += [
            (f"model size        N = {_with_ci(row['n_params'], row['n_ci_low'], row['n_ci_high'], '.3g')} parameters"),
            f"tokens            D = {_with_ci(row['pretrain_tokens'], row['d_ci_low'], row['d_ci_high'], '.3g')}",
        ]
    lines += [
        f"RL                C_rl = {_with_ci(row['c_rl'], row['c_rl_ci_low'], row['c_rl_ci_high'], '.3g')} FLOPs",
        f"accuracy          {_with_ci(row['accuracy'], row['acc_ci_low'], row['acc_ci_high'], '.3f')}",
    ]
    if not math.isnan(row["f_forms_low"]):
        lines.append(
            f"forms             {row['forms_within_noise']} within noise: f = {row['f_forms_low']:.3f} - "
            f"{row['f_forms_high']:.3f}"
        )
    if row["extrapolated"] or row["at_edge"]:
        lines.append(f"WARNING           {'extrapolated: ' if row['extrapolated'] else ''}{row['note']}")
    elif row["note"]:
        lines.append(f"note              {row['note']}")
    return "\n".join(lines)


@register("allocate", help="optimal pre-training / RL split of a FLOPs budget", arguments=_allocate_arguments)
def cmd_allocate(args: argparse.Namespace) -> int:
    from rlscaling.fit import NoLawError
    from rlscaling.fit import allocate as al
    from rlscaling.io import read_json

    path = existing_file(args.fits, "fits JSON", CLIError)
    try:
        fits = read_json(path)
    except ValueError as exc:
        raise CLIError(f"{path}: not valid JSON ({exc})") from None
    try:
        law = al.JointLaw.from_fits(fits)
    except NoLawError as exc:  # exit 1: the data support no plan (2 is for unusable input)
        print(f"rlscaling allocate: {path}: {exc}. No compute plan.", file=sys.stderr)
        return 1
    print(f"joint law {law.form} from {path}" + (f" ({law.note})" if law.note else ""))
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
    from rlscaling.study import ConfigError

    try:
        return int(args._run(args) or 0)
    except (CLIError, ConfigError, FitError, FileNotFoundError) as exc:
        print(f"rlscaling {args.command}: error: {exc}", file=sys.stderr)
        return 2


# --------------------------------------------------------------------------------------------------
# rlscaling validate
# --------------------------------------------------------------------------------------------------


def _validate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="workflow config YAML")


@register(
    "validate",
    help="validate a config: the schema (with its defaults) and the cross-key checks the Snakefile runs",
    arguments=_validate_arguments,
)
def cmd_validate(args: argparse.Namespace) -> int:
    """Exit 0 and say what the config defines, or exit 2 with the error naming its key (via ``main``)."""
    from rlscaling.workflow.config import load_config

    cfg = load_config(existing_file(args.config, "config", CLIError))
    print(f"{args.config}: valid (models {', '.join(cfg['models'])}; benchmarks {', '.join(cfg['benchmarks'])})")
    return 0


# --------------------------------------------------------------------------------------------------
# rlscaling gpu-hours
# --------------------------------------------------------------------------------------------------


def _gpu_hours_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="configs/qwen3.yaml", help="workflow config YAML (default: the Qwen3 study)")


@register(
    "gpu-hours",
    help="estimate the GRPO GPU-hours per model size and sweep variant from a config",
    arguments=_gpu_hours_arguments,
)
def cmd_gpu_hours(args: argparse.Namespace) -> int:
    from rlscaling.workflow.config import load_config
    from rlscaling.workflow.gpu_hours import assumptions, estimate_gpu_hours, evaluation_engine_starts, variant_totals

    cfg = load_config(existing_file(args.config, "config", CLIError))
    try:
        table = estimate_gpu_hours(cfg)
    except ValueError as exc:  # a size the estimate cannot know offline: the message names the key to set
        raise CLIError(str(exc)) from None
    a = assumptions(cfg)
    print(f"GRPO GPU-hours from {args.config} (assumptions: {a})")
    print(table.to_string(index=False))
    if set(table["variant"]) - {"reference", ""}:
        print("GRPO GPU-hours per sweep variant (grpo.sweeps), summed over models:")
        print(variant_totals(table).to_string(index=False))
    e = evaluation_engine_starts(cfg)
    print(
        f"evaluation engine starts ({e['engine_start_s']:.0f} s each, assumed): one job per checkpoint "
        f"{e['jobs_one_per_checkpoint']} starts = {e['gpu_hours_one_per_checkpoint']:.2f} GPU-h; one job per file "
        f"{e['jobs_one_per_file']} starts = {e['gpu_hours_one_per_file']:.2f} GPU-h; saved "
        f"{e['gpu_hours_saved']:.2f} GPU-h"
    )
    return 0


# --------------------------------------------------------------------------------------------------
# rlscaling prompts
# --------------------------------------------------------------------------------------------------


def _prompts_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="workflow config YAML (its prompts.style and benchmark settings)")
    p.add_argument("--benchmark", default="gsm8k", help="a benchmark of the config (default gsm8k)")
    p.add_argument("--shots", type=int, default=0, help="few-shot exemplars (default 0)")
    p.add_argument("--items", required=True, help="JSON lines of evaluated rows in the dataset's own format")
    p.add_argument("--pool", help="JSON lines of exemplar rows (the few-shot split, in order), needed for --shots > 0")
    p.add_argument("--rl", action="store_true", help="print the GRPO prompt text (before the chat template) instead")


@register("prompts", help="print the exact prompts a config builds, from local rows", arguments=_prompts_arguments)
def cmd_prompts(args: argparse.Namespace) -> int:
    from rlscaling.data.sources import DataSourceError
    from rlscaling.prompts import records_from_rows, render_prompts
    from rlscaling.study import benchmark_kind
    from rlscaling.workflow.config import load_config

    cfg = load_config(existing_file(args.config, "config", CLIError))
    if args.benchmark not in cfg["benchmarks"]:
        raise CLIError(
            f"--benchmark {args.benchmark!r} is not in {args.config}'s benchmarks {sorted(cfg['benchmarks'])}"
        )
    kind = "gsm8k" if args.rl else benchmark_kind(args.benchmark, cfg["benchmarks"][args.benchmark])
    if args.shots > 0 and not args.rl and not args.pool:
        raise CLIError(f"--shots {args.shots} needs --pool (the exemplar rows)")
    try:
        items = records_from_rows(existing_file(args.items, "items", CLIError), kind, "test")
        pool = records_from_rows(existing_file(args.pool, "pool", CLIError), kind, "train") if args.pool else []
        sys.stdout.write(render_prompts(cfg, args.benchmark, args.shots, items, pool, args.rl))
    except (DataSourceError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
