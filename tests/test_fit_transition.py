"""Tests of the transition joint laws: base accuracy a sigmoid in log C_pretrain -- or in log D with a size-dependent
midpoint (the (N, D) forms) -- plus a saturating RL gain.

Synthetic studies shaped like the embedded one: 3 sizes x 4 pre-training budgets (0.75M-2M tokens) x 5 RL steps,
C_pretrain ~ 5e11-1e13 FLOPs, C_rl up to ~1e11-1e12 FLOPs, binomial noise from 1,200 items per point.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json
import re

import numpy as np
import pytest

from rlscaling.fit import FitError, Resampling, StudyPoints, get_form
from rlscaling.fit import transition as T
from rlscaling.fit import transition_nd as ND
from rlscaling.fit.allocate import JointLaw, optimum, size_curve
from rlscaling.fit.common import public, to_jsonable
from rlscaling.fit.crossval import cross_validate, leave_one_group_out
from rlscaling.metrics import item_bootstrap_means

from fit_synthetic import geometric_mean, synthetic_study

GRID = {
    "n_params": (1e5, 4e5, 9e5),
    "pretrain_tokens": (7.5e5, 1e6, 1.5e6, 2e6),
    "rl_steps": (0, 15, 30, 45, 60),
    "rl_tokens_per_step": 3e3,
    "n_items": 1200,
}
# floor 4 %, plateau 16 %, step centred mid-grid, +5 pp of RL gain half-way at 1.5e11 FLOPs
LAW = {"L": 0.04, "U": 0.16, "k": 3.0, "C_mid": 2.5e12, "G": 0.05, "C_half": 1.5e11}
FLAT = {**LAW, "U": LAW["L"]}  # no transition: every base model on the floor
FORMS = tuple(T.TRANSITION_FORMULAS)
KW = {"delta": 1e-2, "error_floor": 1e-3}
N_BOOT = 150


def _study(law, form: str, seed: int = 0):
    """(points, item-bootstrap accuracy replicates B x points) of a synthetic study drawn from ``form``."""
    rows, recs = synthetic_study(law, form=form, seed=seed, **GRID)
    scores = recs["score"].to_numpy().reshape(len(rows), GRID["n_items"]).T  # items x points, rows' order
    return StudyPoints.from_rows(rows), item_bootstrap_means(scores, N_BOOT, seed + 1)


@pytest.fixture(scope="module", params=FORMS)
def fitted(request):
    form = request.param
    pts, draws = _study(LAW, form)
    return form, pts, get_form(form).fit(pts, **KW, resampling=Resampling(acc_draws=draws))


@pytest.mark.parametrize("form", FORMS)
def test_jacobian_matches_finite_differences(form):
    pts, _ = _study(LAW, form)
    data = T._Data.of(pts.c_pre, pts.c_rl)
    model = T.MODELS[form]
    theta = np.array([0.05, 0.2, 0.4, 1.0, 0.3, -0.5])
    acc, J = model(theta, data.X, jac=True)
    eps = 1e-6
    numeric = np.stack(
        [(model(theta + eps * e, data.X) - model(theta - eps * e, data.X)) / (2 * eps) for e in np.eye(6)], axis=1
    )
    np.testing.assert_allclose(acc, model(theta[None], data.X)[0])
    np.testing.assert_allclose(J, numeric, atol=1e-7)


def test_fit_recovers_parameters_inside_bootstrap_cis(fitted):
    form, pts, fit = fitted
    assert fit["form"] == form and fit["param_names"] == list(T.TRANSITION_PARAMS)
    for name, row in fit["params"].items():
        assert row["ci_low"] <= LAW[name] <= row["ci_high"], (form, name, row)
    assert fit["rmse"] < 0.015
    ok = fit["draws"][np.all(np.isfinite(fit["draws"]), axis=1)]
    assert len(ok) >= 0.9 * N_BOOT
    L, U, k, G = ok[:, 0], ok[:, 1], ok[:, 2], ok[:, 4]
    assert np.all((L >= 0) & (L <= U) & (U <= 1)) and np.all((k >= T.K_BOUNDS[0]) & (k <= T.K_BOUNDS[1]))
    assert np.all(U + G <= 1 + 1e-12) and np.all((U if form == "transition_gated" else L) + G >= -1e-12)


def test_fit_entry_is_registered_and_json_ready(fitted):
    form, pts, fit = fitted
    law = get_form(form)
    assert law.variables == "compute" and not law.separates_size
    assert law.formula == fit["formula"] and list(law.param_names) == fit["param_names"]
    assert fit["variables"] == ["c_pretrain", "c_rl"] and fit["observed_rise"] >= fit["min_rise"]
    json.dumps(to_jsonable(public(fit)), allow_nan=False)


def test_limits_in_pretraining_compute_are_floor_and_plateau(fitted):
    form, _, fit = fitted
    law = get_form(form)
    c_rl = np.array([0.0, fit["C_half"], 1e3 * fit["C_half"]])
    gain = fit["G"] * c_rl / (c_rl + fit["C_half"])
    lo = fit["L"] + (0 if form == "transition_gated" else gain)
    hi = fit["U"] + gain
    for tiny in (0.0, fit["C_mid"] * 1e-12):
        np.testing.assert_allclose(law.predict(fit, c_pre=np.full(3, tiny), c_rl=c_rl), lo, atol=1e-9)
    for huge in (np.inf, fit["C_mid"] * 1e12):
        np.testing.assert_allclose(law.predict(fit, c_pre=np.full(3, huge), c_rl=c_rl), hi, atol=1e-9)
    mid = law.predict(fit, c_pre=np.full(3, fit["C_mid"]), c_rl=c_rl)
    np.testing.assert_allclose(mid, (lo + hi) / 2)


def test_allocation_can_use_a_transition_form(fitted):
    form, pts, fit = fitted
    best = optimum(get_form(form), fit, float(np.max(pts.c_pre + pts.c_rl)))
    assert 0 < best["f_pretrain"] <= 1 and fit["L"] <= best["accuracy"] <= 1
    assert np.isnan(best["n_params"])  # a compute form: no N/D split


@pytest.mark.parametrize("form", FORMS)
def test_leave_one_budget_out_beats_the_power_law_on_transition_data(form):
    pts, _ = _study(LAW, form, seed=3)
    cv = cross_validate(get_form(form), pts, **KW)
    assert cv["loso"]["status"] == "ok" and np.isfinite(cv["loso"]["rmse"])
    lobo = cv["lobo"]
    assert lobo["status"] == "ok" and not lobo["skipped"]
    assert sorted(lobo["per_group"]) == sorted(f"{d:.4g}" for d in GRID["pretrain_tokens"])  # budget = D
    power = leave_one_group_out(get_form("additive"), pts, "lobo", **KW)
    assert np.isfinite(lobo["rmse"]) and lobo["rmse"] < power["rmse"], (lobo["rmse"], power["rmse"])


@pytest.mark.parametrize("gain", [0.0, LAW["G"]])
@pytest.mark.parametrize("form", FORMS)
def test_flat_floor_is_a_clear_error(form, gain):
    pts, _ = _study({**FLAT, "G": gain}, "transition_additive", seed=2)
    with pytest.raises(FitError, match=f"{form}: no transition in the data"):
        get_form(form).fit(pts, **KW)
    if gain == 0:  # a form that cannot fit is never scored, so never chosen
        cv = cross_validate(get_form(form), pts, **KW)
        assert all(v["status"] == "failed" and "no transition" in v["reason"] for v in cv.values()), cv


def test_unknown_form_and_too_few_points_are_named():
    with pytest.raises(FitError, match="unknown form"):
        T.fit_transition_law([1e12, 2e12], [0, 1e10], [0.1, 0.2], "transition_sideways")
    with pytest.raises(FitError, match="need at least 7"):
        T.fit_transition_law([1e12, 2e12] * 3, [0, 1e10, 2e10] * 2, [0.1, 0.2, 0.1, 0.2, 0.3, 0.1], "transition_gated")


# An early embedded study (gsm8k, custom_flexible, 0-shot, 200 items): accuracy at RL steps 0/10/20/40/60 per
# (N, D); the 98.8K model learns the copy step between 1M and 1.5M tokens, C_pretrain 5.9e11 -> 8.9e11 FLOPs.
EMBEDDED_STEPS = (0, 10, 20, 40, 60)
EMBEDDED = {
    (98752, 1.0e6): (0.040, 0.040, 0.035, 0.035, 0.055),
    (98752, 1.5e6): (0.280, 0.315, 0.345, 0.345, 0.350),
    (393984, 1.0e6): (0.175, 0.190, 0.125, 0.225, 0.255),
    (393984, 1.5e6): (0.225, 0.230, 0.245, 0.260, 0.280),
    (861248, 1.0e6): (0.250, 0.270, 0.310, 0.335, 0.335),
    (861248, 1.5e6): (0.280, 0.290, 0.300, 0.305, 0.325),
}


@pytest.mark.parametrize("form", FORMS)
def test_embedded_study_step_between_two_neighbouring_budgets_is_found(form):
    """Non-monotone data with a sharp step next to the smallest C_pretrain: the start grid must see the step."""
    n, d = (np.repeat(v, len(EMBEDDED_STEPS)) for v in np.array(list(EMBEDDED)).T)
    step = np.tile(EMBEDDED_STEPS, len(EMBEDDED))
    y = np.concatenate(list(EMBEDDED.values()))
    c_pre, c_rl = 6 * n * d, 6 * n * 1.23e4 * step  # ~1.23e4 RL tokens per step
    fit = T.fit_transition_law(c_pre, c_rl, y, form, **KW)
    power = get_form("additive").fit(StudyPoints(n.astype(str), n, d, c_pre, c_rl, y), **KW)
    assert 6 * 98752 * 1.0e6 < fit["C_mid"] < 6 * 98752 * 1.5e6 and fit["rmse"] < power["rmse"], (
        fit["C_mid"],
        fit["rmse"],
        power["rmse"],
    )


# --------------------------------------------------------------------------------------------------
# (N, D) transition forms: a sigmoid in log tokens whose midpoint D_mid(N) = D_mid0 (N/N_ref)^-a depends on size
# --------------------------------------------------------------------------------------------------

FORMS_ND = tuple(ND.TRANSITION_ND_FORMULAS)
# floor 5 %, plateau 35 %, midpoint 1.2M tokens at N_ref (2.4M for 1e5 parameters, 0.8M for 9e5), +6 pp of RL gain
LAW_ND = {
    "L": 0.05,
    "U": 0.35,
    "k": 4.0,
    "D_mid0": 1.2e6,
    "a": 0.5,
    "G": 0.06,
    "C_half": 1.5e11,
    "N_ref": geometric_mean(GRID["n_params"]),
}
ND_SEED = 2  # over seeds 0-19 the 95% CIs of the 14 fitted parameters covered the truth 267 of 280 times (95.4 %)


@pytest.fixture(scope="module", params=FORMS_ND)
def fitted_nd(request):
    form = request.param
    pts, draws = _study(LAW_ND, form, seed=ND_SEED)
    return form, pts, get_form(form).fit(pts, **KW, resampling=Resampling(acc_draws=draws))


@pytest.mark.parametrize("form", FORMS_ND)
def test_nd_jacobian_matches_finite_differences(form):
    pts, _ = _study(LAW_ND, form)
    data = T._Data.of(pts.d, pts.c_rl, pts.n)
    model = T._model(form == "transition_nd_gated", sized=True)
    theta = np.array([0.05, 0.2, 0.4, 1.0, 0.3, -0.5, 0.7])
    acc, J = model(theta, data.X, jac=True)
    eps = 1e-6
    numeric = np.stack(
        [(model(theta + eps * e, data.X) - model(theta - eps * e, data.X)) / (2 * eps) for e in np.eye(7)], axis=1
    )
    np.testing.assert_allclose(acc, model(theta[None], data.X)[0])
    np.testing.assert_allclose(J, numeric, atol=1e-7)


def test_nd_fit_recovers_parameters_inside_bootstrap_cis(fitted_nd):
    form, pts, fit = fitted_nd
    assert fit["form"] == form and fit["param_names"] == list(ND.TRANSITION_ND_PARAMS)
    assert fit["N_ref"] == pytest.approx(LAW_ND["N_ref"], rel=1e-12)  # fixed: geometric mean of the fitted N
    for name, row in fit["params"].items():
        if name != "N_ref":
            assert row["ci_low"] <= LAW_ND[name] <= row["ci_high"], (form, name, row)
    assert fit["rmse"] < 0.015
    ok = fit["draws"][np.all(np.isfinite(fit["draws"]), axis=1)]
    assert len(ok) >= 0.9 * N_BOOT
    L, U, a, G = ok[:, 0], ok[:, 1], ok[:, 4], ok[:, 5]
    assert np.all((L >= 0) & (L <= U) & (U <= 1)) and np.all((a >= T.A_BOUNDS[0]) & (a <= T.A_BOUNDS[1]))
    assert np.all(U + G <= 1 + 1e-12) and np.all((U if form == "transition_nd_gated" else L) + G >= -1e-12)
    np.testing.assert_allclose(ok[:, 7], fit["N_ref"])


def test_nd_entry_is_registered_and_json_ready(fitted_nd):
    form, pts, fit = fitted_nd
    law = get_form(form)
    assert law.variables == "size_tokens" and law.separates_size and law.family == "transition_nd"
    assert law.is_transition and law.formula == fit["formula"] and list(law.param_names) == fit["param_names"]
    assert fit["variables"] == ["n_params", "pretrain_tokens", "c_rl"] and fit["observed_rise"] >= fit["min_rise"]
    np.testing.assert_allclose(
        law.predict_points(fit, pts), ND.predict_transition_nd(form, fit, pts.n, pts.d, pts.c_rl)
    )
    json.dumps(to_jsonable(public(fit)), allow_nan=False)
    with pytest.raises(FitError, match="needs N and D"):
        law.predict(fit, c_pre=pts.c_pre, c_rl=pts.c_rl)


def test_nd_midpoint_moves_with_size(fitted_nd):
    form, _, fit = fitted_nd
    law = get_form(form)
    n = np.array([fit["N_ref"] / 4, fit["N_ref"], 4 * fit["N_ref"]])
    d_mid = ND.token_midpoint(fit, n)
    np.testing.assert_allclose(d_mid, fit["D_mid0"] * 4.0 ** (-fit["a"] * np.array([-1, 0, 1])))
    np.testing.assert_allclose(law.predict(fit, n=n, d=d_mid, c_rl=np.zeros(3)), (fit["L"] + fit["U"]) / 2)
    base = law.predict(fit, n=n, d=np.full(3, fit["D_mid0"]), c_rl=np.zeros(3))
    assert base[0] < base[1] < base[2]  # a > 0: at equal tokens the bigger model is further up the step


def _brute_force_size(law, params, c_pre, c_rl, n_bounds):
    """Numerical argmax over a fine log grid of N at 6ND = C_pre (reference for the closed-form corner)."""
    n = np.logspace(*np.log10(n_bounds), 801)[None, :]
    acc = law.predict(params, n=n, d=c_pre[:, None] / (6 * n), c_rl=c_rl[:, None])
    return n[0, np.argmax(acc, axis=1)], acc.max(axis=1)


@pytest.mark.parametrize("form", FORMS_ND)
@pytest.mark.parametrize("change", [{}, {"a": 1.6}, {"a": 0.0}, {"G": -0.35}])
def test_nd_compute_optimal_size_is_the_numerical_optimum(form, change):
    """At fixed C_pretrain the sigmoid's argument is linear in ln N: the best N is a corner of the searched range."""
    params, law = {**LAW_ND, **change}, get_form(form)
    c_pre, c_rl = np.logspace(11, 14, 7), np.linspace(0, 1e13, 7)  # gated, G = -0.35: the sigmoid's weight < 0
    bounds = (3e4, 3e6)
    n, d = law.optimal_size(params, c_pre, c_rl, bounds)
    np.testing.assert_allclose(6 * n * d, c_pre)
    assert np.all(np.isin(n, bounds))
    ref_n, ref_acc = _brute_force_size(law, params, c_pre, c_rl, bounds)
    np.testing.assert_allclose(law.predict(params, n=n, d=d, c_rl=c_rl), ref_acc, rtol=1e-9, atol=1e-12)
    corners = np.array(bounds)
    at_corners = law.predict(params, n=corners, d=c_pre[:, None] / (6 * corners), c_rl=c_rl[:, None])
    informative = np.abs(at_corners[:, 1] - at_corners[:, 0]) > 1e-9
    np.testing.assert_allclose(n[informative], ref_n[informative])  # where N matters, the same corner
    lo, hi = ND.compute_optimal_size_nd(form, params, c_pre)[0][[0, -1]]  # default range: N_ref / 10 .. N_ref * 10
    assert {lo, hi} <= {params["N_ref"] / ND.SIZE_SPAN, params["N_ref"] * ND.SIZE_SPAN}


def test_nd_allocation_pieces_work(fitted_nd):
    """What allocate.py reads: a fits.json entry -> JointLaw -> predictions over (N, D, C_rl) and the size curve."""
    form, pts, fit = fitted_nd
    entry = {**to_jsonable(public(fit)), "bootstrap_params": to_jsonable(fit["draws"])}
    fits = {"joint_law": {"chosen": form, "forms": {form: entry}, "fitted_range": pts.fitted_range()}}
    law = JointLaw.from_fits(fits)
    assert law.law.separates_size and len(law.draws) >= 0.9 * N_BOOT
    budget = float(np.max(pts.c_pre + pts.c_rl))
    curve = size_curve(law, budget, sizes=np.logspace(4.5, 6.5, 9))
    assert np.all(np.isfinite(curve["accuracy"])) and np.all((curve["f_pretrain"] > 0) & (curve["f_pretrain"] <= 1))
    n, d = law.law.optimal_size(law.params, np.array([budget]), 0.0, law.fitted_range["n_params"])
    assert n[0] == law.fitted_range["n_params"][0] and 6 * n[0] * d[0] == pytest.approx(budget)  # a < 1: smallest N
    with pytest.raises(FitError, match="sees only C_pretrain"):
        get_form("transition_additive").optimal_size(fit, np.array([budget]))


@pytest.mark.parametrize("form", FORMS_ND)
def test_nd_flat_floor_is_a_clear_error(form):
    pts, _ = _study({**LAW_ND, "U": LAW_ND["L"], "G": 0.0}, "transition_nd_additive", seed=2)
    with pytest.raises(FitError, match=f"{form}: no transition in the data.*observed \\(N, D\\) points"):
        get_form(form).fit(pts, **KW)


def test_nd_unknown_form_and_too_few_points_are_named():
    with pytest.raises(FitError, match="unknown form"):
        ND.fit_transition_nd_law([1e5, 2e5], [1e6, 2e6], [0, 1e10], [0.1, 0.2], "transition_nd_sideways")
    with pytest.raises(FitError, match="need at least 8"):
        ND.fit_transition_nd_law([1e5, 2e5] * 3, [1e6] * 3 + [2e6] * 3, [0, 1e10, 2e10] * 2, [0.1, 0.2] * 3)


# The embedded study (gsm8k, custom_flexible, 0-shot, 1,400 items, seed means of /tmp/study1): accuracy per (N, D)
# at rl_step 0, and at RL steps 10/20/40/60 (C_rl FLOPs below) on the 2M-token models. Base accuracy is not a function
# of C_pretrain: the 98.8K model at 2M tokens (1.2e12 FLOPs) is far above the 861K model at 1M tokens (5.2e12 FLOPs);
# it steps in D at a size-dependent token count.
STUDY1_BUDGETS = (750080.0, 1e6, 1500160.0, 2e6)
STUDY1 = {  # N: (base accuracy per budget, accuracy at RL steps 10/20/40/60 on 2M tokens, their C_rl FLOPs)
    98752: (
        (0.051429, 0.0425, 0.059643, 0.345714),
        (0.423571, 0.448214, 0.461429, 0.454286),
        (8.78626e10, 1.75049e11, 3.47612e11, 5.16822e11),
    ),
    393984: (
        (0.057143, 0.1175, 0.246071, 0.323571),
        (0.329643, 0.372857, 0.415714, 0.418214),
        (3.58407e11, 7.22074e11, 1.44617e12, 2.16541e12),
    ),
    861248: (
        (0.057143, 0.082857, 0.377143, 0.385714),
        (0.428571, 0.502143, 0.520714, 0.530714),
        (7.60508e11, 1.52843e12, 3.06473e12, 4.62645e12),
    ),
}


def _study1_points() -> StudyPoints:
    cols = []
    for n, (base, rl, c_rl) in STUDY1.items():
        d = np.r_[STUDY1_BUDGETS, np.full(len(rl), 2e6)]
        cols.append(
            (np.full(len(d), f"{n}"), np.full(len(d), float(n)), d, 6 * n * d, np.r_[0, 0, 0, 0, c_rl], np.r_[base, rl])
        )
    return StudyPoints(*(np.concatenate(c) for c in zip(*cols)))


def test_study1_size_dependent_step_fits_where_compute_transitions_cannot():
    pts = _study1_points()
    assert len(pts.y) == 24
    compute_rmse = []
    for form in FORMS:
        with pytest.raises(FitError, match="no transition in the data") as err:
            get_form(form).fit(pts, **KW)
        compute_rmse.append(float(re.search(r"3 x RMSE = ([0-9.]+) pp", str(err.value)).group(1)) / 300)
    power = get_form("additive").fit(pts, **KW)["rmse"]
    for form in FORMS_ND:
        fit = get_form(form).fit(pts, **KW)
        assert fit["rmse"] < 0.05 and fit["rmse"] < 0.5 * min(compute_rmse) and fit["rmse"] < 0.5 * power
        assert 0 < fit["a"] < 1  # bigger models step with fewer tokens, but not in proportion to N
        cv = cross_validate(get_form(form), pts, **KW)
        assert cv["lobo"]["status"] == "ok" and np.isfinite(cv["lobo"]["rmse"])
        assert sorted(cv["lobo"]["skipped"]) == ["2e+06"]  # without the 2M budget no RL points remain
        assert cv["loso"]["status"] == "ok" and np.isfinite(cv["loso"]["rmse"])
