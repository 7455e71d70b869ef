"""Tests of rlscaling.allocate (compute-optimal split) and its iso-FLOP figure."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # tiny L-BFGS problems: threaded BLAS only slows
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rlscaling import allocate as al  # noqa: E402
from rlscaling.fit import FitError  # noqa: E402

SYMMETRIC = {"E": 0.05, "A": 1e3, "alpha": 0.3, "B": 1e3, "beta": 0.3, "C0": 1.0}


def _fits(params: dict, draws=None, c_total=(1e18, 1e20), c_pre=(1e18, 5e19), c_rl=(0.0, 5e19)) -> dict:
    names = ["E", "A", "alpha", "B", "beta", "C0"]
    return {"bootstrap": {"ci": 0.95},
            "joint_law": {"chosen": "additive",
                          "forms": {"additive": {"status": "ok", "param_names": names, **params,
                                                 "bootstrap_params": draws}},
                          "fitted_range": {"c_total": list(c_total), "c_pretrain": list(c_pre),
                                           "c_rl": list(c_rl)}}}


def test_symmetric_law_splits_the_budget_in_half():
    f, acc = al.optimal_fraction(SYMMETRIC, 1e20)
    assert f == pytest.approx(0.5, abs=1e-3)
    assert acc == pytest.approx(1 - 0.05 - 2 * 1e3 * (0.5e20) ** -0.3, rel=1e-6)


def test_cheaper_pretraining_term_shifts_compute_to_rl():
    steep_pre = {**SYMMETRIC, "alpha": 0.5}  # pre-training error falls faster, so less of it is needed
    f, _ = al.optimal_fraction(steep_pre, 1e20)
    assert f < 0.5


def test_allocation_ci_comes_from_the_bootstrap_draws():
    rng = np.random.default_rng(0)
    base = np.array([SYMMETRIC[k] for k in ["E", "A", "alpha", "B", "beta", "C0"]])
    draws = np.tile(base, (200, 1))
    draws[:, 2] += rng.normal(0, 0.02, 200)  # uncertain alpha -> uncertain optimum
    law = al.JointLaw.from_fits(_fits(SYMMETRIC, draws.tolist()))
    row = al.allocate(law, 1e19)
    assert row["f_ci_low"] < row["f_pretrain"] < row["f_ci_high"]
    assert row["acc_ci_low"] <= row["accuracy"] <= row["acc_ci_high"]
    assert row["c_pretrain"] + row["c_rl"] == pytest.approx(1e19)
    assert not row["extrapolated"] and row["note"] == ""


def test_budgets_outside_the_fitted_range_are_flagged_with_the_reason():
    law = al.JointLaw.from_fits(_fits(SYMMETRIC))
    table = al.allocation_table(law, [1e19, 1e23])
    assert table["extrapolated"].tolist() == [False, True]
    assert "budget outside fitted total compute" in table["note"].iloc[1]
    assert np.isnan(table["f_ci_low"]).all()  # no draws -> no CI, not a fake one


def test_default_budgets_span_fitted_range_and_beyond():
    law = al.JointLaw.from_fits(_fits(SYMMETRIC))
    b = al.default_budgets(law, n=5, beyond=100)
    assert b[0] == pytest.approx(1e18) and b[-1] == pytest.approx(1e22)


def test_iso_flop_curves_peak_at_the_reported_optimum():
    law = al.JointLaw.from_fits(_fits({**SYMMETRIC, "beta": 0.25}))
    curves = al.iso_flop_curves(law, [1e19, 1e20])
    table = al.allocation_table(law, [1e19, 1e20])
    for budget, f_opt in zip(table["budget_flops"], table["f_pretrain"]):
        c = curves[curves["budget_flops"] == budget]
        assert c.loc[c["accuracy"].idxmax(), "f_pretrain"] == pytest.approx(f_opt)
        assert c["accuracy"].between(0, 1).all()


def test_bad_inputs_are_clear_errors():
    with pytest.raises(FitError, match="budget must be a positive number of FLOPs"):
        al.optimal_fraction(SYMMETRIC, -1.0)
    with pytest.raises(FitError, match="no joint form was fitted"):
        al.JointLaw.from_fits({"joint_law": {"chosen": None, "forms": {"additive": {"reason": "too few"}}}})
    with pytest.raises(FitError, match="no 'joint_law' section"):
        al.JointLaw.from_fits({})


def test_iso_flop_figure_is_written_as_png_and_svg(tmp_path):
    from rlscaling.plots_fits import plot_iso_flop

    law = al.JointLaw.from_fits(_fits(SYMMETRIC))
    paths = plot_iso_flop(law, tmp_path / "iso", budgets=[1e18, 1e19, 1e21])
    assert [p.name for p in paths] == ["iso.png", "iso.svg"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and b"<svg" in paths[1].read_bytes()[:500]
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporaries
