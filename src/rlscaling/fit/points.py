"""``StudyPoints``: the points a joint law is fitted on, as arrays (one row of ``summary.csv`` per point).

Units: N parameters, D tokens, C_pretrain and C_rl FLOPs, accuracy a fraction in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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
