"""End-to-end tests of the ``rlscaling`` CLI (fit -> fits.json -> allocate) and its registry."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json
from pathlib import Path

import numpy as np
import pytest

from rlscaling import cli

from fit_synthetic import synthetic_study

SEED_TABLE = Path(__file__).resolve().parent / "fixtures" / "seed_table.csv"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A synthetic summary.csv + records.parquet: 3 sizes x 2 budgets x (base + 6 checkpoints)."""
    root = tmp_path_factory.mktemp("study")
    sizes, tokens, steps, tps = (1e5, 3e5, 1e6), (2e5, 6e5), (0, 2, 4, 7, 10, 15, 20), 2e4
    g_pre = np.exp(np.mean([np.log(6 * n * d) for n in sizes for d in tokens]))
    g_rl = np.exp(np.mean([np.log(6 * n * tps * s) for n in sizes for s in steps if s]))
    law = {
        "E": 0.1,
        "A": 0.15 * g_pre**0.25,
        "alpha": 0.25,
        "B": 0.4 * (g_rl / 10) ** 0.48,
        "beta": 0.48,
        "C0": g_rl / 10,
    }
    summary, records = synthetic_study(
        law, n_params=sizes, pretrain_tokens=tokens, rl_steps=steps, rl_tokens_per_step=tps, n_items=300, seed=5
    )
    summary.to_csv(root / "summary.csv", index=False)
    records.to_parquet(root / "records.parquet")
    return root


@pytest.fixture(scope="module")
def fitted(study):
    out = study / "fits"
    rc = cli.main(
        [
            "fit",
            "--summary",
            str(study / "summary.csv"),
            "--records",
            str(study / "records.parquet"),
            "--out",
            str(out),
            "--bootstrap",
            "40",
            "--seed-table",
            str(SEED_TABLE),
            "--figures",
            str(study / "figures"),
        ]
    )
    assert rc == 0
    return out


def test_fit_writes_strict_json_allocation_and_figures(fitted, study):
    fits = json.loads((fitted / "fits.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    from rlscaling.fit import FORMS

    assert fits["joint_law"]["chosen"] in FORMS
    assert fits["allocation"]["status"] == "ok" and FORMS[fits["allocation"]["form"]].separates_size
    assert fits["bootstrap"] == {"n": 40, "ci": 0.95, "seed": 0, "resampling": "items"}
    assert fits["seed_table"]["b"] < 0
    header = (fitted / "allocation.csv").read_text().splitlines()[0]
    from rlscaling.fit.allocate import ALLOCATION_COLUMNS, ISO_FLOP_COLUMNS

    assert header.split(",") == ALLOCATION_COLUMNS
    assert (fitted / "iso_flop.csv").read_text().splitlines()[0].split(",") == ISO_FLOP_COLUMNS
    assert (fitted / "iso_flop.csv").is_file()
    names = {p.name for p in (study / "figures").iterdir()}
    for stem in ("fit_gain_vs_size", "fit_gain_vs_size_seed", "fit_rl_curves", "fit_iso_flop", "fit_extrapolation"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names


def test_allocate_prints_split_accuracy_and_ci(fitted, capsys):
    assert cli.main(["allocate", "--budget", "1e23", "--budget", "1e12", "--fits", str(fitted / "fits.json")]) == 0
    out = capsys.readouterr().out
    assert out.count("pre-training      f = ") == 2 and "95% CI" in out
    assert out.count("model size        N = ") == 2 and out.count("tokens            D = ") == 2
    assert "accuracy" in out and "extrapolated: budget 1e+23 outside fitted" in out


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


def test_fit_on_a_flat_study_writes_the_same_files_with_the_reason(tmp_path, study, capsys):
    import pandas as pd

    from rlscaling.fit.allocate import ALLOCATION_COLUMNS

    out = tmp_path / "o"
    out.mkdir()
    (out / "allocation.csv").write_text("stale\n")  # from an earlier run: must be replaced, not kept
    (out / "notes.txt").write_text("mine\n")  # not a fit output: must be left alone
    flat = pd.read_csv(study / "summary.csv").assign(accuracy=0.0, ci_low=0.0, ci_high=0.0)
    flat.to_csv(tmp_path / "flat.csv", index=False)
    rc = cli.main(
        [
            "fit",
            "--summary",
            str(tmp_path / "flat.csv"),
            "--out",
            str(out),
            "--bootstrap",
            "5",
            "--figures",
            str(tmp_path / "fig"),
        ]
    )
    assert rc == 0
    fits = json.loads((out / "fits.json").read_text())
    assert fits["joint_law"]["chosen"] is None
    assert "all values are equal" in fits["joint_law"]["forms"]["additive"]["reason"]
    assert fits["extrapolation"]["status"] == "failed"
    assert fits["joint_law"]["identified"] is False and "could be fitted" in fits["joint_law"]["no_law_reason"]
    assert fits["allocation"]["status"] == "no_law" and "no law identified" in fits["allocation"]["reason"]
    assert (out / "allocation.csv").read_text().strip() == ",".join(ALLOCATION_COLUMNS)  # header only
    assert (out / "iso_flop.csv").read_text().count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["allocation.csv", "fits.json", "iso_flop.csv", "notes.txt"]
    assert "no compute plan (no law identified" in capsys.readouterr().err
    assert (tmp_path / "fig" / "fit_rl_curves.png").is_file()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nan", "column 'accuracy' = nan is not a fraction in [0, 1]"),
        ("inf", "column 'accuracy' = inf is not a fraction in [0, 1]"),
        ("1.5", "column 'accuracy' = 1.5 is not a fraction in [0, 1]"),
        ("-0.1", "column 'accuracy' = -0.1 is not a fraction in [0, 1]"),
        ("abc", "column 'accuracy' = 'abc' is not a fraction in [0, 1]"),
    ],
)
def test_bad_accuracy_is_exit_2_naming_file_line_and_column(tmp_path, study, capsys, value, message):
    lines = (study / "summary.csv").read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("accuracy")
    for i in (4, 9):  # the first bad line (file line 5) is the one named
        cells = lines[i].split(",")
        cells[col] = value
        lines[i] = ",".join(cells)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o"
    out.mkdir()
    (out / "fits.json").write_text("{}")  # stale output of an earlier run
    assert cli.main(["fit", "--summary", str(bad), "--out", str(out), "--bootstrap", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"rlscaling fit: error: {bad}:5: {message}"
    assert not (out / "fits.json").exists()  # a failed fit leaves no output behind


def test_empty_and_header_only_summaries_are_one_line_errors(tmp_path, study, capsys):
    empty, header_only = tmp_path / "empty.csv", tmp_path / "header.csv"
    empty.write_text("")
    header_only.write_text((study / "summary.csv").read_text().splitlines()[0] + "\n")
    assert cli.main(["fit", "--summary", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert f"{empty}: empty file" in capsys.readouterr().err
    assert cli.main(["fit", "--summary", str(header_only), "--out", str(tmp_path / "o")]) == 2
    assert f"{header_only}: no data rows" in capsys.readouterr().err


def test_bad_record_score_names_the_parquet_row(tmp_path, study, capsys):
    import pandas as pd

    records = pd.read_parquet(study / "records.parquet")
    records.loc[7, "score"] = 2.0
    records.to_parquet(tmp_path / "rec.parquet")
    assert (
        cli.main(
            [
                "fit",
                "--summary",
                str(study / "summary.csv"),
                "--records",
                str(tmp_path / "rec.parquet"),
                "--out",
                str(tmp_path / "o"),
                "--bootstrap",
                "3",
            ]
        )
        == 2
    )
    assert f"{tmp_path / 'rec.parquet'} row 7: column 'score' = 2.0 is not a score in [0, 1]" in capsys.readouterr().err


def test_gpu_hours_command_is_registered():
    assert "gpu-hours" in cli.SUBCOMMANDS and "fit" in cli.SUBCOMMANDS and "allocate" in cli.SUBCOMMANDS
