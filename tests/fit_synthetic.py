"""Synthetic studies drawn from a known joint law, for the fit tests and benchmarks (not shipped in the package).

``C_pretrain = 6 N D`` and ``C_rl = 6 N x rl_tokens_per_step x step`` FLOPs; each evaluation item is scored 0/1
independently with the law's accuracy, so summary accuracies carry binomial noise for ``n_items`` items.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rlscaling.fit import SUMMARY_COLUMNS, get_form


def synthetic_study(
    law: Mapping[str, float],
    *,
    form: str = "additive",
    n_params=(1e5, 3e5, 1e6),
    pretrain_tokens=(2e5, 6e5),
    rl_steps=(0, 10, 20, 40),
    rl_tokens_per_step: float = 2e4,
    n_items: int = 200,
    seed: int = 0,
    benchmark: str = "gsm8k",
    scorer: str = "custom_flexible",
    shots: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A (summary, records) pair from joint-law form ``form`` with parameters ``law`` (original units)."""
    rng = np.random.default_rng(seed)
    law_form = get_form(form)
    rows, recs = [], []
    for n in n_params:
        model = f"m{n:.0e}".replace("+", "")
        for d in pretrain_tokens:
            for step in rl_steps:
                c_pre, c_rl = 6.0 * n * d, 6.0 * n * rl_tokens_per_step * step
                p = float(np.clip(law_form.predict(law, n=n, d=d, c_pre=c_pre, c_rl=c_rl), 0.0, 1.0))
                scores = (rng.random(n_items) < p).astype(float)
                acc = float(scores.mean())
                half = 1.96 * np.sqrt(max(acc * (1 - acc), 1e-12) / n_items)
                rows.append(
                    {
                        "study": "synthetic",
                        "model": model,
                        "n_params": float(n),
                        "pretrain_tokens": float(d),
                        "c_pretrain": c_pre,
                        "rl_step": int(step),
                        "c_rl": c_rl,
                        "benchmark": benchmark,
                        "subset": "all",
                        "shots": shots,
                        "scorer": scorer,
                        "n_items": n_items,
                        "accuracy": acc,
                        "ci_low": max(0.0, acc - half),
                        "ci_high": min(1.0, acc + half),
                    }
                )
                recs.append(
                    pd.DataFrame(
                        {
                            "model": model,
                            "pretrain_tokens": float(d),
                            "rl_step": int(step),
                            "benchmark": benchmark,
                            "subset": "all",
                            "shots": shots,
                            "scorer": scorer,
                            "item_id": [f"q{i}" for i in range(n_items)],
                            "score": scores,
                        }
                    )
                )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)), pd.concat(recs, ignore_index=True)


def geometric_mean(values) -> float:
    return float(np.exp(np.mean(np.log(np.asarray(values, dtype=float)))))


def inside_interval(entry: Mapping, truth: float) -> bool:
    """Whether ``truth`` lies in a parameter's reported interval; a None limit is open (a one-sided or unbounded
    interval: rlscaling.fit.identify.interval)."""
    lo, hi = entry["ci_low"], entry["ci_high"]
    return (lo is None or lo <= truth) and (hi is None or truth <= hi)
