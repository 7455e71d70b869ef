"""Tests of the transition joint laws: base accuracy a sigmoid in log C_pretrain, plus a saturating RL gain.

Synthetic studies shaped like the embedded one: 3 sizes x 4 pre-training budgets (0.75M-2M tokens) x 5 RL steps,
C_pretrain ~ 5e11-1e13 FLOPs, C_rl up to ~1e11-1e12 FLOPs, binomial noise from 1,200 items per point.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json

import numpy as np
import pytest

from rlscaling.allocate import optimum
from rlscaling.fit import FitError, Resampling, StudyPoints, get_form
from rlscaling.fit import transition as T
from rlscaling.fit.common import public, to_jsonable
from rlscaling.fit.crossval import cross_validate, leave_one_group_out
from rlscaling.metrics import item_bootstrap_means

from fit_synthetic import synthetic_study

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
