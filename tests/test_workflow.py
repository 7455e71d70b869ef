"""The whole DAG through Snakemake on the micro config: content of every output, dry run, one-cell rerun,
interrupt + resume, and seeded reproducibility."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rlscaling import config as rc
from rlscaling.aggregate import SUMMARY_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
MICRO = ROOT / "tests" / "configs" / "micro.yaml"
pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str, config: Path = MICRO, check: bool = True, **kw):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(config), "--cores", "2", *args, "--quiet", "rules"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def dry_run_jobs(workdir: Path, *args: str, config: Path = MICRO) -> dict[str, int]:
    """Job counts per rule from ``snakemake -n`` (its 'Job stats' table)."""
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
         str(config), "-n", *args], capture_output=True, text=True, check=True)
    text = out.stdout + out.stderr
    counts = {}
    for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", text, flags=re.M):
        if m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def micro_cfg():
    return rc.load_config(MICRO)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The micro study run once, end to end."""
    wd = tmp_path_factory.mktemp("study")
    t0 = time.time()
    snakemake(wd)
    print(f"micro study: {time.time() - t0:.1f} s")
    return wd


def test_dry_run_lists_every_job(tmp_path, micro_cfg):
    assert dry_run_jobs(tmp_path) == rc.expected_job_counts(micro_cfg)


def test_outputs_have_the_right_content(study, micro_cfg):
    r = study / "results"
    summary = pd.read_csv(r / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(summary["study"]) == {"micro"}
    acc = summary[summary.scorer != "loss"]
    assert acc["accuracy"].between(0, 1).all()
    assert (acc["ci_low"] <= acc["accuracy"] + 1e-12).all() and (acc["accuracy"] <= acc["ci_high"] + 1e-12).all()
    # one row per greedy eval job x scorer, per pass@k job x (k + the maj@n row), per val-loss job
    g = micro_cfg["benchmarks"]["gsm8k"]
    n_greedy = len(rc.eval_jobs(micro_cfg)) * len(g["scorers"])
    n_passk = len(rc.passk_jobs(micro_cfg)) * (len(micro_cfg["evaluate"]["pass_at_k"]["k"]) + 1)
    assert (summary.scorer == f"maj@{micro_cfg['evaluate']['pass_at_k']['n']}").sum() == len(rc.passk_jobs(micro_cfg))
    assert len(summary) == n_greedy + n_passk + len(rc.val_loss_jobs(micro_cfg))
    assert (summary.loc[summary.benchmark == "gsm8k", "n_items"] == g["n"]).all()
    # compute axes: c_pretrain = 6 N D, c_rl = 0 at the base and strictly growing with the RL step
    assert list(summary["c_pretrain"]) == pytest.approx(list(6 * summary["n_params"] * summary["pretrain_tokens"]))
    for (_, _), cell in summary.groupby(["model", "pretrain_tokens"]):
        by_step = cell.groupby("rl_step")["c_rl"].first().sort_index()
        assert by_step.iloc[0] == 0.0 and by_step.is_monotonic_increasing and by_step.iloc[-1] > 0
    # the per-item records reproduce every greedy accuracy
    recs = pd.read_parquet(r / "records.parquet")
    greedy = summary[summary.scorer.isin(g["scorers"]) | summary.scorer.str.startswith("maj@")]
    re_acc = recs.groupby(["model", "pretrain_tokens", "rl_step", "benchmark", "subset", "shots", "scorer"])["score"].mean()
    for row in greedy.itertuples():
        key = (row.model, row.pretrain_tokens, row.rl_step, row.benchmark, row.subset, row.shots, row.scorer)
        assert re_acc[key] == pytest.approx(row.accuracy)
    # per-item eval records: every scorer's extraction and score present, responses non-empty strings
    any_records = next((r / "eval").rglob("gsm8k_0shot.records.jsonl"))
    rows = [json.loads(line) for line in any_records.read_text().splitlines()]
    assert len(rows) == g["n"] and all(set(x["score"]) == set(g["scorers"]) for x in rows)
    # models load like hub models, checkpoints exist where configured, the GRPO log has every step
    for model, budget in rc.cells(micro_cfg):
        base = r / "models" / model / budget / "base"
        assert (base / "config.json").exists() and (base / "pretrain.json").exists()
        gdir = r / "grpo" / model / budget
        for step in rc.checkpoint_steps(micro_cfg, model):
            assert (gdir / f"step_{step}" / "config.json").exists()
        tokens = pd.read_csv(gdir / "tokens.csv")
        assert list(tokens["step"]) == list(range(1, micro_cfg["grpo"]["steps"] + 1))
        assert (tokens["completion_tokens"] > 0).all()
    fits = json.loads((r / "fits" / "fits.json").read_text())
    assert isinstance(fits, dict) and fits
    pngs = list((r / "figures").glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "| " in (r / "summary.md").read_text()
    # every rule logged and benchmarked
    assert list((r / "logs").rglob("*.log")) and list((r / "benchmarks").rglob("*.tsv"))


def test_html_report_has_every_figure_and_caption(study):
    html = study / "results" / "report.html"
    snakemake(study, "--report", str(html))
    text = html.read_text(errors="replace")
    assert len(text) > 100_000
    for png in (study / "results" / "figures").glob("*.png"):
        assert png.name in text
    assert "instruction collapse" in text  # a figure caption
    assert "compute-optimal" in text or "pre-training fraction" in text


def test_one_cell_rerun_rebuilds_only_that_job_and_dependents(study, micro_cfg):
    job = rc.eval_jobs(micro_cfg)[-1]
    target = study / rc.path(micro_cfg, "eval_summary", **vars(job))
    records = Path(str(target).replace(".summary.json", ".records.jsonl"))
    untouched = study / rc.path(micro_cfg, "eval_summary", **vars(rc.eval_jobs(micro_cfg)[0]))
    before = untouched.stat().st_mtime_ns
    target.unlink()
    records.unlink()
    # Snakemake does not regenerate a missing intermediate file on its own while everything downstream is up to
    # date: the cell is rerun by naming its path, and its dependents then follow from the newer input.
    rel = str(target.relative_to(study))
    assert dry_run_jobs(study, rel) == {"evaluate": 1}
    snakemake(study, rel)
    assert target.exists() and untouched.stat().st_mtime_ns == before
    assert dry_run_jobs(study) == {"aggregate": 1, "fit": 1, "plots": 1, "report_tables": 1, "all": 1}
    snakemake(study)
    assert dry_run_jobs(study) == {}


def test_interrupted_run_resumes_and_is_reproducible(study, tmp_path, micro_cfg):
    """Kill a run mid-way, resume it, and get the same summary.csv as the uninterrupted seeded run."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
           str(MICRO), "--cores", "2", "--quiet", "rules"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first_model = tmp_path / "results" / "models"
    grpo_logs = tmp_path / "results" / "logs" / "grpo"
    deadline = time.time() + 300
    # a GRPO job has started, so Snakemake has registered at least one pre-training job as complete
    while time.time() < deadline and not any(grpo_logs.glob("*/*.log")):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    started = {p.parent.name + "/" + p.stem for p in grpo_logs.glob("*/*.log")}
    finished = {p: p.stat().st_mtime_ns for p in first_model.glob("*/*/base/config.json")
                if f"{p.parents[2].name}/{p.parents[1].name}" in started}
    assert finished, "the run was killed before any model finished; the test could not check resumption"
    # no half-written outputs: every dataset file present is complete JSONL
    for f in (tmp_path / "results" / "data").glob("*.jsonl"):
        for line in f.read_text().splitlines():
            json.loads(line)
    snakemake(tmp_path, "--unlock")  # a killed Snakemake leaves its lock behind
    snakemake(tmp_path, "--rerun-incomplete")
    for p, mtime in finished.items():
        assert p.stat().st_mtime_ns == mtime, f"{p} was recomputed after the interruption"
    a = pd.read_csv(study / "results" / "summary.csv")
    b = pd.read_csv(tmp_path / "results" / "summary.csv")
    pd.testing.assert_frame_equal(a, b)
