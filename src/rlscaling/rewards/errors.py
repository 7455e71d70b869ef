"""The error every scorer entry point raises for an unknown name (mode, scorer, benchmark kind, data source)."""

from __future__ import annotations

from collections.abc import Sequence


def unknown(kind: str, name: object, valid: Sequence[str]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; valid: {', '.join(valid)}")
