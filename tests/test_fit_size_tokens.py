"""Tests of the joint laws that separate model size from tokens, err = f(N, D, C_rl), and the LOSO/LOBO choice."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np
import pytest

from rlscaling import fit as F
from rlscaling.fit import huber, size_tokens

from fit_synthetic import inside_interval, synthetic_study

# A grid on which both the size and the token term are identifiable: N over 3 decades, D over 2.
GRID = {
    "n_params": (1e5, 1e6, 1e7, 1e8),
    "pretrain_tokens": (1e5, 1e6, 1e7),
    "rl_steps": (0, 2, 5, 10, 20, 40),
    "rl_tokens_per_step": 2e3,
}
LAWS = {
    "size_tokens_ceiling": {
        "E": 0.05,
        "A": 8.0,
        "alpha": 0.3,
        "B": 6.0,
        "beta": 0.3,
        "F": 0.6,
        "C_mid": 1e13,
        "k": 0.8,
    },
    "size_tokens_additive": {
        "E": 0.05,
        "A": 6.0,
        "alpha": 0.3,
        "B": 5.0,
        "beta": 0.3,
        "G": 300.0,
        "gamma": 0.3,
        "C0": 1e10,
    },
}


def _study(form: str, n_items: int = 2000, seed: int = 0, **grid):
    return synthetic_study(LAWS[form], form=form, **{**GRID, **grid}, n_items=n_items, seed=seed)


@pytest.mark.parametrize("form", sorted(LAWS))
def test_objective_gradient_is_exact(form):
    from scipy.optimize import check_grad

    summary, _ = _study(form, n_items=100)
    n, d, c = (summary[k].to_numpy(float) for k in ("n_params", "pretrain_tokens", "c_rl"))
    sc = size_tokens._Scales.of(n, d, c)
    X = sc.features(n, d, c)
    logy = np.log(np.clip(1 - summary["accuracy"].to_numpy(), 1e-3, None))
    w = np.random.default_rng(0).integers(0, 3, len(logy)).astype(float)
    theta = np.array([-2.0, -1.0, 0.3, -1.2, 0.4, 0.5, 0.2, -0.1])
    loss = lambda t: huber.huber_loss_grad(t, size_tokens.MODELS[form], X, logy, w, 0.05)
    assert check_grad(lambda t: loss(t)[0], lambda t: loss(t)[1], theta) < 1e-6
    batch = huber.batch_loss(np.stack([theta, theta]), size_tokens.MODELS[form], X, logy, 0.05)
    assert batch[0] == pytest.approx(
        huber.huber_loss_grad(theta, size_tokens.MODELS[form], X, logy, np.ones_like(logy), 0.05)[0]
    )


@pytest.mark.parametrize("form", sorted(LAWS))
def test_parameters_are_recovered_inside_item_bootstrap_cis(form):
    summary, records = _study(form, seed=0)
    cfg = F.FitConfig()
    rows = F.select_rows(summary, cfg)
    draws = F.item_bootstrap_accuracies(rows, records, cfg, 60, seed=0)
    fit = F.fit_size_tokens_law(
        rows["n_params"],
        rows["pretrain_tokens"],
        rows["c_rl"],
        rows["accuracy"],
        form,
        resampling=F.Resampling(acc_draws=draws),
    )
    table = fit.as_dict()["params"]
    for name, truth in LAWS[form].items():
        entry = table[name]
        assert entry["interval"] != "unbounded" and inside_interval(entry, truth), (name, entry, truth)
    assert fit.rmse < 0.015  # ~ binomial noise of 2,000 items
    assert fit.draws.shape == (60, 8) and np.isfinite(fit.draws).mean() > 0.9


def test_cross_validation_prefers_the_generating_ceiling_form():
    summary, _ = _study("size_tokens_ceiling", seed=0)
    joint = F.fit_summary(summary, None, {"bootstrap": 0})["joint_law"]
    assert joint["choice"]["schemes"] == ["loso", "lobo"]
    scores = joint["choice"]["scores"]
    assert joint["chosen"] == "size_tokens_ceiling" == min(scores, key=scores.get)
    assert joint["allocation_form"] == "size_tokens_ceiling" and joint["allocation_note"] is None
    assert set(joint["forms"]["size_tokens_ceiling"]["cv"]["lobo"]["per_group"]) == {"1e+05", "1e+06", "1e+07"}


def test_one_budget_or_one_size_is_a_clear_error():
    summary, _ = _study("size_tokens_ceiling", n_items=50, pretrain_tokens=(1e6,))
    args = (summary["n_params"], summary["pretrain_tokens"], summary["c_rl"], summary["accuracy"])
    with pytest.raises(F.FitError, match="need >= 2 distinct pre-training token counts D"):
        F.fit_size_tokens_law(*args)
    summary, _ = _study("size_tokens_ceiling", n_items=50, n_params=(1e6,))
    args = (summary["n_params"], summary["pretrain_tokens"], summary["c_rl"], summary["accuracy"])
    with pytest.raises(F.FitError, match="need >= 2 distinct model sizes N"):
        F.fit_size_tokens_law(*args, form="size_tokens_additive")


def test_embedded_grid_chooses_by_loso_when_lobo_cannot_run_and_allocates_n_and_d(tmp_path):
    """3 sizes x 2 budgets (the embedded study's grid): holding out a budget leaves one D, so size/tokens forms
    cannot run LOBO; the choice falls back to LOSO, says so, and the allocation still gives N, D with CIs."""
    law = LAWS["size_tokens_ceiling"]
    summary, records = synthetic_study(
        law,
        form="size_tokens_ceiling",
        n_params=(1e5, 3e5, 1e6),
        pretrain_tokens=(2e5, 6e5),
        rl_steps=(0, 10, 20, 40),
        rl_tokens_per_step=2e4,
        n_items=200,
        seed=4,
    )
    summary.to_csv(tmp_path / "summary.csv", index=False)
    records.to_parquet(tmp_path / "records.parquet")
    paths = F.write_fits(
        tmp_path / "summary.csv", tmp_path / "records.parquet", {"bootstrap": 30, "seed": 1}, tmp_path / "fits"
    )
    assert [p.name for p in paths] == list(F.FIT_OUTPUTS)
    from rlscaling.io import read_json

    fits = read_json(paths[0])
    joint = fits["joint_law"]
    assert joint["choice"]["schemes"] == ["loso"]
    lobo = joint["forms"]["size_tokens_ceiling"]["cv"]["lobo"]
    assert lobo["status"] == "failed" and "need >= 2 distinct pre-training token counts D" in lobo["reason"]
    assert fits["allocation"]["status"] == "ok" and F.FORMS[fits["allocation"]["form"]].separates_size
    import pandas as pd

    table = pd.read_csv(paths[1])
    assert len(table) == 9 and (table["n_ci_low"] <= table["n_params"]).all()
    assert (table["n_params"] <= table["n_ci_high"]).all() and table["pretrain_tokens"].gt(0).all()
    np.testing.assert_allclose(6 * table["n_params"] * table["pretrain_tokens"], table["c_pretrain"], rtol=1e-9)
