"""``JointForm``: what one joint scaling-law form declares, and the one interface the fit, cross-validation and
allocation call it through.

A family module (:mod:`.joint`, :mod:`.size_tokens`, :mod:`.transition`, :mod:`.transition_nd`) declares each of its
forms once, as a ``JointForm`` in its ``LAWS`` tuple: the name, the variables, the formula (what ``fits.json``, the
report and the allocation figure show), the parameter names in fit order, and the family's functions that fit,
predict and (for laws that separate size from tokens) place the compute-optimal (N, D). :mod:`.laws` registers the
families' ``LAWS`` in one place.

Two kinds of variables: ``"compute"`` laws of (C_pretrain, C_rl) and ``"size_tokens"`` laws of (N, D, C_rl).
Units: N parameters, D tokens, C FLOPs, accuracy a fraction in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from rlscaling.compute import HeadParams

from .common import NO_RESAMPLING, FitError, Resampling
from .points import StudyPoints

VARIABLES = {"compute": ("c_pretrain", "c_rl"), "size_tokens": ("n_params", "pretrain_tokens", "c_rl")}

FitFn = Callable[..., dict]
"""``fit(form, pts, *, delta, error_floor, resampling)``: the ``fits.json`` entry of ``form`` fitted on ``pts``."""
PredictFn = Callable[..., np.ndarray]
"""``predict(form, params, *, n, d, c_pre, c_rl)``: accuracy (fraction, unclipped) at N, D, C_pretrain, C_rl."""
OptimalSizeFn = Callable[..., tuple[np.ndarray, np.ndarray]]
"""``optimal_size(form, params, c_pre, c_rl, n_bounds, heads)``: (N*, D*) (parameters, tokens) at C_pretrain FLOPs."""


@dataclass(frozen=True)
class JointForm:
    """One competing form, declared by its family module and registered in :mod:`.laws`.

    ``variables``: ``"compute"`` (C_pretrain, C_rl) or ``"size_tokens"`` (N, D, C_rl); ``family``: the module that
    fits it; ``fixed_params``: parameters stored with the fit but not fitted (a reference scale such as ``N_ref``);
    ``is_transition``: base accuracy saturates (a sigmoid in log C_pretrain, or in log D with a size-dependent
    midpoint). ``fit_fn``, ``predict_fn``, ``optimal_size_fn``: see :data:`FitFn`, :data:`PredictFn`,
    :data:`OptimalSizeFn`; a compute law has no ``optimal_size_fn`` (it sees only C_pretrain, not N and D).
    """

    name: str
    variables: str
    formula: str
    param_names: tuple[str, ...]
    family: str
    fit_fn: FitFn = field(repr=False, compare=False)
    predict_fn: PredictFn = field(repr=False, compare=False)
    optimal_size_fn: OptimalSizeFn | None = field(default=None, repr=False, compare=False)
    fixed_params: tuple[str, ...] = ()
    is_transition: bool = False

    def __post_init__(self) -> None:
        where = f"joint-law form {self.name!r} ({self.family})"
        if self.variables not in VARIABLES:
            raise FitError(f"{where}: variables must be one of {sorted(VARIABLES)}, got {self.variables!r}")
        if len(set(self.param_names)) != len(self.param_names):
            raise FitError(f"{where}: repeated parameter names {list(self.param_names)}")
        if not set(self.fixed_params) <= set(self.param_names):
            raise FitError(f"{where}: fixed parameters {list(self.fixed_params)} not among {list(self.param_names)}")
        if (self.optimal_size_fn is not None) != self.separates_size:
            raise FitError(f"{where}: a compute-optimal (N, D) function belongs to exactly the size/tokens laws")

    @property
    def separates_size(self) -> bool:
        return self.variables == "size_tokens"

    @property
    def n_fitted(self) -> int:
        """Number of fitted parameters (a stored reference scale such as ``N_ref`` is not fitted)."""
        return len([p for p in self.param_names if p not in self.fixed_params])

    def fit(
        self, pts: StudyPoints, *, delta: float, error_floor: float, resampling: Resampling = NO_RESAMPLING
    ) -> dict:
        """Fit on ``pts``; a dict with parameters (original units), ``params`` table, r2/rmse and ``draws``."""
        return self.fit_fn(self.name, pts, delta=delta, error_floor=error_floor, resampling=resampling)

    def predict(self, params: Mapping[str, float], *, n=None, d=None, c_pre=None, c_rl) -> np.ndarray:
        """Accuracy (fraction, unclipped); size/tokens forms need ``n`` and ``d``, compute forms ``c_pre``."""
        if self.separates_size:
            if n is None or d is None:
                raise FitError(f"{self.name}: predicting needs N and D")
        elif c_pre is None:
            raise FitError(f"{self.name}: predicting needs C_pretrain")
        return self.predict_fn(self.name, params, n=n, d=d, c_pre=c_pre, c_rl=c_rl)

    def optimal_size(
        self,
        params: Mapping[str, float],
        c_pre,
        c_rl=0.0,
        n_bounds: tuple[float, float] | None = None,
        heads: HeadParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N*, D*) (parameters, tokens) with ``6 (N + H(N)) D = c_pre`` FLOPs that maximise the predicted accuracy
        at ``c_rl`` FLOPs; ``heads``: the output head's parameters ``H`` at any N (None: ``H = 0``); ``n_bounds``:
        the N range (parameters) a family that needs one searches (see its ``optimal_size_fn``)."""
        if self.optimal_size_fn is None:
            raise FitError(f"{self.name}: a compute-only law sees only C_pretrain, not N and D")
        return self.optimal_size_fn(self.name, params, c_pre, c_rl, n_bounds, heads)

    def predict_points(self, params: Mapping[str, float], pts: StudyPoints) -> np.ndarray:
        return self.predict(params, n=pts.n, d=pts.d, c_pre=pts.c_pre, c_rl=pts.c_rl)
