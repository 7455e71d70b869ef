"""GRPO sweeps as a DAG dimension (``grpo.sweeps``, docs/sweeps-design.md): validation, the variants' runs, paths,
seeds and job settings, and what a dry run plans when a sweep gains or loses a value."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rlscaling import study as rs
from rlscaling.workflow import config as rc
from rlscaling.workflow import job_settings as rj
from rlscaling.workflow import plan as rp

ROOT = Path(__file__).resolve().parents[1]
MICRO = ROOT / "tests" / "configs" / "micro.yaml"
KL = {"key": "kl_coef", "values": [0.01, 0.1], "models": ["micro-a"]}
"""The micro config's KL sweep: two values besides its own 0.001, on the smaller model only."""
MATH_SET = {"source": "procedural:chain_sum?terms=2-2&digits=1-1&format=math", "n": 16, "seed": 5, "kind": "math"}
"""A second RL training set: procedural problems in MATH's format (``\\boxed{}`` answers, the math reward)."""
TRAIN = {"key": "train", "values": ["gsm8k+math"], "models": ["micro-b"]}
"""The micro config's training-set sweep: its GSM8K-format set (``data.rl_train``, named by its kind) joined with
:data:`MATH_SET`, on the one-seed model only (one more GRPO run)."""


def variant_evals(cfg: dict) -> list[str]:
    """The evaluation summaries of every sweep variant's checkpoints (aggregate inputs beside the reference's)."""
    evals = [rs.path(cfg, "eval_summary", **vars(j)) for j in rp.eval_jobs(cfg) if j.variant != rs.REFERENCE]
    return evals + [rs.path(cfg, "passk_summary", **vars(j)) for j in rp.passk_jobs(cfg) if j.variant != rs.REFERENCE]


def micro(*sweeps: dict) -> dict:
    """The micro config with ``data.rl_train_sets: {math: MATH_SET}`` (prepared only when a sweep uses it) and
    ``grpo.sweeps``, validated."""
    cfg = rc.load_config(MICRO, validate=False)
    cfg["data"]["rl_train_sets"] = {"math": copy.deepcopy(MATH_SET)}
    cfg["grpo"]["sweeps"] = copy.deepcopy(list(sweeps))
    return rc.validate_config(cfg)


# ---- validation


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"key": "kl_coeff", "values": [0.01]}, r"grpo.sweeps\[0\].key: 'kl_coeff' is not a GRPO setting"),
        ({"key": "reward_modes", "values": [["strict"]]}, r"grpo.sweeps\[0\].key: 'reward_modes'"),
        ({"key": "train", "values": ["maths"]}, r"grpo.sweeps\[0\].values\[0\]: 'maths' names no RL training set"),
        ({"key": "kl_coef", "values": [0.01, "big"]}, r"grpo.sweeps\[0\].values\[1\]: 'big' is not a valid"),
        ({"key": "kl_coef", "values": [-0.1]}, r"grpo.sweeps\[0\].values\[0\]: -0.1 is not a valid grpo.kl_coef"),
        ({"key": "steps", "values": [2.5]}, r"grpo.sweeps\[0\].values\[0\]: 2.5 is not a valid grpo.steps"),
        ({"key": "loss_type", "values": ["ppo"]}, r"grpo.sweeps\[0\].values\[0\]: 'ppo' is not a valid grpo.loss_type"),
        ({"key": "kl_coef", "values": [0.01, 0.01]}, r"grpo.sweeps\[0\].values: 0.01 appears twice"),
        ({"key": "kl_coef", "values": [0.01], "models": ["micro-z"]}, r"grpo.sweeps\[0\].models: \['micro-z'\]"),
        ({"key": "kl_coef", "values": [0.01], "budgets": ["b1"]}, r"grpo.sweeps\[0\].budgets: \['b1'\] are not RL"),
        ({"key": "steps", "values": [1]}, r"grpo.sweeps\[0\].values: steps=1 \(model 'micro-a'\)"),
        ({"key": "steps", "values": [17]}, r"grpo.sweeps\[0\].values: steps=17 .*needs 2 passes over 32 prompts"),
    ],
)
def test_a_bad_sweep_is_a_config_error_naming_its_field(sweep, message):
    with pytest.raises(rs.ConfigError, match=message):
        micro(sweep)


def test_the_second_sweep_is_named_by_its_index():
    with pytest.raises(rs.ConfigError, match=r"grpo.sweeps\[1\].key"):
        micro(KL, {"key": "nope", "values": [1]})


# ---- runs, paths, seeds, job settings


def test_a_kl_sweep_adds_one_run_per_value_on_its_model_only():
    plain, swept = micro(), micro(KL)
    added = [r for r in rs.rl_runs(swept) if r not in rs.rl_runs(plain)]
    assert [r for r in rs.rl_runs(swept) if r.variant == rs.REFERENCE] == rs.rl_runs(plain)
    primary = rs.reward_modes(swept)[0]
    assert added == [
        rs.RLRun("micro-a", seed, "b2", primary, variant)
        for seed in (1, 2)
        for variant in ("kl_coef=0.01/", "kl_coef=0.1/")
    ]


def test_a_value_equal_to_the_reference_is_the_reference_run():
    assert rs.rl_runs(micro({**KL, "values": [0.001, 0.01]})) == rs.rl_runs(micro({**KL, "values": [0.01]}))


def test_reference_paths_and_job_settings_do_not_change_with_a_sweep():
    plain, swept = micro(), micro(KL)
    for run in rs.rl_runs(plain):
        wc = run._asdict()
        assert rs.path(swept, "grpo", **wc) == rs.path(plain, "grpo", **wc)
        assert rj.job_settings_json(swept, "grpo", **wc) == rj.job_settings_json(plain, "grpo", **wc)
    assert rp.checkpoints(plain, "endpoint") == [c for c in rp.checkpoints(swept, "endpoint") if not c.variant]


def test_a_variant_has_a_readable_path_its_value_and_the_reference_runs_seed():
    cfg = micro(KL)
    run = dict(model="micro-a", seed=1, budget="b2", reward="custom_flexible")
    want = "results/grpo/micro-a/seed_1/b2/kl_coef=0.01/custom_flexible"
    assert rs.path(cfg, "grpo", **run, variant="kl_coef=0.01/") == want
    ref = rj.job_config(cfg, "grpo", **run, variant="")
    var = rj.job_config(cfg, "grpo", **run, variant="kl_coef=0.01/")
    assert (ref["grpo"]["kl_coef"], var["grpo"]["kl_coef"]) == (0.001, 0.01)
    assert var["seed"] == ref["seed"] and var["prompt_seed"] == ref["prompt_seed"]  # paired
    assert {**var["grpo"], "kl_coef": 0.001} == ref["grpo"]  # only the swept key differs
    ckpt = rp.Checkpoint("micro-a", 1, "b2", "custom_flexible", 2, "kl_coef=0.01/")
    assert rp.checkpoint_id(*ckpt) == "micro-a/seed_1/b2/kl_coef=0.01/custom_flexible/step_2"
    assert rp.parse_checkpoint_id(rp.checkpoint_id(*ckpt)) == ckpt
    assert rp.parse_checkpoint_id("micro-a/seed_1/b2/strict/step_2").variant == rs.REFERENCE
    with pytest.raises(rs.ConfigError, match="no sweep value makes the variant 'kl_coef=0.5'"):
        rj.job_config(cfg, "grpo", **run, variant="kl_coef=0.5/")


def test_a_steps_variant_has_its_own_checkpoints():
    cfg = micro({"key": "steps", "values": [3], "models": ["micro-b"]})
    steps = {c.step for c in rp.checkpoints(cfg, "endpoint") if c.variant == "steps=3/"}
    assert steps == {3} and rp.checkpoint_steps(cfg, "micro-b", "steps=3/") == [1, 2, 3]


def test_job_counts_count_the_variants_and_their_evaluations():
    plain, swept = rp.expected_job_counts(micro()), rp.expected_job_counts(micro(KL))
    # 2 values x 2 seeds of micro-a: a GRPO run, its final checkpoint (endpoint) and its other one (intermediate)
    assert {k: swept[k] - plain.get(k, 0) for k in swept if swept[k] != plain.get(k)} == {
        "grpo": 4,
        "evaluate_endpoint": 4,
        "evaluate_intermediate": 4,
        "variant_comparisons": 1,
    }
    assert len(variant_evals(micro(KL))) == 4 * 2 + 4 * 1 + 4  # endpoint: 0/1 shot + pass@k; intermediate: 0 shot


# ---- the DAG (Snakemake dry runs)


def snakemake(workdir: Path, cfg: dict, *args: str) -> str:
    """``snakemake <args>`` on this repository's Snakefile with ``cfg`` (written next to ``workdir``)."""
    config = workdir.parent / f"{workdir.name}.yaml"
    config.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    out = subprocess.run([*cmd, "--configfile", str(config), *args], capture_output=True, text=True, check=True)
    return out.stdout + out.stderr


def planned(workdir: Path, cfg: dict) -> dict[str, int]:
    """Job counts per rule of a dry run (its 'Job stats' table; ``{}`` when there is nothing to do)."""
    import re

    text = snakemake(workdir, cfg, "-n", "--quiet", "rules")
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", text, flags=re.M) if m[1] != "total"}


DIRECTORY_RULES = {"pretrain_trunk", "pretrain", "grpo", "train_tokenizer", "plots"}
"""Rules whose output is a directory."""


def mark_done(workdir: Path, cfg: dict) -> None:
    """Every output of the DAG made to exist (empty), then ``--touch``ed in DAG order: a finished study to plan on."""
    rows = [line.split("\t") for line in snakemake(workdir, cfg, "--detailed-summary").splitlines()]
    outputs = [(row[0], row[2]) for row in rows if len(row) > 2 and row[0] != "output_file"]
    assert outputs, "snakemake --detailed-summary listed no outputs"
    for out, rule in outputs:
        target = workdir / out
        if rule in DIRECTORY_RULES:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    snakemake(workdir, cfg, "--touch", "--cores", "1", "--quiet", "all")
    assert planned(workdir, cfg) == {}


def test_dry_run_lists_every_variant_job(tmp_path):
    cfg = micro(KL)
    assert planned(tmp_path / "wd", cfg) == rp.expected_job_counts(cfg)


REPORT = {"aggregate": 1, "fit": 1, "plots": 1, "report_tables": 1, "variant_comparisons": 1, "all": 1}
"""What a changed set of variant evaluations reruns after the evaluations: the aggregate and every table after it."""


def test_adding_a_value_plans_only_its_runs_and_removing_one_touches_nothing(tmp_path):
    workdir = tmp_path / "wd"
    mark_done(workdir, micro(KL))
    before = {p: p.stat().st_mtime_ns for p in (workdir / "results").rglob("*")}

    more = micro({**KL, "values": [0.01, 0.1, 0.0001]})
    # the new runs, their evaluations, and the aggregate (every evaluation is its input) with the tables after it
    assert planned(workdir, more) == {"grpo": 2, "evaluate_endpoint": 2, "evaluate_intermediate": 2, **REPORT}
    new = set(variant_evals(more)) - set(variant_evals(micro(KL)))
    assert new and all("/kl_coef=0.0001/" in p for p in new)

    fewer = micro({**KL, "values": [0.01]})
    assert planned(workdir, fewer) == REPORT  # no run or evaluation: the aggregate lost an input
    assert set(variant_evals(fewer)) < set(variant_evals(micro(KL)))
    assert all((workdir / p).exists() for p in variant_evals(fewer))
    assert {p: p.stat().st_mtime_ns for p in (workdir / "results").rglob("*")} == before  # dry runs changed nothing


@pytest.mark.slow
def test_a_kl_and_a_train_sweep_run_end_to_end_paired_with_their_reference_runs(tmp_path, micro_study):
    """The micro study with the KL sweep and the training-set sweep, run: each KL variant trains with its value and
    the reference run's seed; the train variant (GSM8K + procedural MATH-format rows) trains with the reference
    settings and seed on both sets' rows, each family with its reward; every variant's checkpoints are evaluated and
    reported: summary.csv's variant column, the paired comparison table, the Sweeps section, the sweep figure."""
    cfg, workdir = micro(KL, TRAIN), tmp_path / "wd"
    shutil.copytree(micro_study, workdir, symlinks=True)  # the finished plain study (mtimes kept): the sweeps on top
    assert planned(workdir, micro()) == {}  # the copy is a finished study
    added = planned(workdir, cfg)
    assert {k: added[k] for k in ("grpo", "prepare_data")} == {"grpo": 5, "prepare_data": 1} and "pretrain" not in added
    snakemake(workdir, cfg, "--cores", "2", "--quiet", "rules")
    for run in (r for r in rs.rl_runs(cfg) if r.variant != rs.REFERENCE):
        variant = json.loads((workdir / rs.path(cfg, "grpo", **run._asdict()) / "run.json").read_text())
        reference = json.loads(
            (workdir / rs.path(cfg, "grpo", **run._replace(variant="")._asdict()) / "run.json").read_text()
        )
        settings, chosen = variant["settings"], rs.variant_setting(cfg, run.variant)
        if chosen.key == "train":
            assert settings == reference["settings"]  # the seed included: paired; only the data differ
            assert variant["n_train_rows"] == reference["n_train_rows"] + MATH_SET["n"]
            assert variant["rewards"] == {"gsm8k": "custom_flexible", "math": "math_verify"}
            assert reference["rewards"] == {"gsm8k": "custom_flexible"}
            continue
        assert {k for k in settings if settings[k] != reference["settings"][k]} == {"kl_coef"}  # paired
        assert settings["kl_coef"] == chosen.value
    assert {r.variant for r in rs.rl_runs(cfg)} == {"", "kl_coef=0.01/", "kl_coef=0.1/", "train=gsm8k+math/"}
    assert (workdir / rs.path(cfg, "dataset", dataset="rl_train_math")).is_file()
    assert all((workdir / p).is_file() for p in variant_evals(cfg))
    import pandas as pd

    summary = pd.read_csv(workdir / rs.path(cfg, "summary"))
    labels = {"reference", "kl_coef=0.01", "kl_coef=0.1", "train=gsm8k+math"}
    assert set(summary["variant"]) == labels
    assert set(summary.loc[summary["rl_step"] == 0, "variant"]) == {"reference"}  # base models: the reference's
    assert set(pd.read_parquet(workdir / rs.path(cfg, "records"))["variant"]) == set(summary["variant"])
    comparisons = pd.read_csv(workdir / rs.path(cfg, "variant_comparisons"), dtype={"seed": str})
    assert set(comparisons["variant"]) == labels - {"reference"}
    assert set(comparisons.loc[comparisons["variant"].str.startswith("kl_coef"), "model"]) == {"micro-a"}
    assert set(comparisons.loc[comparisons["variant"].str.startswith("train"), "model"]) == {"micro-b"}
    assert {"1", "2", "mean"} <= set(comparisons["seed"]) and comparisons["final_step"].any()
    assert "## Sweeps" in (workdir / rs.path(cfg, "summary_md")).read_text()
    assert (workdir / rs.path(cfg, "figures") / "variants_gsm8k.png").is_file()
    # the same study without the sweeps runs no GRPO run or evaluation again: only the aggregate (it lost the
    # variants' evaluations) and the tables and figures after it
    assert planned(workdir, micro()) == {k: v for k, v in REPORT.items() if k != "variant_comparisons"}
