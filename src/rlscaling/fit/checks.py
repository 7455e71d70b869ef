"""Input checks of the laws: finite arrays with a sign rule, enough points, distinct values, accuracy fractions.

Every check raises ``FitError`` with a message naming the law and the input; units are the caller's (compute in
FLOPs, accuracy a fraction in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .common import FitError


def finite_array(name: str, values, *, positive: bool = False, nonnegative: bool = False) -> np.ndarray:
    """``values`` as a flat float array; FitError when a value is NaN/infinite or breaks the sign rule."""
    arr = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(arr)):
        raise FitError(f"{name}: contains NaN or infinite values")
    if positive and np.any(arr <= 0):
        raise FitError(f"{name}: must be > 0 (got min {arr.min():.4g})")
    if nonnegative and np.any(arr < 0):
        raise FitError(f"{name}: compute must be >= 0 FLOPs (got min {arr.min():.4g})")
    return arr


def checked_columns(what: str, columns: Mapping[str, tuple[Any, str]], accuracy) -> tuple[list[np.ndarray], np.ndarray]:
    """The inputs of a law: each ``name: (values, rule)`` column as a finite float array (``rule`` "positive" or
    "nonnegative", e.g. FLOPs >= 0) and the accuracies as fractions in [0, 1]; FitError for a bad value or unequal
    lengths (named in ``what``'s message)."""
    arrays = [finite_array(name, values, **{rule: True}) for name, (values, rule) in columns.items()]
    y = finite_array("accuracy", accuracy)
    if any(len(a) != len(y) for a in arrays):
        raise FitError(f"{what}: {', '.join(columns)} and accuracy differ in length")
    require_fraction(y, what)
    return arrays, y


def require_distinct(what: str, named: Mapping[str, np.ndarray]) -> None:
    """FitError unless every array of ``named`` holds at least two distinct values (the name says which)."""
    for name, values in named.items():
        if np.unique(values).size < 2:
            raise FitError(f"{what}: need >= 2 distinct {name}")


def require_points(n: int, n_params: int, form: str) -> None:
    """FitError unless there is at least one more point than parameters."""
    if n < n_params + 1:
        raise FitError(f"{form}: {n} point(s) for {n_params} parameters; need at least {n_params + 1}")


def require_variation(y: np.ndarray, what: str) -> None:
    """FitError when every value of ``y`` is equal (nothing to fit)."""
    if np.ptp(y) == 0:
        raise FitError(f"{what}: all values are equal ({y[0]:.4g}); nothing to fit")


def require_fraction(y: np.ndarray, what: str) -> None:
    """FitError unless every accuracy lies in [0, 1]."""
    if np.any((y < 0) | (y > 1)):
        raise FitError(f"{what}: accuracy must be a fraction in [0, 1]")
