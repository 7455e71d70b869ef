"""What the fits can identify, tested on data whose truth is known (issue 23).

* a study drawn from a known law: the law is identified against the no-law baseline, its parameters lie inside
  their intervals, and the plan is made;
* pure noise (binomial draws around levels independent of N, D and C_rl; 4 sizes x 3 budgets x 6 RL steps): no law,
  no plan (``rlscaling fit`` exits 0, ``rlscaling allocate`` exits 1), and ``summary.md`` says so first;
* a parameter driven to its bound is flagged, its interval one-sided (never zero-width);
* too few points for a form's parameters is refused with the count.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # tiny L-BFGS problems: threaded BLAS only slows
    os.environ.setdefault(_var, "1")

import json

import numpy as np
import pandas as pd
import pytest

from rlscaling import cli
from rlscaling import fit as F
from rlscaling.fit import identify
from rlscaling.fit.allocate import ALLOCATION_COLUMNS, ISO_FLOP_COLUMNS
from rlscaling.fit.laws import StudyPoints
from rlscaling.fit.transition import fit_transition_law

from fit_synthetic import inside_interval, synthetic_study

# one design for the known law and for the noise: 4 sizes x 3 budgets x 6 RL steps (72 points)
SIZES, TOKENS, STEPS, TPS = (1e5, 3e5, 1e6, 3e6), (2e5, 6e5, 1.8e6), (0, 4, 8, 12, 16, 20), 2e4


def _additive_law() -> dict[str, float]:
    """An additive law (error ~0.2-0.85 over the grid): E = 0.1, alpha = 0.25, beta = 0.48."""
    g_pre = np.exp(np.mean([np.log(6 * n * d) for n in SIZES for d in TOKENS]))
    g_rl = np.exp(np.mean([np.log(6 * n * TPS * s) for n in SIZES for s in STEPS if s]))
    return {"E": 0.1, "A": 0.15 * g_pre**0.25, "alpha": 0.25, "B": 0.4 * (g_rl / 10) ** 0.48, "beta": 0.48,
            "C0": g_rl / 10}  # fmt: skip


def noise_study(seed: int, n_items: int = 300) -> pd.DataFrame:
    """4 sizes x 3 budgets x 6 RL steps of binomial accuracies around levels drawn independently of N, D and C_rl."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in SIZES:
        for d in TOKENS:
            for step in STEPS:
                acc = rng.binomial(n_items, rng.uniform(0.25, 0.45)) / n_items
                rows.append(
                    {
                        "study": "noise",
                        "model": f"m{n:.0e}",
                        "n_params": n,
                        "pretrain_tokens": d,
                        "c_pretrain": 6 * n * d,
                        "rl_step": step,
                        "c_rl": 6 * n * TPS * step,
                        "benchmark": "gsm8k",
                        "subset": "all",
                        "shots": 0,
                        "scorer": "custom_flexible",
                        "n_items": n_items,
                        "accuracy": acc,
                        "ci_low": max(acc - 0.05, 0),
                        "ci_high": min(acc + 0.05, 1),
                    }  # fmt: skip
                )
    return pd.DataFrame(rows, columns=list(F.SUMMARY_COLUMNS))


# --------------------------------------------------------------------------------------------------
# a known law: identified, recovered, planned
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    law = _additive_law()
    summary, records = synthetic_study(
        law, n_params=SIZES, pretrain_tokens=TOKENS, rl_steps=STEPS, rl_tokens_per_step=TPS, n_items=1000, seed=0
    )
    root = tmp_path_factory.mktemp("known")
    summary.to_csv(root / "summary.csv", index=False)
    records.to_parquet(root / "records.parquet")
    paths = F.write_fits(root / "summary.csv", root / "records.parquet", {"bootstrap": 40, "seed": 0}, root / "fits")
    return law, json.loads(paths[0].read_text()), paths


def test_known_law_is_identified_against_the_baseline_and_recovered_inside_its_intervals(known):
    law, fits, _ = known
    joint = fits["joint_law"]
    assert joint["identified"] and joint["chosen"] == "additive" and joint["no_law_reason"] is None
    entry = joint["forms"]["additive"]
    ident = entry["identifiability"]
    assert ident["identified"] and ident["n_points"] == 72 and ident["n_params"] == 6
    for scheme, groups in (("loso", 4), ("lobo", 3)):
        cv = ident["cv"][scheme]
        assert cv["held_out"] == cv["n_groups"] == groups
        versus = cv["versus_baseline"]
        assert versus["supported"] and versus["ratio_upper"] < 0.95 and versus["law_rmse"] < versus["baseline_rmse"]
    for name, truth in law.items():
        p = entry["params"][name]
        assert p["interval"] == "two-sided" and inside_interval(p, truth), (name, p, truth)
    assert joint["within_noise"][0] == "additive" and set(joint["within_noise"]) <= set(F.FORMS)


def test_known_law_yields_a_plan_with_the_spread_across_forms_and_edge_flags(known):
    _, fits, paths = known
    assert fits["allocation"]["status"] == "ok"
    table = pd.read_csv(paths[1])
    assert list(table.columns) == ALLOCATION_COLUMNS and len(table) == 9
    alloc = fits["joint_law"]["allocation_form"]
    assert table["forms_within_noise"].str.startswith(alloc).all()
    others = set(fits["joint_law"]["within_noise"]) - {alloc}
    if others:  # the forms the data cannot tell apart each give an optimum: the plan reports their range
        assert (table["f_forms_low"] <= table["f_pretrain"]).all() and (
            table["f_pretrain"] <= table["f_forms_high"]
        ).all()
    assert table["at_edge"].dtype == bool
    assert all("optimum at the edge" in note for note in table.loc[table["at_edge"], "note"])


def test_held_out_figure_shows_every_held_out_group(known, tmp_path):
    from rlscaling.report.plots.heldout import plot_heldout

    _, fits, _ = known
    held = fits["joint_law"]["held_out"]
    assert held["form"] == "additive" and held["chosen"]
    assert sorted(held["schemes"]) == ["lobo", "loso"] and len(held["schemes"]["loso"]["points"]) == len(SIZES)
    group = next(iter(held["schemes"]["lobo"]["points"].values()))
    assert len(group["observed"]) == len(group["predicted"]) == len(group["baseline"]) == len(SIZES) * len(STEPS)
    paths = plot_heldout(fits, tmp_path / "fit_heldout")
    assert [p.name for p in paths] == ["fit_heldout.png", "fit_heldout.svg"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------------------------------
# pure noise: no law, no plan
# --------------------------------------------------------------------------------------------------


def test_pure_noise_gives_no_law_and_no_plan(tmp_path, capsys):
    noise_study(0).to_csv(tmp_path / "summary.csv", index=False)
    out = tmp_path / "fits"
    argv = ["fit", "--summary", str(tmp_path / "summary.csv"), "--out", str(out), "--bootstrap", "20"]
    assert cli.main([*argv, "--figures", str(tmp_path / "fig")]) == 0  # the fit ran: exit 0
    assert "no compute plan (no law identified" in capsys.readouterr().err
    fits = json.loads((out / "fits.json").read_text())
    joint = fits["joint_law"]
    assert joint["identified"] is False and joint["chosen"] is None and joint["allocation_form"] is None
    assert "better than the no-law baseline" in joint["no_law_reason"]
    fitted = {f: e for f, e in joint["forms"].items() if e["status"] == "ok"}
    assert fitted  # laws were fitted to the noise ...
    for entry in fitted.values():  # ... and none predicts held-out groups better than the baseline
        ident = entry["identifiability"]
        assert not ident["identified"] and ident["n_points"] == 72
        assert ident["cv"]["loso"]["held_out"] == 4 and ident["cv"]["lobo"]["held_out"] == 3
        assert any(not v["versus_baseline"]["supported"] for v in ident["cv"].values())
    assert fits["allocation"]["status"] == "no_law" and "no law identified" in fits["allocation"]["reason"]
    assert (out / "allocation.csv").read_text().strip() == ",".join(ALLOCATION_COLUMNS)  # header only
    assert (out / "iso_flop.csv").read_text().strip() == ",".join(ISO_FLOP_COLUMNS)
    assert (tmp_path / "fig" / "fit_heldout.png").is_file() and not (tmp_path / "fig" / "fit_iso_flop.png").exists()

    assert cli.main(["allocate", "--budget", "1e15", "--fits", str(out / "fits.json")]) == 1
    captured = capsys.readouterr()
    assert "no law identified" in captured.err and "No compute plan" in captured.err and captured.out == ""

    from rlscaling.report.summary import render_summary_md

    summary = noise_study(0)
    both = pd.concat([summary, summary.assign(scorer="strict")])  # the report's reward-mode table needs both scorers
    text = render_summary_md(both, fits)
    first = text.split("\n## ", 1)[0]  # before any section: the verdict comes first
    assert "**No scaling law identified: this study gives no compute plan.**" in first
    assert "## Joint law: what the data identify" in text


def test_noise_baseline_and_law_errors_are_close():
    """The numbers behind the verdict: on noise the laws' held-out RMSE is the baseline's within a few percent."""
    fits = F.fit_summary(noise_study(1), None, {"bootstrap": 0, "forms": ["additive", "size_tokens_additive"]})
    for entry in fits["joint_law"]["forms"].values():
        for v in entry["identifiability"]["cv"].values():
            versus = v["versus_baseline"]
            assert 0.9 < versus["ratio"] and versus["ratio_upper"] > 0.95, versus


# --------------------------------------------------------------------------------------------------
# parameters at a bound; too few points
# --------------------------------------------------------------------------------------------------


def test_parameter_driven_to_its_bound_is_flagged_with_a_one_sided_interval():
    """A step far sharper than the steepness bound (k <= 100), with budgets 1% either side of it: k is driven to its
    upper bound and reported with a lower limit only, never as a zero-width CI."""
    rng = np.random.default_rng(0)
    n_items = 1000
    truth = {"L": 0.05, "U": 0.4, "k": 1e4, "C_mid": 1.5e12, "G": 0.1, "C_half": 3e10}
    c_pre = np.repeat([1e11, 1e12, 0.99 * truth["C_mid"], 1.01 * truth["C_mid"], 3e12, 1e13], 5)
    c_rl = np.tile([0.0, 1e10, 3e10, 1e11, 3e11], 6)
    p = F.get_form("transition_additive").predict(truth, c_pre=c_pre, c_rl=c_rl)
    acc = rng.binomial(n_items, p) / n_items
    draws = rng.binomial(n_items, acc, size=(60, acc.size)) / n_items  # parametric stand-in for item resampling
    fit = fit_transition_law(c_pre, c_rl, acc, "transition_additive", resampling=F.Resampling(acc_draws=draws))
    assert fit["bounds"]["k"]["at"] == "upper" and fit["bounds"]["k"]["upper"] == pytest.approx(100.0)
    k = fit["params"]["k"]
    assert k["at_bound"] == "upper" and k["bound"] == pytest.approx(100.0)
    assert k["interval"] == "one-sided" and k["ci_high"] is None and k["ci_low"] <= k["estimate"]
    for name, entry in fit["params"].items():  # no parameter is reported with a zero-width interval
        assert entry["ci_low"] is None or entry["ci_high"] is None or entry["ci_low"] < entry["ci_high"], name


def test_interval_kinds():
    box = {"lower": 0.0, "upper": 5.0, "at": None}
    spread = np.linspace(0.2, 0.4, 101)
    assert identify.interval(0.3, spread, 0.95, box)["interval"] == "two-sided"
    zero = identify.interval(0.3, np.full(50, 0.3), 0.95, box)  # every refit equal: no zero-width CI
    assert zero["interval"] == "unbounded" and zero["ci_low"] is None and zero["ci_high"] is None
    reaches = identify.interval(0.3, np.r_[np.zeros(10), np.linspace(0.0, 0.4, 91)], 0.95, box)  # CI reaches 0
    assert reaches["interval"] == "one-sided" and reaches["ci_low"] is None and reaches["ci_high"] > 0.3
    at = {**box, "at": "lower"}
    one = identify.interval(0.0, np.r_[np.zeros(50), np.linspace(0, 0.2, 50)], 0.95, at)
    assert one["interval"] == "one-sided" and one["ci_low"] is None and 0 < one["ci_high"] <= 0.2
    assert one["at_bound"] == "lower" and one["bound"] == 0.0
    stuck = identify.interval(0.0, np.zeros(50), 0.95, at)  # every refit at the bound too: "<= 0", still one-sided
    assert stuck["interval"] == "one-sided" and stuck["ci_low"] is None and stuck["ci_high"] == 0.0
    both = identify.interval(2.0, np.r_[np.zeros(10), np.linspace(0.0, 5.0, 81), np.full(10, 5.0)], 0.95, box)
    assert both["interval"] == "unbounded" and both["ci_low"] is None and both["ci_high"] is None
    assert identify.interval(3e5, np.full(5, 3e5), 0.95, fixed=True)["interval"] == "fixed"


def test_bootstrap_refits_also_start_from_a_perturbed_point():
    bounds = [(0.0, 10.0), (-25.0, None), (0.0, 1.0), (-25.0, None)]
    theta = np.array([0.0, -3.0, 1.0, -25.0])  # at the lower bound, inside, at the upper bound, at a half-open bound
    starts = identify.refit_starts(theta, bounds, identify.start_rng(0))
    assert starts.shape == (2, 4)
    np.testing.assert_array_equal(starts[0], theta)  # the warm start ...
    moved = starts[1]  # ... and one with every coordinate at a bound moved into the box
    assert identify.INSET * 10 <= moved[0] <= identify.PERTURB * 10
    assert moved[1] == theta[1]
    assert 1 - identify.PERTURB <= moved[2] <= 1 - identify.INSET
    assert -25 + 0.5 * identify.HALF_OPEN_STEP <= moved[3] <= -25 + 1.5 * identify.HALF_OPEN_STEP
    inside = np.array([3.0, -3.0, 0.5, -2.0])  # nothing at a bound: the warm start alone
    np.testing.assert_array_equal(identify.refit_starts(inside, bounds, identify.start_rng(0)), inside[None])


def test_too_few_points_for_a_form_is_refused_with_the_count():
    summary, _ = synthetic_study(
        _additive_law(), n_params=(1e5, 1e6), pretrain_tokens=(2e5, 6e5), rl_steps=(0, 20), rl_tokens_per_step=TPS,
        n_items=400, seed=1,
    )  # fmt: skip
    joint = F.fit_summary(summary, None, {"bootstrap": 0})["joint_law"]
    entry = joint["forms"]["size_tokens_ceiling"]
    assert entry["status"] == "failed" and "8 point(s) for 8 parameters; need at least 9" in entry["reason"]
    ident = entry["identifiability"]
    assert ident["n_points"] == 8 and ident["n_params"] == 8 and not ident["identified"]
    assert "8 point(s) for 8 parameters" in ident["reason"]
    assert joint["identified"] is False and joint["chosen"] is None and joint["no_law_reason"]


def test_baseline_is_the_mean_of_the_training_points_at_the_same_rl_step():
    def pts(step, y):
        k = len(y)
        return StudyPoints(np.array(["m"] * k), np.ones(k), np.ones(k), np.ones(k), np.asarray(step, float),
                           np.asarray(y, float), np.asarray(step, float))  # fmt: skip

    train = pts([0, 0, 10, 10], [0.1, 0.3, 0.5, 0.7])
    test = pts([0, 10, 20], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(F.baseline_predict(train, test), [0.2, 0.6, 0.4])  # step 20: no match, overall mean
