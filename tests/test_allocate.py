"""Tests of rlscaling.fit.allocate (compute-optimal N, D, C_rl split of a FLOPs budget) and its iso-FLOP figure."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # tiny L-BFGS problems: threaded BLAS only slows
    os.environ.setdefault(_var, "1")

import numpy as np
import pytest

from rlscaling.fit import FitError, NoLawError, compute_optimal_size, get_form
from rlscaling.fit import allocate as al

SYMMETRIC = {"E": 0.05, "A": 1e3, "alpha": 0.3, "B": 1e3, "beta": 0.3, "C0": 1.0}
CEILING = {"E": 0.05, "A": 9.5, "alpha": 0.3, "B": 18.0, "beta": 0.35, "F": 0.6, "C_mid": 3e17, "k": 1.0}
RANGES = {
    "c_total": [1e18, 1e20],
    "c_pretrain": [1e18, 5e19],
    "c_rl": [0.0, 5e19],
    "n_params": [1e8, 1e10],
    "pretrain_tokens": [1e9, 1e11],
}


def _fits(params: dict, draws=None, form="additive", ranges=None) -> dict:
    names = list(get_form(form).param_names)
    return {
        "bootstrap": {"ci": 0.95},
        "joint_law": {
            "chosen": form,
            "allocation_form": form,
            "forms": {form: {"status": "ok", "param_names": names, **params, "bootstrap_params": draws}},
            "fitted_range": ranges or RANGES,
        },
    }


def _jitter(params: dict, form: str, key: str, sd: float, n: int = 200) -> list:
    rng = np.random.default_rng(0)
    names = list(get_form(form).param_names)
    draws = np.tile([params[k] for k in names], (n, 1))
    draws[:, names.index(key)] += rng.normal(0, sd, n)
    return draws.tolist()


def test_symmetric_compute_law_splits_the_budget_in_half():
    f, acc = al.optimal_fraction(SYMMETRIC, 1e20)
    assert f == pytest.approx(0.5, abs=1e-3)
    assert acc == pytest.approx(1 - 0.05 - 2 * 1e3 * (0.5e20) ** -0.3, rel=1e-6)


def test_cheaper_pretraining_term_shifts_compute_to_rl():
    f, _ = al.optimal_fraction({**SYMMETRIC, "alpha": 0.5}, 1e20)  # pre-training error falls faster
    assert f < 0.5


def test_compute_optimal_size_matches_a_brute_force_search():
    c_pre = 1e20
    n_grid = np.logspace(6, 12, 20001)
    pre = CEILING["A"] * n_grid ** -CEILING["alpha"] + CEILING["B"] * (c_pre / (6 * n_grid)) ** -CEILING["beta"]
    n, d = compute_optimal_size(CEILING, c_pre)
    assert n == pytest.approx(n_grid[np.argmin(pre)], rel=2e-3)
    assert 6 * n * d == pytest.approx(c_pre)


@pytest.mark.parametrize("budget", [1e17, 1e20])
def test_size_tokens_optimum_matches_a_grid_over_fraction_and_size(budget):
    form = get_form("size_tokens_ceiling")
    f = np.linspace(1e-3, 1, 1999)[:, None]
    n = np.logspace(4, 12, 1601)[None, :]
    acc = form.predict(CEILING, n=n, d=f * budget / (6 * n), c_rl=(1 - f) * budget)
    i, j = np.unravel_index(np.argmax(acc), acc.shape)
    best = al.optimum(form, CEILING, budget)
    assert best["f_pretrain"] == pytest.approx(f[i, 0], abs=2e-3)
    assert best["n_params"] == pytest.approx(n[0, j], rel=0.02)
    assert best["accuracy"] >= acc.max() - 1e-9
    assert 6 * best["n_params"] * best["pretrain_tokens"] == pytest.approx(best["f_pretrain"] * budget)


def test_allocation_cis_come_from_the_bootstrap_draws():
    law = al.JointLaw.from_fits(
        _fits(
            CEILING,
            _jitter(CEILING, "size_tokens_ceiling", "alpha", 0.02),
            "size_tokens_ceiling",
            {**RANGES, "n_params": [1e4, 1e12], "pretrain_tokens": [1e4, 1e14], "c_pretrain": [1e10, 1e21]},
        )
    )
    row = al.allocate(law, 1e19)
    for short, key in (("f", "f_pretrain"), ("n", "n_params"), ("d", "pretrain_tokens")):
        assert row[f"{short}_ci_low"] < row[key] < row[f"{short}_ci_high"], short
    assert row["acc_ci_low"] <= row["accuracy"] <= row["acc_ci_high"]
    assert row["c_pretrain"] + row["c_rl"] == pytest.approx(1e19)
    assert not row["extrapolated"] and row["note"] == ""
    assert list(row) == al.ALLOCATION_COLUMNS


def test_compute_only_law_answers_the_fraction_and_says_why_not_n_and_d():
    law = al.JointLaw.from_fits(_fits(SYMMETRIC, _jitter(SYMMETRIC, "additive", "alpha", 0.02)))
    row = al.allocate(law, 1e19)
    assert row["f_ci_low"] < row["f_pretrain"] < row["f_ci_high"]
    assert np.isnan(row["n_params"]) and np.isnan(row["pretrain_tokens"])
    assert row["note"] == "law sees only C_pretrain: N and D not determined"


def test_budgets_and_optima_outside_the_fitted_range_are_flagged_with_the_reason():
    law = al.JointLaw.from_fits(_fits(CEILING, form="size_tokens_ceiling"))
    table = al.allocation_table(law, [1e19, 1e23])
    assert table["extrapolated"].tolist() == [True, True]
    assert "budget 1e+23 outside fitted [1e+18, 1e+20] FLOPs" in table["note"].iloc[1]
    note = table["note"].iloc[0]  # budget inside, but the optimal D* (6.2e8 tokens) lies below the fitted range
    assert note == "D 6.17e+08 outside fitted [1e+09, 1e+11] tokens"
    assert np.isnan(table["f_ci_low"]).all()  # no draws -> no CI, not a fake one


def test_forms_within_noise_give_the_spread_of_the_optimal_fraction():
    fits = _fits(SYMMETRIC)
    fast_pre = {**SYMMETRIC, "alpha": 0.5}  # pre-training error falls faster: f* < 0.5
    names = list(get_form("additive").param_names)
    fits["joint_law"]["forms"]["interaction"] = {"status": "ok", "param_names": names + ["D"], **fast_pre, "D": 0.0}
    fits["joint_law"]["within_noise"] = ["additive", "interaction"]
    law = al.JointLaw.from_fits(fits)
    assert list(law.alternatives) == ["interaction"]
    row = al.allocate(law, 1e20)
    f_other = al.optimal_fraction(fast_pre, 1e20)[0]
    assert row["forms_within_noise"] == "additive;interaction"
    assert row["f_forms_low"] == pytest.approx(f_other) and row["f_forms_high"] == pytest.approx(row["f_pretrain"])
    assert "2 forms within noise of each other" in row["note"]
    alone = al.allocate(al.JointLaw.from_fits(_fits(SYMMETRIC)), 1e20)  # no other form: no spread, not a 0-wide one
    assert alone["forms_within_noise"] == "additive" and np.isnan(alone["f_forms_low"])


def test_an_optimum_on_the_edge_is_flagged():
    no_rl = {**SYMMETRIC, "B": 0.0}  # RL buys nothing: every FLOP into pre-training, f* = 1
    row = al.allocate(al.JointLaw.from_fits(_fits(no_rl)), 1e19)
    assert row["f_pretrain"] == 1.0 and row["at_edge"] and "optimum at the edge: f* = 1" in row["note"]
    inside = al.allocate(al.JointLaw.from_fits(_fits(SYMMETRIC)), 1e19)
    assert not inside["at_edge"] and "edge" not in inside["note"]


def test_default_budgets_span_fitted_range_and_beyond():
    law = al.JointLaw.from_fits(_fits(SYMMETRIC))
    b = al.default_budgets(law, n=5, beyond=100)
    assert b[0] == pytest.approx(1e18) and b[-1] == pytest.approx(1e22)


def test_iso_flop_curves_peak_at_the_reported_optimum():
    law = al.JointLaw.from_fits(_fits(CEILING, form="size_tokens_ceiling"))
    curves = al.iso_flop_curves(law, [1e17, 1e19])
    table = al.allocation_table(law, [1e17, 1e19])
    assert list(curves.columns) == al.ISO_FLOP_COLUMNS
    for budget, f_opt, n_opt in zip(table["budget_flops"], table["f_pretrain"], table["n_params"]):
        frac = curves[(curves["budget_flops"] == budget) & (curves["curve"] == "fraction")]
        assert frac.loc[frac["accuracy"].idxmax(), "f_pretrain"] == pytest.approx(f_opt)
        size = curves[(curves["budget_flops"] == budget) & (curves["curve"] == "size")]
        assert size.loc[size["accuracy"].idxmax(), "n_params"] == pytest.approx(n_opt, rel=0.1)
        assert curves["accuracy"].between(0, 1).all()


def test_bad_inputs_are_clear_errors():
    with pytest.raises(FitError, match="budget must be a positive number of FLOPs"):
        al.optimal_fraction(SYMMETRIC, -1.0)
    with pytest.raises(NoLawError, match="no law identified: no joint form was fitted"):
        al.JointLaw.from_fits({"joint_law": {"chosen": None, "forms": {"additive": {"reason": "too few"}}}})
    no_law = {"identified": False, "chosen": None, "no_law_reason": "none beats the baseline", "forms": {}}
    with pytest.raises(NoLawError, match="no law identified: none beats the baseline"):
        al.JointLaw.from_fits({"joint_law": no_law})
    with pytest.raises(FitError, match="no 'joint_law' section"):
        al.JointLaw.from_fits({})
    with pytest.raises(FitError, match="compute-only law has no size curve"):
        al.size_curve(al.JointLaw.from_fits(_fits(SYMMETRIC)), 1e19)


@pytest.mark.parametrize("form", ["size_tokens_ceiling", "additive"])
def test_iso_flop_figure_is_written_as_png_and_svg_deterministically(tmp_path, form):
    from rlscaling.report.plots.fits import plot_iso_flop

    params = CEILING if form == "size_tokens_ceiling" else SYMMETRIC
    law = al.JointLaw.from_fits(_fits(params, _jitter(params, form, "alpha", 0.01, n=30), form))
    paths = plot_iso_flop(law, tmp_path / "iso", budgets=[1e18, 1e19, 1e21])
    again = plot_iso_flop(law, tmp_path / "iso2", budgets=[1e18, 1e19, 1e21])
    assert [p.name for p in paths] == ["iso.png", "iso.svg"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:500]
    for a, b in zip(paths, again):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two identical runs"
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporaries
