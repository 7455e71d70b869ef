"""End-to-end tests of the ``rlscaling`` CLI (fit -> fits.json -> allocate) and its registry."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rlscaling import cli  # noqa: E402
from rlscaling.fit import synthetic_study  # noqa: E402

SEED_TABLE = Path(__file__).resolve().parent / "fixtures" / "seed_table.csv"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A synthetic summary.csv + records.parquet: 3 sizes x 2 budgets x (base + 6 checkpoints)."""
    root = tmp_path_factory.mktemp("study")
    sizes, tokens, steps, tps = (1e5, 3e5, 1e6), (2e5, 6e5), (0, 2, 4, 7, 10, 15, 20), 2e4
    g_pre = np.exp(np.mean([np.log(6 * n * d) for n in sizes for d in tokens]))
    g_rl = np.exp(np.mean([np.log(6 * n * tps * s) for n in sizes for s in steps if s]))
    law = {"E": 0.1, "A": 0.15 * g_pre**0.25, "alpha": 0.25, "B": 0.4 * (g_rl / 10) ** 0.48, "beta": 0.48,
           "C0": g_rl / 10}
    summary, records = synthetic_study(law, n_params=sizes, pretrain_tokens=tokens, rl_steps=steps,
                                       rl_tokens_per_step=tps, n_items=300, seed=5)
    summary.to_csv(root / "summary.csv", index=False)
    records.to_parquet(root / "records.parquet")
    return root


@pytest.fixture(scope="module")
def fitted(study):
    out = study / "fits"
    rc = cli.main(["fit", "--summary", str(study / "summary.csv"), "--records", str(study / "records.parquet"),
                   "--out", str(out), "--bootstrap", "40", "--seed-table", str(SEED_TABLE),
                   "--figures", str(study / "figures")])
    assert rc == 0
    return out


def test_fit_writes_strict_json_allocation_and_figures(fitted, study):
    fits = json.loads((fitted / "fits.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert fits["joint_law"]["chosen"] in ("additive", "interaction")
    assert fits["bootstrap"] == {"n": 40, "ci": 0.95, "seed": 0, "resampling": "items"}
    assert fits["seed_table"]["b"] < 0
    header = (fitted / "allocation.csv").read_text().splitlines()[0]
    assert header.startswith("budget_flops,f_pretrain,c_pretrain,c_rl,accuracy,f_ci_low,f_ci_high")
    assert (fitted / "iso_flop.csv").is_file()
    names = {p.name for p in (study / "figures").iterdir()}
    for stem in ("fit_gain_vs_size", "fit_gain_vs_size_seed", "fit_rl_curves", "fit_iso_flop",
                 "fit_extrapolation"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names


def test_allocate_prints_split_accuracy_and_ci(fitted, capsys):
    assert cli.main(["allocate", "--budget", "1e23", "--budget", "1e12", "--fits", str(fitted / "fits.json")]) == 0
    out = capsys.readouterr().out
    assert out.count("pre-training      f = ") == 2 and "95% CI" in out
    assert "accuracy" in out and "extrapolated: budget outside fitted total compute" in out


def test_missing_files_are_clear_errors(tmp_path, capsys):
    assert cli.main(["allocate", "--budget", "1e20", "--fits", str(tmp_path / "nope.json")]) == 2
    assert f"fits JSON not found: {tmp_path / 'nope.json'}" in capsys.readouterr().err
    assert cli.main(["fit", "--summary", str(tmp_path / "s.csv"), "--out", str(tmp_path)]) == 2
    assert "summary CSV not found" in capsys.readouterr().err


def test_fit_reports_a_bad_summary_by_column(tmp_path, study, capsys):
    import pandas as pd

    pd.read_csv(study / "summary.csv").drop(columns=["c_rl"]).to_csv(tmp_path / "bad.csv", index=False)
    assert cli.main(["fit", "--summary", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "missing column(s) ['c_rl']" in capsys.readouterr().err


def test_registry_accepts_new_subcommands(capsys):
    def args(p):
        p.add_argument("--n", type=int, default=1)

    @cli.register("echo-test", help="test only", arguments=args)
    def echo(ns):
        print(f"n={ns.n}")
        return 0

    try:
        assert cli.main(["echo-test", "--n", "3"]) == 0
        assert capsys.readouterr().out.strip() == "n=3"
        with pytest.raises(ValueError, match="registered twice"):
            cli.register("echo-test", help="again", arguments=args)(echo)
    finally:
        cli.SUBCOMMANDS.pop("echo-test")


def test_fit_on_a_flat_study_records_reasons_and_skips_allocation(tmp_path, study, capsys):
    import pandas as pd

    flat = pd.read_csv(study / "summary.csv").assign(accuracy=0.0, ci_low=0.0, ci_high=0.0)
    flat.to_csv(tmp_path / "flat.csv", index=False)
    rc = cli.main(["fit", "--summary", str(tmp_path / "flat.csv"), "--out", str(tmp_path / "o"),
                   "--bootstrap", "5", "--figures", str(tmp_path / "fig")])
    assert rc == 0
    fits = json.loads((tmp_path / "o" / "fits.json").read_text())
    assert fits["joint_law"]["chosen"] is None
    assert "all values are equal" in fits["joint_law"]["forms"]["additive"]["reason"]
    assert fits["extrapolation"]["status"] == "failed"
    assert not (tmp_path / "o" / "allocation.csv").exists()
    assert "allocation skipped" in capsys.readouterr().err
    assert (tmp_path / "fig" / "fit_rl_curves.png").is_file()
