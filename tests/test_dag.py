"""Dry runs of the shipped configs: the DAG has exactly the jobs the config implies (no model is run)."""

import subprocess
import sys
import time

import pytest

from rlscaling import config as rc

from test_workflow import ROOT, dry_run_jobs

CONFIGS = {"embedded": ROOT / "config.yaml", "qwen3": ROOT / "configs" / "qwen3.yaml"}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_dry_run_job_count_matches_config(name, tmp_path):
    cfg = rc.load_config(CONFIGS[name])
    assert dry_run_jobs(tmp_path, config=CONFIGS[name]) == rc.expected_job_counts(cfg)


def test_production_dry_run_with_slurm_profile(tmp_path):
    """`snakemake -n --profile profiles/slurm` on the Qwen3 study: every job listed, quickly (< 5 s)."""
    cfg = rc.load_config(CONFIGS["qwen3"])
    t0 = time.time()
    jobs = dry_run_jobs(tmp_path, "--profile", str(ROOT / "profiles" / "slurm"), config=CONFIGS["qwen3"])
    elapsed = time.time() - t0
    assert jobs == rc.expected_job_counts(cfg)
    # 5 sizes x (base + every checkpoint) x GSM8K shots, MATH, MMLU; computed from the config above
    assert jobs["grpo"] == 5 and jobs["evaluate"] == len(rc.eval_jobs(cfg))
    print(f"production dry run: {sum(jobs.values())} jobs in {elapsed:.2f} s")


def test_schema_error_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "tests" / "configs" / "micro.yaml").read_text().replace("kl_coef:", "kl_coeff:"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
                           "--configfile", str(bad), "-c1"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "kl_coeff" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()
