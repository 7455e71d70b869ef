"""The joint-law forms competing for ``fits.json``, behind one interface (fit / predict on study points).

Two kinds of variables: compute-only laws of (C_pretrain, C_rl) -- the power laws ``err = f(C_pretrain, C_rl)``
(:mod:`.joint`) and the transition laws, sigmoid in log C_pretrain (:mod:`.transition`) -- and laws that separate
model size from tokens, of (N, D, C_rl) -- Chinchilla-style ``err = f(N, D, C_rl)`` (:mod:`.size_tokens`) and the
transition laws sigmoid in log D with a size-dependent midpoint (:mod:`.transition_nd`). ``JointForm.family`` names
the module that fits a form. Units: N parameters, D tokens, C FLOPs, accuracy fraction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..compute import HeadParams
from .common import NO_RESAMPLING, FitError, Resampling
from .joint import JOINT_FORMULAS, fit_joint_law, joint_param_names, predict_joint
from .size_tokens import FORMULAS as SIZE_TOKENS_FORMULAS
from .size_tokens import PARAM_NAMES as SIZE_TOKENS_PARAMS
from .size_tokens import compute_optimal_size, fit_size_tokens_law, size_tokens_error
from .transition import (
    FIXED_PARAMS,
    TRANSITION_FORMULAS,
    TRANSITION_PARAMS,
    fit_transition_law,
    predict_transition,
)
from .transition_nd import (
    TRANSITION_ND_FORMULAS,
    TRANSITION_ND_PARAMS,
    compute_optimal_size_nd,
    fit_transition_nd_law,
    predict_transition_nd,
)


@dataclass(frozen=True)
class StudyPoints:
    """The fitted points as arrays: model name, N (parameters), D (tokens), C_pretrain, C_rl (FLOPs), accuracy and,
    when known, the RL step (what the no-law baseline of :mod:`.crossval` matches on)."""

    model: np.ndarray
    n: np.ndarray
    d: np.ndarray
    c_pre: np.ndarray
    c_rl: np.ndarray
    y: np.ndarray
    step: np.ndarray | None = None

    @classmethod
    def from_rows(cls, rows: pd.DataFrame) -> StudyPoints:
        col = lambda k: rows[k].to_numpy(dtype=float)
        return cls(
            rows["model"].astype(str).to_numpy(),
            col("n_params"),
            col("pretrain_tokens"),
            col("c_pretrain"),
            col("c_rl"),
            col("accuracy"),
            col("rl_step"),
        )

    def subset(self, mask: np.ndarray) -> StudyPoints:
        cols = (self.model, self.n, self.d, self.c_pre, self.c_rl, self.y, self.step)
        return StudyPoints(*(None if v is None else v[mask] for v in cols))

    def fitted_range(self) -> dict[str, list[float]]:
        """[min, max] of every input over the points (N parameters, D tokens, C FLOPs)."""
        total = self.c_pre + self.c_rl
        return {
            k: [float(v.min()), float(v.max())]
            for k, v in (
                ("n_params", self.n),
                ("pretrain_tokens", self.d),
                ("c_pretrain", self.c_pre),
                ("c_rl", self.c_rl),
                ("c_total", total),
            )
        }


@dataclass(frozen=True)
class JointForm:
    """One competing form: ``variables`` is ``"compute"`` (C_pretrain, C_rl) or ``"size_tokens"`` (N, D, C_rl);
    ``family`` is the module that fits it: ``"joint"``, ``"transition"`` (compute), ``"size_tokens"``,
    ``"transition_nd"`` (N, D)."""

    name: str
    variables: str
    formula: str
    param_names: tuple[str, ...]
    family: str

    @property
    def separates_size(self) -> bool:
        return self.variables == "size_tokens"

    @property
    def n_fitted(self) -> int:
        """Number of fitted parameters (a stored reference scale such as ``N_ref`` is not fitted)."""
        return len([p for p in self.param_names if p not in FIXED_PARAMS])

    @property
    def is_transition(self) -> bool:
        """Base accuracy saturates: a sigmoid in log C_pretrain, or in log D with a size-dependent midpoint."""
        return self.family in ("transition", "transition_nd")

    def fit(
        self, pts: StudyPoints, *, delta: float, error_floor: float, resampling: Resampling = NO_RESAMPLING
    ) -> dict:
        """Fit on ``pts``; a dict with parameters (original units), ``params`` table, r2/rmse and ``draws``."""
        kw = {"delta": delta, "error_floor": error_floor, "resampling": resampling}
        if self.family == "transition_nd":
            return fit_transition_nd_law(pts.n, pts.d, pts.c_rl, pts.y, self.name, **kw)
        if self.family == "size_tokens":
            return fit_size_tokens_law(pts.n, pts.d, pts.c_rl, pts.y, self.name, **kw).as_dict()
        fit = fit_transition_law if self.family == "transition" else fit_joint_law
        out = fit(pts.c_pre, pts.c_rl, pts.y, self.name, **kw)
        return {**out, "variables": ["c_pretrain", "c_rl"]}

    def predict(self, params: Mapping[str, float], *, n=None, d=None, c_pre=None, c_rl) -> np.ndarray:
        """Accuracy (fraction, unclipped); size/tokens forms need ``n`` and ``d``, compute forms ``c_pre``."""
        if self.separates_size:
            if n is None or d is None:
                raise FitError(f"{self.name}: predicting needs N and D")
            if self.family == "transition_nd":
                return predict_transition_nd(self.name, params, n, d, c_rl)
            return 1.0 - size_tokens_error(self.name, params, n, d, c_rl)
        if c_pre is None:
            raise FitError(f"{self.name}: predicting needs C_pretrain")
        if self.family == "transition":
            return predict_transition(self.name, params, c_pre, c_rl)
        return predict_joint(params, c_pre, c_rl)

    def optimal_size(
        self,
        params: Mapping[str, float],
        c_pre,
        c_rl=0.0,
        n_bounds: tuple[float, float] | None = None,
        heads: HeadParams | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(N*, D*) (parameters, tokens) with ``6 (N + H(N)) D = c_pre`` FLOPs that maximise the predicted accuracy
        at ``c_rl`` FLOPs; ``heads``: the output head's parameters ``H`` at any N (None: ``H = 0``).
        ``size_tokens`` forms: Chinchilla's optimum (independent of C_rl and of ``n_bounds``,
        :func:`.size_tokens.compute_optimal_size`); ``transition_nd`` forms: the best N in ``n_bounds``
        (:func:`.transition_nd.compute_optimal_size_nd`)."""
        if self.family == "transition_nd":
            return compute_optimal_size_nd(self.name, params, c_pre, c_rl, n_bounds, heads)
        if self.family == "size_tokens":
            return compute_optimal_size(params, c_pre, heads)
        raise FitError(f"{self.name}: a compute-only law sees only C_pretrain, not N and D")

    def predict_points(self, params: Mapping[str, float], pts: StudyPoints) -> np.ndarray:
        return self.predict(params, n=pts.n, d=pts.d, c_pre=pts.c_pre, c_rl=pts.c_rl)


def _forms(variables: str, family: str, formulas: Mapping[str, str], names) -> dict[str, JointForm]:
    """``JointForm`` per name of ``formulas``; ``names(form)`` gives its parameter names."""
    return {f: JointForm(f, variables, formulas[f], tuple(names(f)), family) for f in formulas}


FORMS: dict[str, JointForm] = {
    **_forms("compute", "joint", JOINT_FORMULAS, joint_param_names),
    **_forms("compute", "transition", TRANSITION_FORMULAS, lambda _: TRANSITION_PARAMS),
    **_forms("size_tokens", "size_tokens", SIZE_TOKENS_FORMULAS, SIZE_TOKENS_PARAMS.__getitem__),
    **_forms("size_tokens", "transition_nd", TRANSITION_ND_FORMULAS, lambda _: TRANSITION_ND_PARAMS),
}


def get_form(name: str) -> JointForm:
    """The registered form ``name``; FitError listing the known ones otherwise."""
    if name not in FORMS:
        raise FitError(f"unknown joint-law form {name!r}; known: {sorted(FORMS)}")
    return FORMS[name]
