"""The compute-optimal (N, D) and the allocation count the output head: ``C_pretrain = 6 (N + H(N)) D`` FLOPs.

``H`` (the head's parameters, d_model x vocabulary) comes from ``fits.json``'s ``joint_law.head_params`` and is
interpolated in log N between the study's models (:class:`rlscaling.compute.HeadParams`); without it ``H = 0`` and
the closed forms are unchanged (tests/test_allocate.py, tests/test_fit_transition.py).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
import pytest

from rlscaling.compute import HeadParams, pretrain_flops
from rlscaling.fit import allocate as al
from rlscaling.fit import compute_optimal_size, get_form
from rlscaling.fit import transition_nd as ND
from rlscaling.fit.common import FitError
from test_allocate import CEILING, RANGES  # the law and fitted ranges of the head-free allocation tests

# Qwen3-like heads: d_model x 151,936 at N = 0.44B .. 13.2B (log H is not concave in log N: kinks both ways)
QWEN_HEADS = {4.4e8: 1024 * 151_936, 1.4e9: 2048 * 151_936, 3.6e9: 2560 * 151_936, 6.95e9: 4096 * 151_936,
              1.32e10: 5120 * 151_936}  # fmt: skip
LAW_ND = {"L": 0.05, "U": 0.85, "k": 3.0, "D_mid0": 1e9, "a": 0.8, "G": 0.1, "C_half": 1e18, "N_ref": 2e9}


def _pre_loss(params, n, c_pre, heads: HeadParams):
    """Chinchilla's pre-training terms ``A/N^alpha + B/D^beta`` at ``D = C / (6 (N + H(N)))``."""
    d = c_pre / (6.0 * (n + heads.at(n)))
    return params["A"] * n ** -params["alpha"] + params["B"] * d ** -params["beta"]


def _fits(heads=None, form="size_tokens_ceiling", params=CEILING, draws=None) -> dict:
    joint = {
        "chosen": form,
        "allocation_form": form,
        "forms": {form: {"status": "ok", "param_names": list(get_form(form).param_names), **params,
                         "bootstrap_params": draws}},
        "fitted_range": RANGES,
    }  # fmt: skip
    if heads is not None:
        joint["head_params"] = [[n, h] for n, h in sorted(heads.items())]
    return {"bootstrap": {"ci": 0.95}, "joint_law": joint}


def test_a_head_proportional_to_n_is_chinchilla_at_a_smaller_budget():
    """Hand check: H = kappa N at every size (two models, same H/N) makes 6 (N + H) D = 6 (1 + kappa) N D, so the
    optimum is the head-free closed form at C / (1 + kappa), with D from the full budget."""
    kappa = 0.25
    heads = HeadParams.from_models({1e8: kappa * 1e8, 1e9: kappa * 1e9})
    c = np.logspace(17, 24, 8)
    n, d = compute_optimal_size(CEILING, c, heads)
    n_ref, _ = compute_optimal_size(CEILING, c / (1 + kappa))
    np.testing.assert_allclose(n, n_ref, rtol=1e-9)
    np.testing.assert_allclose(6 * (n + kappa * n) * d, c, rtol=1e-12)
    assert np.all(n < compute_optimal_size(CEILING, c)[0])  # the head costs FLOPs: a smaller model than 6ND gives


@pytest.mark.parametrize("pairs", [{1e8: 3e7, 1e10: 4e8}, QWEN_HEADS, {2e9: 3e8}], ids=["two", "qwen3", "one"])
def test_optimal_size_with_a_head_matches_a_brute_force_search(pairs):
    heads = HeadParams.from_models(pairs)
    c = np.logspace(16, 25, 10)  # N* from below the smallest model to far above the largest
    n, d = compute_optimal_size(CEILING, c, heads)
    np.testing.assert_allclose(6 * (n + heads.at(n)) * d, c, rtol=1e-12)  # every FLOP of C_pretrain spent
    grid = np.logspace(4, 14, 100_001)  # 2.3e-4 e-folds apart
    for ci, ni in zip(c, n):
        loss = _pre_loss(CEILING, grid, ci, heads)
        j = int(np.argmin(loss))
        assert abs(np.log(ni / grid[j])) < 3e-4, (ci, ni, grid[j])
        assert _pre_loss(CEILING, ni, ci, heads) <= loss[j] * (1 + 1e-12)  # never worse than the grid's best


def test_a_head_that_falls_steeply_with_size_is_a_clear_error():
    heads = HeadParams.from_models({1e8: 5e8, 1e9: 5e5})  # H ~ N^-3: m = N + H is not monotone
    with pytest.raises(FitError, match="output head's parameters fall too fast with N"):
        compute_optimal_size(CEILING, np.array([1e18]), heads)


@pytest.mark.parametrize("form", ["transition_nd_additive", "transition_nd_gated"])
@pytest.mark.parametrize("a", [0.8, 1.6, 0.0])
def test_transition_nd_optimum_with_a_head_matches_a_brute_force_search(form, a):
    """With a head the sigmoid's argument is no longer linear in ln N: a = 0.8 with H/N falling puts the best N inside
    the range (a corner without a head); it still does not depend on C_pretrain."""
    params, law = {**LAW_ND, "a": a}, get_form(form)
    heads = HeadParams.from_models({1e8: 1e8, 1e10: 1e9})  # H ~ N^0.5: H/N from 1 to 0.1
    bounds = (1e8, 1e10)
    c_pre, c_rl = np.logspace(18, 21, 4), np.linspace(0.0, 1e18, 4)
    n, d = law.optimal_size(params, c_pre, c_rl, bounds, heads)
    np.testing.assert_allclose(6 * (n + heads.at(n)) * d, c_pre, rtol=1e-12)
    grid = np.logspace(8, 10, 40_001)[None, :]
    acc = law.predict(params, n=grid, d=c_pre[:, None] / (6 * (grid + heads.at(grid))), c_rl=c_rl[:, None])
    best = grid[0, np.argmax(acc, axis=1)]
    np.testing.assert_allclose(n, best, rtol=3e-4)
    assert np.all(law.predict(params, n=n, d=d, c_rl=c_rl) >= acc.max(axis=1) - 1e-12)
    if a == 0.8:  # a - (N + sH)/(N + H) changes sign at H/N = 1/3: an interior optimum
        assert np.all((n > 1.01e8) & (n < 0.99e10))
        np.testing.assert_allclose(heads.at(n[0]) / n[0], 2 / 3, rtol=1e-4)
    plain = ND.compute_optimal_size_nd(form, params, c_pre, c_rl, bounds)[0]  # without a head: always a corner
    assert np.all(np.isin(plain, bounds))


def test_split_curve_and_size_curve_convert_flops_to_tokens_alike():
    """The same N and budget give the same D on the fraction curve, the size curve and in the plan."""
    law = al.JointLaw.from_fits(_fits(QWEN_HEADS))
    budget = 1e20
    split = al.split_curve(law.law, law.params, budget, n_bounds=law.fitted_range["n_params"], heads=law.heads)
    expected = split["f_pretrain"] * budget / (6 * (split["n_params"] + law.head_params_at(split["n_params"])))
    np.testing.assert_allclose(split["pretrain_tokens"], expected, rtol=1e-12)
    best = al.optimum(law.law, law.params, budget, heads=law.heads)
    size = al.size_curve(law, budget, sizes=np.array([best["n_params"]]), fractions=al.FRACTIONS)
    assert size["f_pretrain"][0] == pytest.approx(best["f_pretrain"])
    assert size["pretrain_tokens"][0] == pytest.approx(best["pretrain_tokens"], rel=1e-12)
    assert size["accuracy"][0] == pytest.approx(best["accuracy"], rel=1e-12)
    row = al.allocate(law, budget)
    assert pretrain_flops(
        row["n_params"], row["pretrain_tokens"], head_params=float(law.head_params_at(row["n_params"]))
    ) == (pytest.approx(row["c_pretrain"], rel=1e-12))
    headless = al.allocate(al.JointLaw.from_fits(_fits()), budget)
    assert row["n_params"] < headless["n_params"]  # counting the head shrinks the compute-optimal model


def test_iso_flop_size_curve_peaks_at_the_planned_size_with_a_head():
    law = al.JointLaw.from_fits(_fits(QWEN_HEADS))
    table = al.allocation_table(law, [1e18, 1e20])
    curves = al.iso_flop_curves(law, table["budget_flops"])
    for budget, n_opt in zip(table["budget_flops"], table["n_params"]):
        size = curves[(curves["budget_flops"] == budget) & (curves["curve"] == "size")]
        assert size.loc[size["accuracy"].idxmax(), "n_params"] == pytest.approx(n_opt, rel=0.1)


def test_fits_json_records_the_heads_of_the_summary_it_fitted():
    from rlscaling.fit import fit_summary
    from rlscaling.fit.common import to_jsonable

    from fit_synthetic import synthetic_study

    law = {"E": 0.05, "A": 3.0, "alpha": 0.3, "B": 30.0, "beta": 0.3, "G": 40.0, "gamma": 0.12, "C0": 1e9}
    summary, _ = synthetic_study(law, form="size_tokens_additive", n_items=400, seed=3)
    settings = {"bootstrap": 0, "forms": ["size_tokens_additive"]}
    plain = to_jsonable(fit_summary(summary, None, settings))
    assert plain["joint_law"]["head_params"] == []  # synthetic C_pretrain = 6ND: no head, H = 0 in the plan
    heads = {1e5: 3.2e4, 3e5: 6.4e4, 1e6: 9.6e4}  # d_model 64, 128, 192 x a 500-token vocabulary
    summary["c_pretrain"] = [pretrain_flops(n, d, head_params=heads[n]) for n, d in
                             zip(summary["n_params"], summary["pretrain_tokens"])]  # fmt: skip
    fits = to_jsonable(fit_summary(summary, None, settings))
    recorded = fits["joint_law"]["head_params"]
    assert [n for n, _ in recorded] == sorted(heads)
    np.testing.assert_allclose([h for _, h in recorded], [heads[n] for n in sorted(heads)], rtol=1e-9)
    again = HeadParams.from_models(dict(recorded))  # what JointLaw.from_fits builds for the plan
    np.testing.assert_allclose(again.at(sorted(heads)), [heads[n] for n in sorted(heads)], rtol=1e-9)
