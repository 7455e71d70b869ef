"""The study-level fit step: read and check the inputs, fit every law, write a fixed set of files.

:func:`write_fits` always writes exactly :data:`FIT_OUTPUTS` into ``out_dir`` (header-only CSVs plus the
reason in ``fits.json``'s ``allocation`` when no joint law is identified: no plan from data that cannot support
one), removes earlier copies of those files first, and touches nothing else. Used by ``rlscaling fit`` and by the
workflow's ``fit`` rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .common import FitError, FitInputError, NoLawError, to_jsonable
from .config import FitConfig
from .study import fit_seed_gains, fit_summary
from .validate import read_records, read_summary

FITS_JSON, ALLOCATION_CSV, ISO_FLOP_CSV = "fits.json", "allocation.csv", "iso_flop.csv"
FIT_OUTPUTS = (FITS_JSON, ALLOCATION_CSV, ISO_FLOP_CSV)


def read_seed_table(path: str | Path) -> pd.DataFrame:
    """The published gain table CSV; FitInputError when missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise FitInputError(f"seed table CSV not found: {path}")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise FitInputError(f"{path}: empty file") from None


def allocation_tables(fits: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(allocation, iso_flop, status entry) for a converted fits dict; header-only tables and the reason when no law
    was identified (status ``no_law``) or the law cannot make a plan (status ``failed``)."""
    from rlscaling.fit import allocate as al

    try:
        law = al.JointLaw.from_fits(fits)
    except FitError as exc:
        empty = (pd.DataFrame(columns=al.ALLOCATION_COLUMNS), pd.DataFrame(columns=al.ISO_FLOP_COLUMNS))
        return (*empty, {"status": "no_law" if isinstance(exc, NoLawError) else "failed", "reason": str(exc)})
    table = al.allocation_table(law, fits.get("allocation_budgets"))
    curves = al.iso_flop_curves(law, table["budget_flops"])
    return (
        table,
        curves,
        {
            "status": "ok",
            "form": law.form,
            "budgets": len(table),
            "note": law.note,
            "separates_size": law.law.separates_size,
        },
    )


def write_fits(
    summary_path: str | Path,
    records_path: str | Path | None,
    fit_settings: Mapping[str, Any] | None,
    out_dir: str | Path,
    seed_table: str | Path | None = None,
    reward_mode: str | None = None,
) -> list[Path]:
    """Fit every law on a study and write ``fits.json``, ``allocation.csv``, ``iso_flop.csv`` into ``out_dir``.

    ``fit_settings`` is the workflow config's ``fit`` section (with ``seed``). The laws are fitted on the seed means
    of the base models and of ``reward_mode``'s runs (:func:`rlscaling.analysis.views.study_view`; None = every mode)
    of the sweep variant ``fit.variant`` (:func:`rlscaling.analysis.views.reference_rows`; default the reference).
    Raises FitInputError (one line: file, row, column) for unusable inputs and FitError for a bad setting, before
    writing anything; earlier copies of the three files are removed first, so a failed run leaves none behind.
    Returns the written paths.
    """
    from rlscaling.analysis.views import reference_rows, study_view
    from rlscaling.io import write_csv, write_json
    from rlscaling.schemas import SEED_MEAN

    cfg = FitConfig.from_mapping(dict(fit_settings or {}))
    out_dir = Path(out_dir)
    paths = [out_dir / name for name in FIT_OUTPUTS]
    for path in paths:
        path.unlink(missing_ok=True)
    summary = study_view(reference_rows(read_summary(summary_path, cfg), cfg.variant), reward_mode)
    records = None
    if records_path:
        records = study_view(reference_rows(read_records(records_path, cfg), cfg.variant), reward_mode)
    table = read_seed_table(seed_table) if seed_table else None
    raw = fit_summary(summary, records, cfg)
    raw["selection"].update(seed=SEED_MEAN, reward_modes=["base", reward_mode] if reward_mode else "all")
    if table is not None:
        raw["seed_table"] = fit_seed_gains(table, bootstrap=cfg.bootstrap, seed=cfg.seed, ci=cfg.ci)
    fits = to_jsonable(raw)
    allocation, iso_flop, status = allocation_tables(fits)
    fits["allocation"] = status
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(paths[1], allocation)
    write_csv(paths[2], iso_flop)
    write_json(paths[0], fits)  # last: its presence marks a complete fit
    return paths
