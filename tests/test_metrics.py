"""Bootstrap CIs and the unbiased pass@k estimator."""

import math
from itertools import combinations

import numpy as np
import pytest

from rlscaling.metrics import bootstrap_mean_ci, bootstrap_ratio_ci, pass_at_k


@pytest.mark.parametrize("n,c,k", [(5, 0, 1), (5, 1, 1), (5, 2, 3), (6, 3, 2), (4, 4, 4), (8, 1, 8)])
def test_pass_at_k_matches_enumeration(n, c, k):
    # exact: probability that a uniformly drawn k-subset of n samples holds >= 1 correct one
    samples = [1] * c + [0] * (n - c)
    subsets = list(combinations(range(n), k))
    expected = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_rejects_bad_counts():
    with pytest.raises(ValueError):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_bootstrap_ci_contains_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = rng.binomial(1, 0.4, size=50)
    large = rng.binomial(1, 0.4, size=5000)
    m, lo, hi = bootstrap_mean_ci(small, seed=1)
    assert lo <= m <= hi and m == small.mean()
    M, LO, HI = bootstrap_mean_ci(large, seed=1)
    assert (HI - LO) < (hi - lo)
    # the normal-approximation width is a sanity check for the percentile interval
    assert (HI - LO) == pytest.approx(2 * 1.96 * math.sqrt(0.4 * 0.6 / 5000), rel=0.15)


def test_bootstrap_edge_cases():
    assert all(math.isnan(x) for x in bootstrap_mean_ci([]))
    assert bootstrap_mean_ci([1.0]) == (1.0, 1.0, 1.0)
    assert bootstrap_mean_ci([1, 1, 1, 1]) == (1.0, 1.0, 1.0)


def test_ratio_ci_is_token_weighted():
    est, lo, hi = bootstrap_ratio_ci([10.0, 30.0], [10, 10], seed=0)
    assert est == 2.0 and lo <= est <= hi


def _sample(item, answer, score):
    return {"id": item, "extracted": {"custom_flexible": answer}, "score": {"custom_flexible": score}}


def test_majority_vote_per_item():
    from rlscaling.evaluation.run import majority_item_scores

    records = [
        _sample("a", "3", 1.0),
        _sample("a", "4", 0.0),
        _sample("a", "3", 1.0),  # majority right
        _sample("b", "3", 1.0),
        _sample("b", "4", 0.0),
        _sample("b", "4", 0.0),  # majority wrong, pass@3 = 1
        _sample("c", "5", 0.0),
        _sample("c", "7", 1.0),  # tie: first sampled wins
        _sample("d", "7", 1.0),
        _sample("d", "5", 0.0),  # tie the other way
        _sample("e", None, 0.0),
        _sample("e", None, 0.0),
        _sample("e", "9", 1.0),  # "no answer" can win
    ]
    assert majority_item_scores(records, "custom_flexible") == {"a": 1.0, "b": 0.0, "c": 0.0, "d": 1.0, "e": 0.0}


def test_seed_item_bootstrap_means_seeds_and_widens_with_seed_variation():
    from rlscaling.metrics import bootstrap_mean_ci, bootstrap_seed_item_ci

    rng = np.random.default_rng(0)
    a = (rng.random(1000) < 0.3).astype(float)
    # one seed: exactly the item bootstrap's estimate; two identical seeds: the same interval as one
    one = bootstrap_seed_item_ci([a], n_boot=500, seed=3)
    assert one[0] == pytest.approx(a.mean())
    assert bootstrap_seed_item_ci([a, a], n_boot=500, seed=3) == pytest.approx(one)
    item_only = bootstrap_mean_ci(a, 500, 0.95, 3)
    assert one[2] - one[1] == pytest.approx(item_only[2] - item_only[1], rel=0.25)
    # seeds that disagree (30% vs 70%): the mean is 50% and the interval spans the seed-to-seed spread
    b = (rng.random(1000) < 0.7).astype(float)
    est, lo, hi = bootstrap_seed_item_ci([a, b], n_boot=2000, seed=3)
    assert est == pytest.approx((a.mean() + b.mean()) / 2)
    assert lo < a.mean() + 0.03 and hi > b.mean() - 0.03
    assert hi - lo > 5 * (one[2] - one[1])


def test_seed_item_bootstrap_of_a_ratio_averages_per_seed_ratios():
    from rlscaling.metrics import bootstrap_seed_item_ci

    num = np.array([[2.0, 4.0], [6.0, 6.0]])
    den = np.array([[1.0, 1.0], [2.0, 2.0]])
    est, lo, hi = bootstrap_seed_item_ci(num, den, n_boot=200, seed=0)
    assert est == pytest.approx((6 / 2 + 12 / 4) / 2)
    assert lo <= est <= hi
    with pytest.raises(ValueError, match="must be equal"):
        bootstrap_seed_item_ci(num, den[:, :1])
