"""Every bootstrap of the project and the unbiased pass@k estimator: the one home for resampling statistics.

Accuracies are fractions in [0, 1]. Confidence intervals are percentile bootstrap intervals over items
(resampling items with replacement), the uncertainty that matters when comparing checkpoints on a fixed test set:

* :func:`bootstrap_mean_ci` / :func:`bootstrap_ratio_ci`: one condition's accuracy (or loss) and its CI
  (``summary.csv``'s ``ci_low``/``ci_high``);
* :func:`item_bootstrap_means`: the same item draws shared by many conditions (checkpoints), so differences between
  them stay paired (RL gains, ``rlscaling.analysis.gains``; the fits' item bootstrap);
* :func:`percentile_ci`: percentile interval of any array of bootstrap draws (NaN draws ignored);
* :func:`pass_at_k`: Chen et al.'s unbiased estimator for one item.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def bootstrap_mean_ci(values, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile bootstrap CI ``(mean, low, high)``; NaNs for an empty input."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1 or n_boot <= 0:
        return (mean, mean, mean)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (mean, float(lo), float(hi))


def bootstrap_ratio_ci(num, den, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``sum(num)/sum(den)`` (e.g. total NLL / total tokens) with a bootstrap CI over the paired items."""
    a, b = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if a.size == 0 or b.sum() <= 0:
        return (math.nan, math.nan, math.nan)
    est = float(a.sum() / b.sum())
    if a.size == 1 or n_boot <= 0:
        return (est, est, est)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    ratios = a[idx].sum(axis=1) / np.maximum(b[idx].sum(axis=1), 1e-12)
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(ratios, [alpha, 1.0 - alpha])
    return (est, float(lo), float(hi))


def bootstrap_seed_item_ci(
    num, den=None, n_boot: int = 1000, ci: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean over replicate seeds of a per-seed ratio, with a two-level (seeds, then items) percentile bootstrap CI.

    ``num`` (and ``den``, default all ones: a plain mean of item scores) are ``seeds x items`` arrays whose columns
    are the same items under every seed (the same test questions, the same validation documents). Each replicate
    draws seeds with replacement and, once, items with replacement (shared by the drawn seeds: the item effect is
    paired), and averages ``sum(num)/sum(den)`` over the drawn seeds. With one seed it is the item bootstrap; the
    CI then says nothing about seed-to-seed variation. Returns ``(estimate, low, high)`` in the units of num/den.
    """
    a = np.atleast_2d(np.asarray(num, dtype=float))
    b = np.ones_like(a) if den is None else np.atleast_2d(np.asarray(den, dtype=float))
    if a.size == 0 or a.shape != b.shape:
        raise ValueError(f"num {a.shape} and den {b.shape} must be equal, non-empty seeds x items arrays")
    est = float(np.mean(a.sum(axis=1) / b.sum(axis=1)))
    n_seeds, n_items = a.shape
    if n_boot <= 0 or (n_seeds == 1 and n_items == 1):
        return (est, est, est)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(float)
    per_seed = (counts @ a.T) / np.maximum(counts @ b.T, 1e-12)  # n_boot x seeds
    drawn = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    reps = np.take_along_axis(per_seed, drawn, axis=1).mean(axis=1)
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return (est, float(lo), float(hi))


def percentile_ci(draws, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval ``(low, high)`` over the first axis of ``draws``, ignoring failed (NaN) draws.

    Same units as ``draws``; a column with no finite draw gives NaN bounds."""
    draws = np.asarray(draws, dtype=float)
    tail = 100 * (1 - ci) / 2
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column gives NaN bounds, on purpose
        return np.nanpercentile(draws, tail, axis=0), np.nanpercentile(draws, 100 - tail, axis=0)


def item_bootstrap_means(scores, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot x conditions)`` mean scores from resampling the *items* (rows of ``scores``) with replacement.

    ``scores`` is ``items x conditions`` (NaN: the item was not scored in that condition, left out of its mean).
    One multinomial draw of item counts per replicate is shared by every condition, so the difference of two
    columns is a paired bootstrap replicate (an RL gain keeps the strong per-item correlation). The draws depend
    only on the number of items, ``n_boot`` and ``seed``: any subset of conditions gets the same replicates.
    """
    S = np.asarray(scores, dtype=float)
    mask = np.isfinite(S)
    S = np.where(mask, S, 0.0)
    n_items = S.shape[0]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ S) / (counts @ mask)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one item with ``c`` correct of ``n`` samples (Chen et al. 2021): 1 - C(n-c,k)/C(n,k)."""
    if not (0 <= c <= n) or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    # product form avoids huge binomials
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))
