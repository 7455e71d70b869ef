"""The joint-law registry (rlscaling.fit.laws): every family's forms registered once, in the schema's order, each
fitting data drawn from its own prediction; unknown names and inconsistent declarations refused."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # tiny L-BFGS problems: threaded BLAS only slows
    os.environ.setdefault(_var, "1")

import numpy as np
import pytest
import yaml

from rlscaling.config_schema import SCHEMA
from rlscaling.fit import FitConfig, FitError, StudyPoints
from rlscaling.fit import joint as J
from rlscaling.fit import laws as R
from rlscaling.fit.law import VARIABLES, JointForm

from fit_synthetic import geometric_mean

# the study grid: N parameters, D tokens, RL steps of 3e3 tokens per model parameter x 6 FLOPs
N_GRID, D_GRID, STEPS = (1e5, 4e5, 9e5), (7.5e5, 1e6, 1.5e6, 2e6), (0, 15, 30, 45, 60)
# true parameters per form (original units), chosen so every accuracy on the grid lies well inside (0, 1)
TRUTH = {
    "additive": {"E": 0.1, "A": 1200.0, "alpha": 0.3, "B": 300.0, "beta": 0.3, "C0": 1e10},
    "interaction": {"E": 0.1, "A": 1200.0, "alpha": 0.3, "B": 300.0, "beta": 0.3, "D": 2e5, "C0": 1e10},
    "size_tokens_additive": {"E": 0.05, "A": 6.0, "alpha": 0.3, "B": 5.0, "beta": 0.3, "G": 300.0, "gamma": 0.3,
                             "C0": 1e10},
    "size_tokens_ceiling": {"E": 0.05, "A": 8.0, "alpha": 0.3, "B": 6.0, "beta": 0.3, "F": 0.6, "C_mid": 1e11,
                            "k": 0.8},
    "transition_additive": {"L": 0.04, "U": 0.16, "k": 3.0, "C_mid": 2.5e12, "G": 0.05, "C_half": 1.5e11},
    "transition_gated": {"L": 0.04, "U": 0.16, "k": 3.0, "C_mid": 2.5e12, "G": 0.05, "C_half": 1.5e11},
    "transition_nd_additive": {"L": 0.05, "U": 0.35, "k": 4.0, "D_mid0": 1.2e6, "a": 0.5, "G": 0.06,
                               "C_half": 1.5e11, "N_ref": geometric_mean(N_GRID)},
    "transition_nd_gated": {"L": 0.05, "U": 0.35, "k": 4.0, "D_mid0": 1.2e6, "a": 0.5, "G": 0.06,
                            "C_half": 1.5e11, "N_ref": geometric_mean(N_GRID)},
}  # fmt: skip
KW = {"delta": 1e-2, "error_floor": 1e-3}


def _points(form: str) -> StudyPoints:
    """Noise-free points of the grid: accuracy = the registered form's own prediction at the true parameters."""
    n, d, step = (np.array(v, dtype=float).ravel() for v in np.meshgrid(N_GRID, D_GRID, STEPS, indexing="ij"))
    c_pre, c_rl = 6.0 * n * d, 6.0 * n * 3e3 * step
    y = R.get_form(form).predict(TRUTH[form], n=n, d=d, c_pre=c_pre, c_rl=c_rl)
    assert np.all((y > 0.02) & (y < 0.98)), f"{form}: the truth leaves (0, 1) on the grid"
    return StudyPoints(np.array([f"m{v:g}" for v in n]), n, d, c_pre, c_rl, y, step)


def test_the_schema_enum_lists_the_registered_forms_in_order():
    """config.schema.yaml's fit.forms enum and default are the registry's names and default forms, same order."""
    forms = yaml.safe_load(SCHEMA.read_text())["properties"]["fit"]["properties"]["forms"]
    assert forms["items"]["enum"] == list(R.FORMS)
    assert forms["default"] == list(R.DEFAULT_FORMS) == list(FitConfig().forms)


def test_every_family_declares_its_forms_once():
    seen = [law.name for family in R.FAMILIES for law in family.LAWS]
    assert seen == list(R.FORMS) and len(set(seen)) == len(seen)
    assert list(TRUTH) == seen  # every registered form has its recovery case below
    for family in R.FAMILIES:
        assert all(law.family == family.__name__.rsplit(".", 1)[-1] for law in family.LAWS)
        assert all(R.get_form(law.name) is law for law in family.LAWS)


def test_an_unknown_form_is_refused_with_the_known_ones():
    with pytest.raises(FitError, match=r"unknown joint-law form 'no_such_law'; known: \['additive', 'interaction'"):
        R.get_form("no_such_law")
    with pytest.raises(FitError, match=r"config fit.forms: unknown or empty \['nope'\]; known: \['additive'"):
        FitConfig.from_mapping({"forms": ["additive", "nope"]})


def test_a_name_registered_twice_is_refused_naming_both_families():
    with pytest.raises(FitError, match=r"'additive' registered twice: joint, joint"):
        R.register(J, J)


def test_a_declaration_is_checked_when_made():
    law = R.get_form("additive")
    fns = (law.fit_fn, law.predict_fn)
    with pytest.raises(FitError, match=r"'x' \(joint\): variables must be one of"):
        JointForm("x", "tokens", "acc = 1", ("a",), "joint", *fns)
    with pytest.raises(FitError, match=r"fixed parameters \['N_ref'\] not among \['a'\]"):
        JointForm("x", "compute", "acc = 1", ("a",), "joint", *fns, fixed_params=("N_ref",))
    with pytest.raises(FitError, match="compute-optimal .* exactly the size/tokens laws"):
        JointForm("x", "compute", "acc = 1", ("a",), "joint", *fns, lambda *a: None)
    with pytest.raises(FitError, match="compute-optimal .* exactly the size/tokens laws"):
        JointForm("x", "size_tokens", "acc = 1", ("a",), "size_tokens", *fns)
    with pytest.raises(FitError, match="a compute-only law sees only C_pretrain"):
        law.optimal_size(TRUTH["additive"], 1e12)


@pytest.mark.parametrize("form", list(TRUTH))
def test_every_registered_form_fits_data_drawn_from_its_own_prediction(form):
    """Noise-free points from the form's predict at known parameters: the fit recovers them (0.1 % relative),
    predicts the points back to 0.1 pp, and its entry carries the declared formula, parameter names and variables."""
    law, pts = R.get_form(form), _points(form)
    fit = law.fit(pts, **KW)
    assert fit["form"] == form and fit["formula"] == law.formula
    assert fit["param_names"] == list(law.param_names) == list(TRUTH[form])
    assert fit["variables"] == list(VARIABLES[law.variables])
    assert {k: fit[k] for k in law.param_names} == pytest.approx(TRUTH[form], rel=1e-3)
    back = law.predict_points({k: fit[k] for k in law.param_names}, pts)
    assert np.sqrt(np.mean((back - pts.y) ** 2)) < 1e-3 and fit["rmse"] < 1e-3
    assert law.n_fitted == len(law.param_names) - len(law.fixed_params)
