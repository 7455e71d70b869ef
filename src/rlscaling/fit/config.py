"""``FitConfig``: what to fit and how (the workflow config's ``fit`` section)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .common import FitError, Resampling
from .laws import DEFAULT_FORMS, FORMS


@dataclass(frozen=True)
class FitConfig:
    """What to fit and how. ``from_mapping`` accepts the workflow config (its ``fit`` section).

    ``budgets`` are total compute budgets in FLOPs for ``allocation.csv`` (empty: derived from the data);
    ``forms`` are the joint-law forms competing in the leave-one-size/budget-out choice.
    """

    benchmark: str = "gsm8k"
    scorer: str = "custom_flexible"
    shots: int = 0
    subset: str = "all"
    bootstrap: int = 1000
    ci: float = 0.95
    seed: int = 0
    huber_delta: float = 1e-2  # joint law, on log error: ~1% relative error, below binomial noise
    error_floor: float = 1e-3  # error rates are clipped below at this fraction before taking logs
    budgets: tuple[float, ...] = ()  # allocation budgets in FLOPs; empty = derived from the data
    forms: tuple[str, ...] = DEFAULT_FORMS
    progress: bool = False
    variant: str = "reference"  # the GRPO sweep variant fitted (summary.csv's variant column; base rows always)

    def resampling(self, acc_draws: np.ndarray | None = None) -> Resampling:
        """This config's bootstrap (replicates, seed, CI level, progress) over the item replicates ``acc_draws``."""
        return Resampling(acc_draws, self.bootstrap, self.seed, self.ci, self.progress)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> FitConfig:
        """Build from a dict: either the ``fit`` section itself or a whole config holding one."""
        if not config:
            return cls()
        section = dict(config.get("fit", config))
        if "seed" not in section and "seed" in config:
            section["seed"] = config["seed"]
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise FitError(f"config fit: unknown key(s) {unknown}; known: {sorted(known)}")
        if "budgets" in section:
            section["budgets"] = tuple(float(b) for b in section["budgets"])
        if "forms" in section:
            section["forms"] = tuple(str(f) for f in section["forms"])
        cfg = cls(**section)
        cfg.check()
        return cfg

    def check(self) -> None:
        """FitError naming the first invalid key."""
        if not 0 < self.ci < 1:
            raise FitError(f"config fit.ci must lie in (0, 1), got {self.ci}")
        if self.bootstrap < 0:
            raise FitError(f"config fit.bootstrap must be >= 0, got {self.bootstrap}")
        if any(not b > 0 for b in self.budgets):
            raise FitError(f"config fit.budgets must be positive FLOPs, got {list(self.budgets)}")
        bad = [f for f in self.forms if f not in FORMS]
        if bad or not self.forms:
            raise FitError(f"config fit.forms: unknown or empty {bad or []}; known: {list(FORMS)}")
