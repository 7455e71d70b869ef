"""Input checks for the fits: every problem is one line naming the file, the first bad row and the column.

Rows of ``summary.csv`` are named by their line in the file (the header is line 1); rows of the records
parquet by their 0-based row number. Only the rows the fit uses (its benchmark/scorer/shots/subset) are
checked: other rows (e.g. ``scorer = loss``, whose "accuracy" is a loss) may hold other ranges.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rlscaling.io import existing_file

from .common import FitInputError
from .config import FitConfig
from .selection import FIT_COLUMNS, RECORD_COLUMNS, selection_mask

# column -> (lowest allowed, lowest inclusive?, highest allowed, what it is)
SUMMARY_RANGES = {
    "n_params": (0.0, False, np.inf, "parameters > 0"),
    "pretrain_tokens": (0.0, False, np.inf, "tokens > 0"),
    "c_pretrain": (0.0, False, np.inf, "FLOPs > 0"),
    "rl_step": (0.0, True, np.inf, "an RL step >= 0"),
    "c_rl": (0.0, True, np.inf, "FLOPs >= 0"),
    "accuracy": (0.0, True, 1.0, "a fraction in [0, 1]"),
}
RECORD_RANGES = {"score": (0.0, True, 1.0, "a score in [0, 1]")}


def _where(source: str, index, first_line: int | None) -> str:
    return f"{source}:{index + first_line}" if first_line is not None else f"{source} row {index}"


def check_numeric_columns(frame: pd.DataFrame, ranges: dict, source: str, first_line: int | None) -> pd.DataFrame:
    """Convert ``ranges``' columns to float; FitInputError at the first non-number, NaN, inf or out-of-range value."""
    out = frame.copy()
    for col, (lo, lo_inclusive, hi, what) in ranges.items():
        values = pd.to_numeric(frame[col], errors="coerce").astype(float)
        ok = np.isfinite(values) & (values <= hi) & ((values >= lo) if lo_inclusive else (values > lo))
        if not ok.all():
            pos = int(np.flatnonzero(~ok.to_numpy())[0])
            raw = frame[col].iloc[pos]
            shown = repr(raw) if isinstance(raw, str) else str(raw)  # text quoted, numbers as written (nan, inf)
            raise FitInputError(
                f"{_where(source, frame.index[pos], first_line)}: column {col!r} = {shown} is not {what}"
            )
        out[col] = values
    return out


def check_summary(
    summary: pd.DataFrame, cfg: FitConfig, source: str = "summary", first_line: int | None = None
) -> pd.DataFrame:
    """The summary with its fitted rows' numeric columns checked and converted (other rows untouched)."""
    missing = [c for c in FIT_COLUMNS if c not in summary.columns]
    if missing:
        raise FitInputError(f"{source}: missing column(s) {missing}")
    if summary.empty:
        raise FitInputError(f"{source}: no data rows (only a header)")
    mask = selection_mask(summary, cfg)
    checked = check_numeric_columns(summary[mask], SUMMARY_RANGES, source, first_line)
    out = summary.copy()
    for col in SUMMARY_RANGES:
        out[col] = pd.to_numeric(out[col], errors="coerce")
        out.loc[mask, col] = checked[col]
    return out


def check_records(records: pd.DataFrame, cfg: FitConfig, source: str = "records") -> pd.DataFrame:
    """The records with the fitted rows' scores checked (finite, in [0, 1])."""
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise FitInputError(f"{source}: missing column(s) {missing}")
    mask = selection_mask(records, cfg)
    out = records.copy()
    out.loc[mask, "score"] = check_numeric_columns(records[mask], RECORD_RANGES, source, None)["score"]
    return out


def read_summary(path: str | Path, cfg: FitConfig) -> pd.DataFrame:
    """Read and check ``summary.csv``; FitInputError for a missing or empty file or a bad value (file:line)."""
    path = existing_file(path, "summary CSV", FitInputError)
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise FitInputError(f"{path}: empty file (expected a header with columns {list(FIT_COLUMNS)})") from None
    except pd.errors.ParserError as exc:
        raise FitInputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    return check_summary(frame, cfg, str(path), first_line=2)


def read_records(path: str | Path, cfg: FitConfig) -> pd.DataFrame:
    """Read and check the per-item records parquet; FitInputError names the file and the first bad row."""
    path = existing_file(path, "records parquet", FitInputError)
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError, a truncated file an OSError
        raise FitInputError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
    return check_records(frame, cfg, str(path))
