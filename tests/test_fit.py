"""Tests of rlscaling.fit: published fits reproduced, parameters recovered, degenerate input rejected."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # tiny L-BFGS problems: threaded BLAS only slows
    os.environ.setdefault(_var, "1")

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlscaling import fit as F
from rlscaling.fit.laws import FORMS

from fit_synthetic import inside_interval, synthetic_study

REPO = Path(__file__).resolve().parents[1]
SEED_TABLE = REPO / "tests" / "fixtures" / "seed_table.csv"


def _reference_dir() -> Path:
    return Path(os.environ.get("RLSCALING_REFERENCE_DIR", REPO.parent / "shared" / "reference"))


def _inside(entry: dict, truth: float) -> bool:
    return inside_interval(entry, truth)


# --------------------------------------------------------------------------------------------------
# the generic engine against a real published fit (Besiroglu et al. 2024 replication of Chinchilla)
# --------------------------------------------------------------------------------------------------


def test_two_factor_engine_reproduces_chinchilla_replication():
    path = _reference_dir() / "chinchilla_svg_extracted_data.csv"
    if not path.is_file():
        pytest.skip(f"reference data absent: {path} (set RLSCALING_REFERENCE_DIR to its folder)")
    df = pd.read_csv(path).sort_values("loss").iloc[:-5]  # drop the 5 highest-loss points, as they did
    n = df["Model Size"].to_numpy()
    d = df["Training FLOP"].to_numpy() / (6 * n)
    fit = F.fit_two_factor_power_law(n, d, df["loss"].to_numpy(), delta=1e-3)
    published_ci = {
        "E": (1.769, 1.871),
        "A": (285.2, 743.6),
        "B": (1042, 5810),
        "alpha": (0.317, 0.373),
        "beta": (0.331, 0.415),
    }
    for key, (lo, hi) in published_ci.items():
        assert lo <= fit[key] <= hi, f"{key} = {fit[key]:.4g} outside the published CI [{lo}, {hi}]"
    assert fit["E"] == pytest.approx(1.82, abs=0.03)
    assert fit["alpha"] == pytest.approx(0.348, abs=0.01)
    assert fit["beta"] == pytest.approx(0.366, abs=0.01)


def test_two_factor_engine_recovers_synthetic_parameters_with_bootstrap():
    rng = np.random.default_rng(3)
    x1 = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 120))
    x2 = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 120))
    truth = {"E": 1.7, "A": 400.0, "B": 1500.0, "alpha": 0.33, "beta": 0.29}
    y = truth["E"] + truth["A"] / x1 ** truth["alpha"] + truth["B"] / x2 ** truth["beta"]
    y *= np.exp(rng.normal(0, 0.01, y.size))
    fit = F.fit_two_factor_power_law(x1, x2, y, bootstrap=60, seed=1)
    for key, value in truth.items():
        lo, hi = fit["ci"][key]
        assert lo <= value <= hi, f"{key}: truth {value} outside CI ({lo:.4g}, {hi:.4g})"
    assert fit["draws"].shape == (60, 5)


# --------------------------------------------------------------------------------------------------
# the seed write-up's gain law
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size_column", ["n_params_nonembedding_b", "n_params_nominal_b"])
def test_seed_gain_law_falls_with_size_so_the_stated_exponent_is_excluded(size_column):
    """The seed states Gain ~ 10.7 N^0.194, but its own GSM8K table has gains falling from +27.6 pp
    (0.6B) to +6.3 pp (14B): a least-squares power law must have b < 0, and +0.194 lies outside the
    95% CI. (Its '+5.7% at 32B' matches 10.7 * 32^-0.194 = 5.5, suggesting a sign slip.)"""
    table = pd.read_csv(SEED_TABLE)
    fit = F.fit_seed_gains(table, benchmark="gsm8k", size_column=size_column, bootstrap=1000, seed=0)
    b = fit["params"]["b"]
    assert b["estimate"] < 0
    assert b["ci_high"] < 0.194
    assert not _inside(b, 0.194)
    assert fit["n"] == 5 and fit["units"]["gain"] == "percentage points"


def test_seed_table_math_row_without_baseline_is_dropped_and_reported():
    fit = F.fit_seed_gains(pd.read_csv(SEED_TABLE), benchmark="math", bootstrap=200)
    assert fit["dropped_sizes_missing_gain"] == [13.2]
    assert fit["n"] == 4 and fit["b"] < 0


def test_seed_table_gains_match_after_minus_baseline():
    table = pd.read_csv(SEED_TABLE).dropna()
    np.testing.assert_allclose(table["after_rl_pct"] - table["baseline_pct"], table["gain_pp"], atol=0.051)


# --------------------------------------------------------------------------------------------------
# parameter recovery for every form
# --------------------------------------------------------------------------------------------------


def test_power_law_recovers_parameters():
    rng = np.random.default_rng(0)
    n = np.array([0.5, 1, 2, 4, 8, 16, 32.0])
    y = 12.0 * n**-0.3 * np.exp(rng.normal(0, 0.05, n.size))
    fit = F.fit_power_law(n, y, bootstrap=1000, seed=0)
    assert _inside(fit["params"]["a"], 12.0) and _inside(fit["params"]["b"], -0.3)


def test_rl_sigmoid_recovers_parameters_from_item_bootstrap_draws():
    rng = np.random.default_rng(1)
    c = np.concatenate([[0.0], np.logspace(10, 12.5, 20)])
    truth = (0.15, 0.7, 2e11, 1.3)
    p = F.rl_sigmoid(c, *truth)
    n_items = 800
    acc = rng.binomial(n_items, p) / n_items
    draws = rng.binomial(n_items, acc, size=(400, c.size)) / n_items  # parametric stand-in for item resampling
    fit = F.fit_rl_sigmoid(c, acc, F.Resampling(acc_draws=draws))
    for name, value in zip(F.SIGMOID_PARAMS, truth):
        assert _inside(fit["params"][name], value), (name, fit["params"][name], value)
    est = [fit[k] for k in F.SIGMOID_PARAMS]
    assert 0 <= est[0] <= est[1] <= 1 and est[3] > 0


def test_rl_sigmoid_respects_bounds_on_a_flat_curve_with_noise():
    c = np.array([0, 1e10, 2e10, 4e10, 8e10, 1.6e11])
    fit = F.fit_rl_sigmoid(c, [0.30, 0.31, 0.29, 0.30, 0.32, 0.31], F.Resampling(bootstrap=50))
    assert 0 <= fit["R0"] <= fit["A"] <= 1 and fit["B"] > 0


def test_tan_law_recovers_parameters():
    rng = np.random.default_rng(2)
    sizes = np.array([1e8, 3e8, 1e9, 3e9, 1e10])
    n = np.repeat(sizes, 8)
    c = np.tile(np.logspace(18, 20, 8), sizes.size)
    truth = (1e10, 1.0, 0.4, 1e9)  # C0, r, k_max, N0
    err = F.tan_error(n, c, *truth) * np.exp(rng.normal(0, 0.02, n.size))
    fit = F.fit_tan_law(n, c, 1 - err, F.Resampling(bootstrap=200, seed=0))
    for name, value in zip(F.TAN_PARAMS, truth):
        assert _inside(fit["params"][name], value), (name, fit["params"][name], value)


def _law_for(sizes, tokens, steps, tps) -> dict[str, float]:
    """A realistic additive law (error ~0.2-0.85) over the given grid: E=0.1, alpha=0.25, beta=0.48."""
    g_pre = np.exp(np.mean([np.log(6 * n * d) for n in sizes for d in tokens]))
    g_rl = np.exp(np.mean([np.log(6 * n * tps * s) for n in sizes for s in steps if s]))
    return {
        "E": 0.1,
        "alpha": 0.25,
        "A": 0.15 * g_pre**0.25,
        "beta": 0.48,
        "C0": g_rl / 10,
        "B": 0.4 * (g_rl / 10) ** 0.48,
    }


def _recovery_study(n_items=1000, seed=0):
    sizes, tokens, steps, tps = (1e5, 3e5, 1e6, 3e6, 1e7), (2e5, 6e5, 1.8e6), tuple(range(0, 41, 4)), 2e4
    law = _law_for(sizes, tokens, steps, tps)
    summary, records = synthetic_study(
        law, n_params=sizes, pretrain_tokens=tokens, rl_steps=steps, rl_tokens_per_step=tps, n_items=n_items, seed=seed
    )
    return law, summary, records


def test_joint_additive_law_recovers_parameters_with_item_bootstrap():
    law, summary, records = _recovery_study()
    cfg = F.FitConfig()
    rows = F.select_rows(summary, cfg)
    draws = F.item_bootstrap_accuracies(rows, records, cfg, 150, seed=0)
    fit = F.fit_joint_law(
        rows["c_pretrain"],
        rows["c_rl"],
        rows["accuracy"],
        "additive",
        delta=cfg.huber_delta,
        resampling=F.Resampling(acc_draws=draws),
    )
    for name in ("E", "A", "alpha", "B", "beta", "C0"):
        assert _inside(fit["params"][name], law[name]), (name, fit["params"][name], law[name])
    assert fit["rmse"] < 0.03


def test_interaction_form_nests_the_additive_one():
    law, summary, _ = _recovery_study(n_items=400, seed=1)
    rows = F.select_rows(summary, F.FitConfig())
    args = (rows["c_pretrain"], rows["c_rl"], rows["accuracy"])
    add = F.fit_joint_law(*args, "additive", delta=1e-2)
    inter = F.fit_joint_law(*args, "interaction", delta=1e-2)
    assert inter["loss"] <= add["loss"] * 1.01  # one more term can only fit at least as well
    pred = F.predict_joint({**law, "D": 0.0}, rows["c_pretrain"], rows["c_rl"])
    np.testing.assert_allclose(pred, F.predict_joint(law, rows["c_pretrain"], rows["c_rl"]))


def test_item_bootstrap_is_paired_and_centred():
    _, summary, records = _recovery_study(n_items=300)
    rows = F.select_rows(summary, F.FitConfig())
    draws = F.item_bootstrap_accuracies(rows, records, F.FitConfig(), 400, seed=0)
    assert draws.shape == (400, len(rows))
    np.testing.assert_allclose(draws.mean(axis=0), rows["accuracy"], atol=0.01)
    # one shared item resample per draw: the draws of two conditions co-vary through shared items
    assert np.all(np.isfinite(draws))


# --------------------------------------------------------------------------------------------------
# degenerate input -> FitError with a clear message
# --------------------------------------------------------------------------------------------------


def test_too_few_points_is_a_clear_error():
    with pytest.raises(F.FitError, match=r"RL sigmoid: 4 point\(s\) for 4 parameters"):
        F.fit_rl_sigmoid([0, 1e10, 2e10, 4e10], [0.1, 0.2, 0.3, 0.35])
    with pytest.raises(F.FitError, match="two-factor power law: 3 point"):
        F.fit_two_factor_power_law([1, 2, 3], [1, 2, 3], [3, 2, 1])


def test_all_equal_accuracies_is_a_clear_error():
    with pytest.raises(F.FitError, match="all values are equal"):
        F.fit_rl_sigmoid([0, 1e10, 2e10, 4e10, 8e10], [0.3] * 5)
    with pytest.raises(F.FitError, match="all values are equal"):
        F.fit_joint_law([1e10] * 4 + [1e11] * 4, [0, 1e9, 2e9, 4e9] * 2, [0.4] * 8)


def test_missing_columns_are_named():
    _, summary, records = _recovery_study(n_items=20)
    with pytest.raises(F.FitError, match=r"summary: missing column\(s\) \['c_rl', 'accuracy'\]"):
        F.fit_summary(summary.drop(columns=["c_rl", "accuracy"]), None, {"bootstrap": 0})
    with pytest.raises(F.FitError, match=r"records: missing column\(s\) \['item_id'\]"):
        F.fit_summary(summary, records.drop(columns=["item_id"]), {"bootstrap": 5})


def test_negative_compute_is_rejected():
    with pytest.raises(F.FitError, match="compute must be >= 0"):
        F.fit_rl_sigmoid([0, -1e10, 2e10, 4e10, 8e10], [0.1, 0.2, 0.3, 0.4, 0.5])
    _, summary, _ = _recovery_study(n_items=20)
    summary.loc[3, "c_pretrain"] = -1.0
    with pytest.raises(F.FitInputError, match=r"summary row 3: column 'c_pretrain' = -1.0 is not FLOPs > 0"):
        F.fit_summary(summary, None, {"bootstrap": 0})


def test_non_positive_gain_is_named():
    with pytest.raises(F.FitError, match=r"non-positive at x=2: y=-1"):
        F.fit_power_law([1, 2, 4], [3.0, -1.0, 2.0])


def test_gain_needs_a_base_model_row():
    _, summary, _ = _recovery_study(n_items=20)
    rows = F.select_rows(summary[summary["rl_step"] > 0], F.FitConfig())
    with pytest.raises(F.FitError, match="has no rl_step 0 row"):
        F.gains_table(rows)


def test_unknown_config_key_and_empty_selection_are_named():
    with pytest.raises(F.FitError, match=r"unknown key\(s\) \['bootstrapp'\]"):
        F.FitConfig.from_mapping({"fit": {"bootstrapp": 10}})
    _, summary, _ = _recovery_study(n_items=20)
    with pytest.raises(F.FitError, match="no rows for benchmark='math'"):
        F.fit_summary(summary, None, {"benchmark": "math", "bootstrap": 0})


# --------------------------------------------------------------------------------------------------
# fit_summary on the embedded study's small grid
# --------------------------------------------------------------------------------------------------


def test_fit_summary_on_embedded_grid_records_reasons_instead_of_failing():
    grid = {"n_params": (1e5, 3e5, 1e6), "pretrain_tokens": (2e5, 6e5), "rl_steps": (0, 10, 20, 40)}
    law = _law_for(grid["n_params"], grid["pretrain_tokens"], grid["rl_steps"], 2e4)
    summary, records = synthetic_study(law, **grid, rl_tokens_per_step=2e4, n_items=200, seed=4)
    fits = F.fit_summary(summary, records, {"bootstrap": 50, "seed": 1})
    assert fits["n_points"] == 24 and fits["bootstrap"]["resampling"] == "items"
    # 4 points per RL curve cannot carry a 4-parameter sigmoid: recorded, not raised
    assert {e["status"] for e in fits["rl_sigmoid"]} == {"failed"}
    assert all("need at least 5" in e["reason"] for e in fits["rl_sigmoid"])
    joint = fits["joint_law"]
    assert joint["identified"] and joint["chosen"] in FORMS  # any registered form: compute, size/tokens, transition
    chosen = joint["forms"][joint["chosen"]]
    for name in chosen["param_names"]:  # every interval is honest: two-sided, one-sided or unbounded, never 0-wide
        p = chosen["params"][name]
        limits = [v for v in (p["ci_low"], p["ci_high"]) if v is not None]
        assert len(limits) == {"two-sided": 2, "one-sided": 1, "unbounded": 0}[p["interval"]], p
        assert len(limits) < 2 or p["ci_low"] < p["ci_high"]
    assert {"r2", "rmse", "cv", "identifiability"} <= set(chosen) and chosen["cv"]["loso"]["rmse"] > 0
    ext = fits["extrapolation"]
    assert ext["status"] == "ok" and ext["held_out_model"] == summary.loc[summary["n_params"].idxmax(), "model"]
    assert 0 <= ext["coverage"] <= 1 and len(ext["points"]) == 8
    assert len(fits["gain_power_law"]) == 2  # one law per pretrain budget
    for g in fits["gain_power_law"]:
        assert (g["status"] == "ok" and g["params"]["b"]["ci_low"] is not None) or "non-positive" in g["reason"]
        assert len(g["points"]) == 3  # measured gains are kept even when no law can be fitted
        assert all(p["gain_ci_low"] <= p["gain_ci_high"] for p in g["points"])
    json.dumps(F.to_jsonable(fits), allow_nan=False)  # strict JSON after conversion


def test_gain_figure_keeps_non_positive_gains_on_a_linear_axis(tmp_path):
    import matplotlib.pyplot as plt

    from rlscaling.report.plots import fits as plots_fits

    fits = {
        "gain_power_law": [
            {
                "pretrain_tokens": 1e6,
                "status": "failed",
                "reason": "power law needs positive y to fit in log space; non-positive at x=4e-4",
                "points": [
                    {"n_params": n, "gain_pp": g, "gain_ci_low": g - 4, "gain_ci_high": g + 4}
                    for n, g in ((1e5, 4.0), (4e5, -3.5), (9e5, 7.0))
                ],
            }
        ]
    }
    series = plots_fits.gain_series_from_fits(fits)
    assert series[0]["gain_pp"] == [4.0, -3.5, 7.0] and series[0]["gain_ci"][1] == (-7.5, 0.5)
    scales = []
    real_save = plots_fits.save_figure
    plots_fits.save_figure = lambda fig, stem: (scales.append(fig.axes[0].get_yscale()), real_save(fig, stem))[1]
    try:
        paths = plots_fits.plot_gain_vs_size(series, tmp_path / "gain")
        positive = [{**series[0], "gain_pp": [4.0, 3.5, 7.0], "gain_ci": [(1, 6), (1, 5), (3, 9)]}]
        plots_fits.plot_gain_vs_size(positive, tmp_path / "gain_pos")
    finally:
        plots_fits.save_figure = real_save
    assert scales == ["linear", "log"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and not plt.get_fignums()


def test_fit_summary_without_records_resamples_points():
    _, summary, _ = _recovery_study(n_items=200)
    fits = F.fit_summary(summary, None, {"bootstrap": 20})
    assert fits["bootstrap"]["resampling"] == "points"
    assert fits["joint_law"]["chosen"] is not None
    assert all(e["status"] == "ok" for e in fits["rl_sigmoid"])


@pytest.mark.parametrize("form", ["additive", "interaction"])
def test_huber_objective_gradient_is_exact_and_matches_the_grid_scorer(form):
    from scipy.optimize import check_grad

    spec = F.JOINT_FORMS[form]
    rng = np.random.default_rng(0)
    L1, X2 = rng.normal(size=40), rng.exponential(size=40) * (rng.random(40) > 0.3)
    logy = np.log(rng.uniform(0.2, 0.8, 40))
    w = np.ones(40)
    theta = np.r_[-1.0, -0.5, 0.4, -0.7, 0.6, [-1.2] * spec.interaction, -0.3]
    loss = lambda t: F._lse_loss_grad(t, spec, L1, X2, logy, w, 0.05)
    assert check_grad(lambda t: loss(t)[0], lambda t: loss(t)[1], theta) < 1e-6
    assert F._lse_loss_batch(theta[None], spec, L1, X2, logy, 0.05)[0] == pytest.approx(loss(theta)[0])


def test_sigmoid_least_squares_survives_a_singular_hessian():
    """Regression (embedded study, fit rule): at the B upper bound the sigmoid saturates to a step, the LM
    Hessian becomes exactly singular, and np.linalg.solve raised. Inputs recorded from the failing run."""
    import numpy as np

    from rlscaling.fit import _batched_lm

    q0 = np.array([[0.39, 0.93589744, 0.38946087, 3.91202301]])
    lc = np.array([0.0, -0.96980285, -0.27228098, 0.4171865, 0.82489732])
    pos = np.array([False, True, True, True, True])
    y = np.array([[0.415, 0.415, 0.425, 0.43, 0.43]])
    q = _batched_lm(q0, lc, pos, y)
    assert np.all(np.isfinite(q))
