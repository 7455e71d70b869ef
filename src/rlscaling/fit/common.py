"""Shared pieces of the fits: the error types, parameter tables, bootstrap loops and intervals, JSON conversion.

Units are those of the caller (compute in FLOPs, accuracy as a fraction in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rlscaling.metrics import percentile_ci  # noqa: F401  (re-exported: the fits' percentile CI)

try:  # progress bars are optional niceties
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover

    def tqdm(it, **_):  # type: ignore[no-redef]
        return it


class FitError(ValueError):
    """A fit cannot be made from the given data; the message says why."""


class FitInputError(FitError):
    """An input file is unusable (missing, empty, a bad value); the message names the file, row and column.

    Raised before anything is fitted or written; ``rlscaling fit`` turns it into exit status 2.
    """


class NoLawError(FitError):
    """``fits.json`` holds no identified law, so there is no compute plan; the message says why."""


def param_table(
    names: list[str],
    estimate,
    draws: np.ndarray | None,
    ci: float,
    boxes: Mapping[str, dict] | None = None,
    fixed: tuple[str, ...] = (),
) -> dict[str, dict]:
    """``{name: {estimate, ci_low, ci_high}}``; CI bounds are None without bootstrap draws.

    With ``boxes`` (the joint laws: :func:`.identify.bound_flags`) every entry is :func:`.identify.interval`'s:
    one-sided for a parameter at its bound or whose CI reaches its box, never a zero-width CI; ``fixed`` names
    parameters that are not fitted."""
    estimate = np.asarray(estimate, dtype=float)
    if boxes is not None:
        from .identify import interval

        cols = [None] * len(names) if draws is None else list(np.asarray(draws, dtype=float).T)
        return {n: interval(e, col, ci, boxes.get(n), fixed=n in fixed) for n, e, col in zip(names, estimate, cols)}
    if draws is None or len(draws) == 0 or np.all(np.isnan(draws)):
        low = high = [None] * len(names)
    else:
        low, high = percentile_ci(draws, ci)
    return {
        n: {
            "estimate": float(e),
            "ci_low": None if lo is None else float(lo),
            "ci_high": None if hi is None else float(hi),
        }
        for n, e, lo, hi in zip(names, estimate, low, high)
    }


def log_error(accuracy, floor: float) -> np.ndarray:
    """``log(1 - accuracy)`` with the error rate (a fraction) clipped below at ``floor``: what the laws fit."""
    return np.log(np.clip(1 - np.asarray(accuracy, dtype=float), floor, None))


def goodness_of_fit(y: np.ndarray, y_hat: np.ndarray) -> dict[str, float]:
    """R^2 and RMSE of predictions, in the units of ``y``."""
    resid = y - y_hat
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    return {"r2": r2, "rmse": float(np.sqrt(np.mean(resid**2)))}


def bootstrap_loop(
    n_boot: int, refit: Callable[[int], np.ndarray], n_params: int, desc: str, progress: bool
) -> np.ndarray:
    """Call ``refit(i)`` for every draw; a draw whose refit raises FitError becomes a NaN row."""
    out = np.full((n_boot, n_params), np.nan)
    for i in tqdm(range(n_boot), desc=desc, disable=not progress, leave=False):
        try:
            with np.errstate(all="ignore"):
                row = refit(i)
        except (FitError, FloatingPointError, np.linalg.LinAlgError):
            continue
        if np.all(np.isfinite(row)):
            out[i] = row
    return out


@dataclass(frozen=True, eq=False)
class Resampling:
    """How the CIs of a law's parameters are bootstrapped (every fit function takes one).

    ``acc_draws`` (B x points, fractions): item-bootstrap replicates of the fitted accuracies, refitted one by one;
    without them the points are resampled ``bootstrap`` times with ``seed`` (0: no CIs). ``ci``: two-sided
    percentile level; ``progress``: show a progress bar.
    """

    acc_draws: np.ndarray | None = None
    bootstrap: int = 0
    seed: int = 0
    ci: float = 0.95
    progress: bool = False

    def columns(self, idx) -> Resampling:
        """The same resampling for a subset of the points: the ``idx`` columns of ``acc_draws``."""
        return replace(self, acc_draws=None if self.acc_draws is None else np.asarray(self.acc_draws)[:, idx])


NO_RESAMPLING = Resampling()


def bootstrap_draws(
    resampling: Resampling,
    refit_draw: Callable[[int], np.ndarray],
    refit_points: Callable[[np.ndarray], np.ndarray],
    n_points: int,
    n_params: int,
    desc: str,
) -> np.ndarray | None:
    """Bootstrap parameter draws (B x ``n_params``, NaN rows for failed refits) of one law, in its units.

    With item replicates (``resampling.acc_draws``), ``refit_draw(i)`` refits replicate ``i``; otherwise
    ``resampling.bootstrap`` times ``refit_points(idx)`` refits the points ``idx`` drawn with replacement by
    ``numpy.random.default_rng(resampling.seed)``; None when neither is asked for.
    """
    r = resampling
    if r.acc_draws is not None:
        return bootstrap_loop(len(r.acc_draws), refit_draw, n_params, desc, r.progress)
    if r.bootstrap > 0:
        rng = np.random.default_rng(r.seed)
        return bootstrap_loop(
            r.bootstrap, lambda _: refit_points(rng.integers(0, n_points, n_points)), n_params, desc, r.progress
        )
    return None


def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy types/arrays to Python and non-finite floats to None (strict JSON)."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_jsonable(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def status_failed(exc: Exception, **extra) -> dict:
    """A fits.json entry for a form that could not be fitted."""
    return {**extra, "status": "failed", "reason": str(exc)}


def public(fit: dict) -> dict:
    """Drop arrays not meant for fits.json."""
    return {k: v for k, v in fit.items() if k not in ("draws", "theta")}
