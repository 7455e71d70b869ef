"""Dry runs of the shipped configs: the DAG has exactly the jobs the config implies (no model is run); the SLURM
profile's defaults; environments per backend rule; Snakemake's lint."""

import re
import subprocess
import sys
import time

import pytest

from rlscaling import study as rs
from rlscaling.workflow import config as rc
from rlscaling.workflow import plan as rp

from test_workflow import ROOT, dry_run_jobs

CONFIGS = {
    "embedded": ROOT / "config.yaml",
    "qwen3": ROOT / "configs" / "qwen3.yaml",
    "evolm": ROOT / "configs" / "evolm.yaml",
    "olmo2": ROOT / "configs" / "olmo2.yaml",
}
PROFILE = ROOT / "profiles" / "slurm"
BACKEND_RULES = ("grpo", "evaluate_endpoint", "evaluate_intermediate", "val_loss")


def snakemake_cmd(workdir, *args):
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), *args]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_dry_run_job_count_matches_config(name, tmp_path):
    cfg = rc.load_config(CONFIGS[name])
    assert dry_run_jobs(tmp_path, config=CONFIGS[name]) == rp.expected_job_counts(cfg)


@pytest.mark.parametrize("name", ["qwen3", "evolm", "olmo2"])
def test_production_dry_run_with_slurm_profile(name, tmp_path):
    """`snakemake -n --profile profiles/slurm --configfile <study>`: every job listed, quickly (< 5 s for Qwen3)."""
    cfg = rc.load_config(CONFIGS[name])
    t0 = time.time()
    jobs = dry_run_jobs(tmp_path, "--profile", str(PROFILE), config=CONFIGS[name])
    elapsed = time.time() - t0
    assert jobs == rp.expected_job_counts(cfg)
    n_cells = sum(len(rs.budgets(cfg, m)) for m in cfg["models"])
    assert jobs["grpo"] == n_cells and jobs["evaluate_endpoint"] == 2 * n_cells
    print(f"{name} dry run under the slurm profile: {sum(jobs.values())} jobs in {elapsed:.2f} s")


def test_the_slurm_profile_alone_plans_the_qwen3_study(tmp_path):
    """The design card's command: `snakemake --profile profiles/slurm` with no other flag is the Qwen3 study; GPU
    jobs ask for one node; a --configfile on the command line replaces the profile's."""
    env = {**__import__("os").environ, "RLSCALING_SLURM_ACCOUNT": ""}
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--profile", str(PROFILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "results/grpo/qwen3-14b/seed_1/36T/seed_custom_flexible" in text and "tiny-s" not in text
    grpo_blocks = [b for b in text.split("\n\n") if "rule grpo:" in b]
    assert len(grpo_blocks) == 5 and all(re.search(r"\bnodes=1\b", b) for b in grpo_blocks)
    assert all(re.search(r"\bgpu=(1|2|4|8)\b", b) for b in grpo_blocks)
    other = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--profile", str(PROFILE), "--configfile", str(CONFIGS["evolm"])],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0 and "evolm-1b" in other.stdout + other.stderr
    assert "qwen3-14b" not in other.stdout + other.stderr


def test_every_rule_has_an_environment_and_lint_is_clean(tmp_path):
    out = subprocess.run(
        snakemake_cmd(tmp_path, "--configfile", str(CONFIGS["qwen3"]), "--lint"), capture_output=True, text=True
    )
    text = out.stdout + out.stderr
    assert "Specify a conda environment" not in text, text[-3000:]


def _load_workflow(config, conda: bool, workdir):
    """The parsed workflow (Snakemake's API; nothing runs, no conda needed): its rules and the job interpreters."""
    from pathlib import Path

    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DeploymentMethod,
        DeploymentSettings,
        OutputSettings,
        ResourceSettings,
    )

    methods = {DeploymentMethod.CONDA} if conda else set()
    with SnakemakeApi(OutputSettings(quiet=set())) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[config]),
            deployment_settings=DeploymentSettings(deployment_method=methods),
            snakefile=ROOT / "Snakefile",
            workdir=Path(workdir),
        )
        rules = {r.name: r.conda_env for r in wf._workflow.rules}
    return rules


@pytest.mark.parametrize(
    "name,want",
    [
        (
            "qwen3",
            {
                "grpo": "envs/verl.yaml",
                "evaluate_endpoint": "envs/vllm.yaml",
                "evaluate_intermediate": "envs/vllm.yaml",
                "val_loss": "envs/cpu.yaml",
                "aggregate": "envs/cpu.yaml",
            },
        ),
        ("embedded", {"grpo": "envs/cpu.yaml", "evaluate_endpoint": "envs/cpu.yaml", "pretrain": "envs/cpu.yaml"}),
    ],
)
def test_every_rule_runs_in_its_backends_conda_environment(name, want, tmp_path, monkeypatch):
    """With --software-deployment-method conda each rule's `conda:` is its backend's envs/*.yaml (chosen from the
    config) and its job runs that environment's `python`; without conda, environments.<backend>.python or
    RLSCALING_<BACKEND>_PYTHON names the interpreter. (conda itself cannot run here: no conda channel.)"""
    import os

    for var in (
        "RLSCALING_JOB_PYTHON_GRPO",
        "RLSCALING_JOB_PYTHON_EVALUATE",
        "RLSCALING_VERL_PYTHON",
        "RLSCALING_VLLM_PYTHON",
    ):
        monkeypatch.delenv(var, raising=False)
    rules = _load_workflow(CONFIGS[name], conda=True, workdir=tmp_path)
    assert all(env is not None for rule, env in rules.items() if rule != "all")
    for rule, env in want.items():
        assert rules[rule] == str(ROOT / env) and (ROOT / env).is_file()
    assert os.environ["RLSCALING_JOB_PYTHON_GRPO"] == "python"
    if name == "qwen3":
        monkeypatch.setenv("RLSCALING_VERL_PYTHON", "/opt/verl-env/bin/python")
        _load_workflow(CONFIGS[name], conda=False, workdir=tmp_path)
        assert os.environ["RLSCALING_JOB_PYTHON_GRPO"] == "/opt/verl-env/bin/python"
        assert os.environ["RLSCALING_JOB_PYTHON_EVALUATE"] == sys.executable  # unset: this interpreter


@pytest.mark.parametrize(
    "old,new,message",
    [
        ("kl_coef:", "kl_coeff:", "kl_coeff"),
        ("lr: 1.0e-4", "lr: .nan", "grpo.lr: nan is not a finite number"),
        ("vocab_size: 64", "vocab_size: 32", "config error, nothing was run: tokenizer.vocab_size=32 is too small"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, old, new, message):
    bad = tmp_path / "bad.yaml"
    text = (ROOT / "tests" / "configs" / "micro.yaml").read_text()
    assert old in text
    bad.write_text(text.replace(old, new))
    proc = subprocess.run(snakemake_cmd(tmp_path, "--configfile", str(bad), "-c1"), capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_slurm_profile_puts_every_backend_rule_on_the_gpu_partition(tmp_path):
    import yaml

    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    cfg = rc.load_config(CONFIGS["qwen3"])
    rules = set(rp.expected_job_counts(cfg)) | {"train_tokenizer", "report"}
    assert set(profile["set-resources"]) <= rules, set(profile["set-resources"]) - rules
    for rule in BACKEND_RULES:
        assert "RLSCALING_GPU_PARTITION" in profile["set-resources"][rule]["slurm_partition"], rule
