"""What the data can identify of a fitted law: parameters at a bound, honest intervals, perturbed bootstrap starts.

Every joint-law engine works on a box-bounded parameter vector ``theta`` (engine units: logs of coefficients,
exponents, fractions). A parameter whose engine coordinate ends within ``BOUND_TOL`` of a box edge is *at its bound*:
the data pushed it there, so its point estimate is a limit of the box, not a measurement. Its interval is then
reported one-sided: the data bound it on the side away from the box edge only. A two-sided interval that runs into
the box is one-sided (or unbounded when it runs into both edges), and one of zero width (every refit equal: a fixed or
degenerate parameter) is never reported as such.

Bootstrap refits start from the point estimate and, when any of its coordinates sits at a bound, also from a perturbed
point (those coordinates moved ``INSET`` to ``PERTURB`` of their box width inside it), and keep the better fit, so a
refit is not held at a bound only because its warm start sat there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

BOUND_TOL = 1e-3  # at a bound: within this fraction of the box width (of max(1, |bound|) for a half-open box)
PERTURB = 0.1  # perturbed start: a coordinate at a bound moved inside by up to this fraction of its box width ...
INSET = 0.02  # ... and at least this fraction
HALF_OPEN_STEP = 1.0  # a coordinate at the edge of a half-open box (a log-coefficient): 0.5 to 1.5 of this, e-folds

Bounds = Sequence[tuple[float | None, float | None]]


def _edges(bounds: Bounds) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds], dtype=float)
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds], dtype=float)
    return lo, hi


def _tolerance(lo: float, hi: float, edge: float) -> float:
    width = hi - lo
    return BOUND_TOL * (width if np.isfinite(width) else max(1.0, abs(edge)))


def bound_flags(
    theta: np.ndarray,
    bounds: Bounds,
    coords: Sequence[str | None],
    names: Sequence[str],
    to_params: Callable[[np.ndarray], np.ndarray],
) -> dict[str, dict]:
    """``{name: {"lower": value, "upper": value, "at": "lower"|"upper"|None}}``: each parameter's box in original units
    (None: open on that side) and whether its engine coordinate is at a bound.

    ``coords[i]`` names the parameter engine coordinate ``i`` controls (None: none); ``to_params`` maps engine theta
    to the parameters in ``names`` order (original units). An edge's value is the parameter with its coordinate at the
    box edge and every other coordinate at ``theta`` (exact where a parameter depends on its coordinate alone, e.g.
    exponents, fractions, ``E``; at the point estimate's other parameters for a coefficient such as ``A``)."""
    lo, hi = _edges(bounds)
    theta = np.asarray(theta, dtype=float)
    out: dict[str, dict] = {}
    for i, name in enumerate(coords):
        if name is None:
            continue
        entry: dict = {"lower": None, "upper": None, "at": None}
        for side, edge in (("lower", lo[i]), ("upper", hi[i])):
            if not np.isfinite(edge):
                continue
            at = theta.copy()
            at[i] = edge
            with np.errstate(all="ignore"):
                value = float(np.asarray(to_params(at), dtype=float)[list(names).index(name)])
            entry[side] = value if np.isfinite(value) else None
            if abs(theta[i] - edge) <= _tolerance(lo[i], hi[i], edge):
                entry["at"] = side
        out[name] = entry
    return out


def at_bound(box: Mapping[str, Mapping] | None) -> dict[str, str]:
    """``{name: "lower"|"upper"}`` for the parameters of :func:`bound_flags` at a bound."""
    return {k: v["at"] for k, v in sorted((box or {}).items()) if v.get("at")}


def _at_edges(theta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the coordinates within ``BOUND_TOL`` of their lower / upper box edge."""
    at_lo = np.array([np.isfinite(a) and abs(t - a) <= _tolerance(a, b, a) for t, a, b in zip(theta, lo, hi)])
    at_hi = np.array([np.isfinite(b) and abs(t - b) <= _tolerance(a, b, b) for t, a, b in zip(theta, lo, hi)])
    return at_lo.astype(bool), at_hi.astype(bool)


def perturbed_start(theta: np.ndarray, bounds: Bounds, rng: np.random.Generator) -> np.ndarray:
    """``theta`` with every coordinate at a bound moved inside its box: by ``INSET`` to ``PERTURB`` of the box width,
    or 0.5 to 1.5 ``HALF_OPEN_STEP`` for a half-open box (one draw of ``rng``); the other coordinates unchanged."""
    lo, hi = _edges(bounds)
    theta = np.asarray(theta, dtype=float)
    at_lo, at_hi = _at_edges(theta, lo, hi)
    width = hi - lo
    step = np.where(
        np.isfinite(width),
        rng.uniform(INSET, PERTURB, theta.size) * np.where(np.isfinite(width), width, 0.0),
        rng.uniform(0.5, 1.5, theta.size) * HALF_OPEN_STEP,
    )
    return theta + np.where(at_lo, step, 0.0) - np.where(at_hi, step, 0.0)


def refit_starts(theta: np.ndarray, bounds: Bounds, rng: np.random.Generator) -> np.ndarray:
    """The starts of one bootstrap refit (rows): the point estimate, and when any of its coordinates sits at a bound
    also :func:`perturbed_start` (the better fit is kept), so a refit is not held at the bound by its start."""
    theta = np.asarray(theta, dtype=float)
    lo, hi = _edges(bounds)
    if not np.any(np.concatenate(_at_edges(theta, lo, hi))):
        return theta[None]
    return np.stack([theta, perturbed_start(theta, bounds, rng)])


def start_rng(seed: int) -> np.random.Generator:
    """The generator of the perturbed starts of one law's bootstrap (its own stream, apart from the resampling's)."""
    return np.random.default_rng([int(seed), 23])


def _near(value: float, edge: float | None, box: Mapping) -> bool:
    """Whether ``value`` lies within ``BOUND_TOL`` of the box edge ``edge``, measured as the engine measures it: on a
    log scale for a parameter whose box edges are positive (a log coordinate), else linearly; relative to the box
    width, or to ``max(1, |edge|)`` for a half-open box."""
    if edge is None or not np.isfinite(value):
        return False
    ends = [e for e in (box.get("lower"), box.get("upper")) if e is not None]
    logs = value > 0 and all(e > 0 for e in ends)
    f = np.log if logs else float
    width = abs(f(ends[1]) - f(ends[0])) if len(ends) == 2 else None
    return abs(f(value) - f(edge)) <= BOUND_TOL * (width if width else max(1.0, abs(f(edge))))


def interval(
    estimate: float, draws: np.ndarray | None, ci: float, box: Mapping | None = None, fixed: bool = False
) -> dict:
    """One parameter's entry: ``estimate``, ``ci_low``, ``ci_high`` and ``interval``, one of

    * ``two-sided``: percentile CI at level ``ci`` of the finite ``draws``;
    * ``one-sided``: the data bound the parameter on one side only, the other limit is None: the estimate is at a
      bound of its box (``box``: :func:`bound_flags`' entry; ``at_bound`` and ``bound`` recorded) and the limit away
      from it is the one-sided ``ci`` percentile of the draws (the bound itself when every refit stays there: e.g.
      ``k >= 100`` at the upper bound 100), or a two-sided limit reached the box edge;
    * ``unbounded``: both limits of a two-sided CI at the box edges, or a zero-width CI: both None;
    * ``fixed``: not fitted (e.g. a reference scale), no CI;
    * ``none``: no bootstrap draws.
    """
    entry = {"estimate": float(estimate), "ci_low": None, "ci_high": None}
    box = box or {}
    side = box.get("at")
    if side:
        entry.update(at_bound=side, bound=box[side])
    d = None if draws is None else np.asarray(draws, dtype=float)
    d = None if d is None else d[np.isfinite(d)]
    if fixed:
        return {**entry, "interval": "fixed"}
    if d is None or d.size == 0:
        return {**entry, "interval": "none"}
    if side:  # the limit away from the bound; it is the bound itself when every refit stays there
        limit = float(np.quantile(d, ci if side == "lower" else 1 - ci))
        return {**entry, "ci_high" if side == "lower" else "ci_low": limit, "interval": "one-sided"}
    low, high = (float(v) for v in np.quantile(d, [(1 - ci) / 2, (1 + ci) / 2]))
    if high - low <= BOUND_TOL * max(abs(float(estimate)), 1e-300):
        return {**entry, "interval": "unbounded"}
    low_open, high_open = _near(low, box.get("lower"), box), _near(high, box.get("upper"), box)
    kind = "unbounded" if low_open and high_open else "one-sided" if low_open or high_open else "two-sided"
    return {
        **entry,
        "ci_low": None if low_open else low,
        "ci_high": None if high_open else high,
        "interval": kind,
    }


def identifiability(entry: Mapping, form, n_points: int, ident: Mapping | None) -> dict:
    """The ``identifiability`` record of one joint form in ``fits.json``: points vs fitted parameters; per
    cross-validation scheme whether it ran, on how many held-out groups of how many, and how the form's held-out RMSE
    compares with the no-law baseline's (:func:`.choose.versus_baseline`); the parameters at a bound; whether the form
    is identified and, if not, why (the fit's own reason when it could not be fitted, e.g. too few points)."""
    out: dict = {
        "n_points": int(n_points),
        "n_params": form.n_fitted,
        "points_per_param": n_points / form.n_fitted,
        "at_bound": at_bound(entry.get("bounds")),
    }
    cv = entry.get("cv") or {}
    schemes = {}
    for scheme, result in cv.items():
        row = {"status": result["status"]}
        if result["status"] == "ok":
            row.update(n_groups=result["n_groups"], held_out=result["held_out"], skipped=sorted(result["skipped"]))
        else:
            row["reason"] = result["reason"]
        versus = (ident or {}).get("schemes", {}).get(scheme)
        if versus:
            row["versus_baseline"] = {k: v for k, v in versus.items() if k != "held_out"}
        schemes[scheme] = row
    out["cv"] = schemes
    if entry.get("status") != "ok":
        return {**out, "identified": False, "reason": entry.get("reason")}
    if ident is None:
        return {**out, "identified": False, "reason": "no cross-validation scheme could run"}
    return {**out, "identified": bool(ident["identified"]), "reason": ident["reason"]}
