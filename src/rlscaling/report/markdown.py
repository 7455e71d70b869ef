"""Markdown for ``summary.md``: GitHub tables and the number formats (percent, percentage points, CIs)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MISSING = "–"


def finite(x: Any) -> bool:
    """Whether ``x`` is a finite real number (not None, not NaN/inf, not a string)."""
    return x is not None and isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(float(x))


def fmt_pct(fraction: float) -> str:
    """``0.4071`` -> ``40.7%``; missing -> ``–``."""
    return f"{100 * fraction:.1f}%" if finite(fraction) else MISSING


def fmt_ci(low: float, high: float) -> str:
    """``[37.1, 44.2]`` in percent; empty when either bound is missing."""
    return f" [{100 * low:.1f}, {100 * high:.1f}]" if finite(low) and finite(high) else ""


def fmt_gain(gain_pp: float) -> str:
    """``27.6`` (percentage points) -> ``+27.6 pp``."""
    return f"{gain_pp:+.1f} pp" if finite(gain_pp) else MISSING


def fmt_pp_ci(low_pp: float, high_pp: float) -> str:
    """`` [20.1, 35.0]`` from bounds already in percentage points; empty when either is missing."""
    return f" [{low_pp:.1f}, {high_pp:.1f}]" if finite(low_pp) and finite(high_pp) else ""


def section(heading: str, intro: str | None, table: str) -> list[str]:
    """Lines of one ``summary.md`` section: heading, the ``intro`` paragraph (if any) and the table, each followed
    by a blank line."""
    return [heading, "", *([intro, ""] if intro else []), table, ""]


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """GitHub-flavoured markdown table (``|`` in cells escaped)."""

    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _numeric_row(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(finite(x) or x is None for x in v)


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Scalar leaves of a nested fits dict as (dotted key, formatted value)."""
    if isinstance(obj, Mapping):
        out = []
        for key, value in obj.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(obj, (list, tuple)) and obj and all(_numeric_row(v) for v in obj):  # e.g. bootstrap draws
        return [(prefix, f"({len(obj)} rows of {len(obj[0])} values: fits/fits.json)")]
    if isinstance(obj, (list, tuple)) and all(finite(v) or v is None for v in obj):
        if len(obj) <= 4:
            return [(prefix, "[" + ", ".join(MISSING if v is None else f"{v:.4g}" for v in obj) + "]")]
        return [(prefix, f"({len(obj)} values)")]
    if isinstance(obj, (list, tuple)):
        out = []
        for i, value in enumerate(obj):
            out += flatten(value, f"{prefix}[{i}]")
        return out
    if isinstance(obj, bool) or obj is None:
        return [(prefix, str(obj))]
    if finite(obj):
        return [(prefix, f"{obj:.4g}")]
    return [(prefix, str(obj))]
