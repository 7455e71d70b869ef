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
import yaml

from rlscaling import study as rs
from rlscaling.analysis.aggregate import SUMMARY_COLUMNS
from rlscaling.workflow import config as rc
from rlscaling.workflow import plan as rp

ROOT = Path(__file__).resolve().parents[1]
MICRO = ROOT / "tests" / "configs" / "micro.yaml"
pytestmark = pytest.mark.slow


def snakemake_command(workdir: Path, config: Path, *args: str) -> list[str]:
    """``python -m snakemake`` on this repository's Snakefile in ``workdir`` with ``config``, then ``args``."""
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
            str(config), *args]  # fmt: skip


def snakemake(workdir: Path, *args: str, config: Path = MICRO, check: bool = True, **kw):
    cmd = snakemake_command(workdir, config, "--cores", "2", *args, "--quiet", "rules")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def dry_run_jobs(workdir: Path, *args: str, config: Path = MICRO) -> dict[str, int]:
    """Job counts per rule from ``snakemake -n`` (its 'Job stats' table)."""
    out = subprocess.run(snakemake_command(workdir, config, "-n", *args), capture_output=True, text=True, check=True)
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
def study(micro_study):
    """The micro study run once, end to end (conftest's ``micro_study``, shared with the sweep test)."""
    return micro_study


def test_dry_run_lists_every_job(tmp_path, micro_cfg):
    assert dry_run_jobs(tmp_path) == rp.expected_job_counts(micro_cfg)


def test_outputs_have_the_right_content(study, micro_cfg):
    r = study / "results"
    summary = pd.read_csv(r / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(summary["study"]) == {"micro"}
    acc = summary[summary.scorer != "loss"]
    assert acc["accuracy"].between(0, 1).all()
    assert (acc["ci_low"] <= acc["accuracy"] + 1e-12).all() and (acc["accuracy"] <= acc["ci_high"] + 1e-12).all()
    # per seed: one row per greedy eval job x (scorer + the continuation share), per pass@k job x (k + the maj@n
    # row), per val-loss job; then one seed-mean row per group of per-seed rows
    g = micro_cfg["benchmarks"]["gsm8k"]
    per_seed, means = summary[summary.seed != "mean"], summary[summary.seed == "mean"]
    n_greedy = len(rp.eval_jobs(micro_cfg)) * (len(g["scorers"]) + 1)
    n_passk = len(rp.passk_jobs(micro_cfg)) * (len(micro_cfg["evaluate"]["pass_at_k"]["k"]) + 1)
    assert (per_seed.scorer == f"maj@{micro_cfg['evaluate']['pass_at_k']['n']}").sum() == len(rp.passk_jobs(micro_cfg))
    assert len(per_seed) == n_greedy + n_passk + len(rp.val_loss_jobs(micro_cfg))
    group = ["model", "pretrain_tokens", "reward_mode", "rl_step", "benchmark", "subset", "shots", "scorer"]
    assert len(means) == len(per_seed.drop_duplicates(group))
    n_seeds = {m: len(rs.seeds(micro_cfg, m)) for m in micro_cfg["models"]}
    assert (means["n_seeds"] == means["model"].map(n_seeds)).all() and set(means["n_seeds"]) == {1, 2}
    one_seed = means[means.n_seeds == 1].merge(per_seed, on=group, suffixes=("", "_seed"))
    assert list(one_seed["accuracy"]) == pytest.approx(list(one_seed["accuracy_seed"]))  # the mean of one seed
    assert set(summary.reward_mode) == {"base", *micro_cfg["grpo"]["reward_modes"]}
    assert (summary.loc[summary.benchmark == "gsm8k", "n_items"] == g["n"]).all()
    # compute axes: c_pretrain = 6 (N + H) D (the output head H checked per cell below), c_rl = 0 at the base and
    # strictly growing with the RL step
    assert (summary["c_pretrain"] > 6 * summary["n_params"] * summary["pretrain_tokens"]).all()
    for (model, seed, tokens, _mode), run in summary[summary.reward_mode != "base"].groupby(
        ["model", "seed", "pretrain_tokens", "reward_mode"]
    ):
        base = summary[(summary.model == model) & (summary.seed == seed) & (summary.pretrain_tokens == tokens)]
        by_step = pd.concat([base[base.rl_step == 0], run]).groupby("rl_step")["c_rl"].first().sort_index()
        assert by_step.iloc[0] == 0.0 and by_step.is_monotonic_increasing and by_step.iloc[-1] > 0
    # the per-item records reproduce every greedy accuracy
    recs = pd.read_parquet(r / "records.parquet")
    greedy = summary[summary.scorer.isin(g["scorers"]) | summary.scorer.str.startswith("maj@")]
    keys = ["model", "seed", "reward_mode", "pretrain_tokens", "rl_step", "benchmark", "subset", "shots", "scorer"]
    re_acc = recs.astype({"seed": str}).groupby(keys)["score"].mean()
    for row in greedy.itertuples():
        key = tuple(str(getattr(row, k)) if k == "seed" else getattr(row, k) for k in keys)
        assert re_acc[key] == pytest.approx(row.accuracy)
    # per-item eval records: every scorer's extraction and score present, responses non-empty strings
    any_records = next((r / "eval").rglob("gsm8k_0shot.records.jsonl"))
    rows = [json.loads(line) for line in any_records.read_text().splitlines()]
    assert len(rows) == g["n"] and all(set(x["score"]) == set(g["scorers"]) for x in rows)
    # models load like hub models, checkpoints exist where configured, the GRPO log has every step
    for cell in rs.cells(micro_cfg):
        base = study / rs.path(micro_cfg, "base_model", **cell._asdict())
        info = json.loads((base / "pretrain.json").read_text())
        assert (base / "config.json").exists() and info["schedule"] == "wsd"
        assert info["tokens_trained"] == pytest.approx(rs.budgets(micro_cfg, cell.model)[cell.budget], abs=64)
        # C_pretrain counts the output head: 6·(N + H)·D in pretrain.json and in summary.csv
        n, h, d = info["n_params_non_embedding"], info["head_params"], info["tokens_trained"]
        cell_rows = summary[(summary.model == cell.model) & (summary.pretrain_tokens == d)]
        assert h > 0 and len(cell_rows)
        assert list(cell_rows["c_pretrain"]) == pytest.approx([6 * (n + h) * d] * len(cell_rows))
    for run in rs.rl_runs(micro_cfg):
        gdir = study / rs.path(micro_cfg, "grpo", **run._asdict())
        run_json = json.loads((gdir / "run.json").read_text())
        assert run_json["settings"]["reward_mode"] == run.reward
        assert 0 < run_json["compute"]["head_flops_share"] < 1  # the base model's N, H and the head's share
        for step in rp.checkpoint_steps(micro_cfg, run.model):
            assert (gdir / f"step_{step}" / "config.json").exists()
        tokens = pd.read_csv(gdir / "tokens.csv")
        assert list(tokens["step"]) == list(range(1, micro_cfg["grpo"]["steps"] + 1))
        assert (tokens["completion_tokens"] > 0).all()
    findings = pd.read_csv(r / "findings.csv")
    assert set(findings["verdict"]) <= {"reproduced", "contradicted", "inconclusive"} and len(findings)
    fits = json.loads((r / "fits" / "fits.json").read_text())
    assert isinstance(fits, dict) and fits
    # 2 sizes x 2 budgets with RL on one: no group can be held out and the rest refitted by any joint law, so no law is
    # identified; the documented no-law outputs: the reason, header-only plan files, the verdict first in summary.md
    joint = fits["joint_law"]
    assert joint["identified"] is False and joint["chosen"] is None and joint["no_law_reason"]
    assert fits["allocation"]["status"] == "no_law" and "no law identified" in fits["allocation"]["reason"]
    assert pd.read_csv(r / "fits" / "allocation.csv").empty and pd.read_csv(r / "fits" / "iso_flop.csv").empty
    assert "**No scaling law identified" in (r / "summary.md").read_text().split("\n## ", 1)[0]
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
    job = rp.eval_jobs(micro_cfg)[-1]
    target = study / rs.path(micro_cfg, "eval_summary", **vars(job))
    records = Path(str(target).replace(".summary.json", ".records.jsonl"))
    untouched = study / rs.path(micro_cfg, "eval_summary", **vars(rp.eval_jobs(micro_cfg)[0]))
    before = untouched.stat().st_mtime_ns
    target.unlink()
    records.unlink()
    # Snakemake does not regenerate a missing intermediate file on its own while everything downstream is up to
    # date: the cell is rerun by naming its path, and its dependents then follow from the newer input.
    rel = str(target.relative_to(study))
    rule = (
        "evaluate_endpoint"
        if job.step in (0, rp.checkpoint_steps(micro_cfg, job.model)[-1])
        else "evaluate_intermediate"
    )
    assert dry_run_jobs(study, rel) == {rule: 1}  # the checkpoint's one evaluation job
    snakemake(study, rel)
    assert target.exists() and untouched.stat().st_mtime_ns == before
    assert dry_run_jobs(study) == {"aggregate": 1, "fit": 1, "plots": 1, "report_tables": 1, "all": 1}
    snakemake(study)
    assert dry_run_jobs(study) == {}


def test_interrupted_run_resumes_and_is_reproducible(study, tmp_path, micro_cfg):
    """Kill a run mid-way, resume it, and get the same summary.csv as the uninterrupted seeded run."""
    cmd = snakemake_command(tmp_path, MICRO, "--cores", "2", "--quiet", "rules")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first_model = tmp_path / "results" / "models"
    grpo_logs = tmp_path / "results" / "logs" / "grpo"
    deadline = time.time() + 300
    # a GRPO job has started, so Snakemake has registered at least one pre-training job as complete
    while time.time() < deadline and not any(grpo_logs.rglob("*.log")):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # logs/grpo/<model>/seed_<s>/<budget>/<reward>.log -> the base model <model>/seed_<s>/<budget> it started from
    started = {str(p.parent.relative_to(grpo_logs)) for p in grpo_logs.rglob("*.log")}
    finished = {
        p: p.stat().st_mtime_ns
        for p in first_model.glob("*/*/*/base/config.json")
        if str(p.parents[1].relative_to(first_model)) in started
    }
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
    # every output, byte for byte (docs/reproducibility.md): the interrupted-and-resumed run re-ran its jobs
    assert differing_outputs(study / "results", tmp_path / "results") == []


# Wall-clock measurements recorded inside JSON outputs (seconds; tokens/s): the only bytes a re-run may change.
TIMING_KEYS = {"wall_s", "trunk_wall_s", "branch_wall_s", "generate_s", "engine_start_s", "import_s", "tok_s",
               "train_runtime", "train_samples_per_second", "train_steps_per_second"}  # fmt: skip
# Snakemake's log and benchmark files (timings by design) and the HTML report another test writes into the shared
# study with `snakemake --report` (a command's output, not a job's)
NOT_OUTPUTS = ("logs", "benchmarks", "report.html")


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def _same_without_timing(x: Path, y: Path) -> bool:
    """Equal JSON without :data:`TIMING_KEYS`, or equal CSV tables without those columns."""
    if x.suffix == ".json":
        return _without_timing(json.loads(x.read_text())) == _without_timing(json.loads(y.read_text()))
    if x.suffix == ".csv":
        a, b = (pd.read_csv(p, dtype=str, keep_default_na=False) for p in (x, y))
        timing = [c for c in a.columns if c in TIMING_KEYS]
        return bool(timing) and a.drop(columns=timing).equals(b.drop(columns=timing, errors="ignore"))
    return False


def differing_outputs(a: Path, b: Path) -> list[str]:
    """Relative paths of the files that differ between two results directories (or exist in one only), bytes
    compared; JSON files and CSV tables without :data:`TIMING_KEYS` (keys, columns) when their bytes differ."""
    files = {p.relative_to(root) for root in (a, b) for p in root.rglob("*") if p.is_file()}
    out = []
    for rel in sorted(f for f in files if f.parts[0] not in NOT_OUTPUTS):
        x, y = a / rel, b / rel
        if not (x.exists() and y.exists()):
            out.append(f"{rel} (only in {'b' if y.exists() else 'a'})")
        elif x.read_bytes() != y.read_bytes() and not _same_without_timing(x, y):
            out.append(str(rel))
    return out


def _edited(workdir: Path, edit) -> Path:
    cfg = yaml.safe_load(MICRO.read_text())
    edit(cfg)
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_a_config_edit_reruns_exactly_what_it_affects(study, micro_cfg):
    """Settings reach jobs through params: editing a key plans the jobs that read it and everything downstream."""
    n_runs = len(rs.rl_runs(micro_cfg))
    downstream = {"aggregate": 1, "fit": 1, "plots": 1, "report_tables": 1, "all": 1}
    lr = _edited(study, lambda c: c["grpo"].update(lr=c["grpo"]["lr"] * 2))
    assert dry_run_jobs(study, config=lr) == {
        "grpo": n_runs,
        "evaluate_endpoint": n_runs,  # the final checkpoints; base models are untouched
        "evaluate_intermediate": len(rp.checkpoints(micro_cfg, "intermediate")),
        **downstream,
    }
    kl = _edited(study, lambda c: c["grpo"].update(kl_coef=c["grpo"]["kl_coef"] * 10))
    assert dry_run_jobs(study, config=kl) == dry_run_jobs(study, config=lr)
    # a new replicate seed or reward mode adds its own jobs and reruns no existing one
    for edit in (
        lambda c: c["pretrain"].update(seeds=[*c["pretrain"]["seeds"], 3]),
        lambda c: c["grpo"].update(reward_modes=[*c["grpo"]["reward_modes"], "flexible"]),
    ):
        added = _edited(study, edit)
        before, after = rp.expected_job_counts(micro_cfg), rp.expected_job_counts(rc.load_config(added))
        new = {k: after[k] - before.get(k, 0) for k in after if k not in downstream and after[k] > before.get(k, 0)}
        assert new and dry_run_jobs(study, config=added) == {**new, **downstream}
    boot = _edited(study, lambda c: c["fit"].update(bootstrap=c["fit"]["bootstrap"] + 1))
    assert dry_run_jobs(study, config=boot) == {"fit": 1, "plots": 1, "report_tables": 1, "all": 1}
    dpi = _edited(study, lambda c: c.update(plots={"dpi": 99}))
    assert dry_run_jobs(study, config=dpi) == {"plots": 1, "all": 1}
    shots = _edited(study, lambda c: c["benchmarks"]["gsm8k"].update(max_new_tokens=17))
    assert dry_run_jobs(study, config=shots) == {
        "evaluate_endpoint": len(rp.checkpoints(micro_cfg, "endpoint")),
        "evaluate_intermediate": len(rp.checkpoints(micro_cfg, "intermediate")),
        **downstream,
    }
    assert dry_run_jobs(study) == {}


FAKE_VERL_MAIN = r'''"""Stands in for `python -m verl.trainer.main_ppo`: steps, checkpoints, metrics, rollout
dumps; resumes like verl 0.9.1's resume_mode=auto (from the step in default_local_dir/latest_checkpointed_iteration.txt,
written after each save); crashes once after a given step."""
import json, os, sys
from pathlib import Path
o = dict(a.split("=", 1) for a in sys.argv[1:])
ck = Path(o["trainer.default_local_dir"].strip("'"))
steps, freq = int(o["trainer.total_training_steps"]), int(o["trainer.save_freq"])
rollouts = Path(o["trainer.rollout_data_dir"].strip("'")); rollouts.mkdir(parents=True, exist_ok=True)
n = int(o["data.train_batch_size"]) * int(o["actor_rollout_ref.rollout.n"])
tracker = ck / "latest_checkpointed_iteration.txt"
last = int(tracker.read_text()) if tracker.is_file() else 0
start = last + 1 if (ck / f"global_step_{last}").is_dir() else 1
Path(os.environ["FAKE_VERL_CALLS"]).open("a").write(json.dumps({"start": start, "python": sys.executable}) + "\n")
crash_flag = Path(os.environ["FAKE_VERL_CRASH_FLAG"])
with open(os.environ["VERL_FILE_LOGGER_PATH"], "w") as fh:
    for k in range(start, steps + 1):
        fh.write(json.dumps({"step": k, "data": {"prompt_length/mean": 10.0, "response_length/mean": 5.0 + k,
             "actor/kl_loss": 0.001 * k, "timing_s/step": 1.5}}) + "\n")
        fh.flush()
        (rollouts / f"{k}.jsonl").write_text("".join(json.dumps({"score": float(i % 2)}) + "\n" for i in range(n)))
        if k % freq == 0 or k == steps:
            actor = ck / f"global_step_{k}" / "actor"; actor.mkdir(parents=True, exist_ok=True)
            (actor / "base").write_text(o["actor_rollout_ref.model.path"].strip("'"))
            tracker.write_text(str(k))
        if k == int(os.environ["FAKE_VERL_CRASH_AT"]) and not crash_flag.exists():
            crash_flag.write_text("crashed once"); os._exit(9)  # preempted
'''
FAKE_VERL_MERGER = r'''"""Stands in for `python -m verl.model_merger merge`: the base model's files, merged."""
import shutil, sys
from pathlib import Path
a = sys.argv[1:]
actor, target = Path(a[a.index("--local_dir") + 1]), Path(a[a.index("--target_dir") + 1])
shutil.copytree((actor / "base").read_text(), target, dirs_exist_ok=True)
'''


def fake_verl_python(root: Path) -> Path:
    """An interpreter whose environment has a (fake) verl: the real Python with a fake `verl` package on its path."""
    pkg = root / "fake_site" / "verl"
    (pkg / "trainer").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "trainer" / "__init__.py").write_text("")
    (pkg / "trainer" / "main_ppo.py").write_text(FAKE_VERL_MAIN)
    (pkg / "model_merger.py").write_text(FAKE_VERL_MERGER)
    python = root / "verl-python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{root / "fake_site"}:$PYTHONPATH" exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return python


def _verl_micro(python: Path, lr_factor: float = 1.0):
    """An edit of the micro config: one model, GRPO through the fake verl at ``python``, 4 steps saved every 2."""

    def to_verl(c):
        c["grpo"].update(
            backend="verl",
            steps=4,
            save_every=2,
            prompts_per_step=2,
            rollouts_per_prompt=2,
            lr=c["grpo"]["lr"] * lr_factor,
            verl={"ppo_mini_batch_size": 2, "attn_implementation": "sdpa", "use_remove_padding": False},
        )
        c["grpo"].pop("save_steps")
        c["environments"] = {"verl": {"python": str(python)}}
        c["models"] = {"micro-a": c["models"]["micro-a"]}

    return to_verl


def test_preempted_grpo_resumes_from_its_checkpoint_under_snakemake_retries(tmp_path):
    """verl's checkpoints live outside the grpo output, so Snakemake's retry (which deletes the failed job's outputs)
    resumes from the last checkpoint instead of step 0; the job runs with environments.verl.python."""
    python = fake_verl_python(tmp_path)
    config = _edited(tmp_path, _verl_micro(python))
    calls = tmp_path / "calls.jsonl"
    env = {"FAKE_VERL_CALLS": str(calls), "FAKE_VERL_CRASH_AT": "3", "FAKE_VERL_CRASH_FLAG": str(tmp_path / "flag")}
    target = "results/grpo/micro-a/seed_1/b2/custom_flexible"
    env = {**os.environ, **env, "HF_HUB_OFFLINE": "1"}
    cmd = snakemake_command(tmp_path, config, "--cores", "2", "--retries", "1", target)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    starts = [json.loads(line) for line in calls.read_text().splitlines()]
    assert [c["start"] for c in starts] == [1, 3]  # crashed after step 3; the retry resumed after checkpoint 2
    assert {c["python"] for c in starts} == {sys.executable}
    out = tmp_path / target
    run = json.loads((out / "run.json").read_text())
    assert run["resumed_from_step"] == 2 and run["passes"]["old_policy_forward"] is True
    assert list(pd.read_csv(out / "tokens.csv")["step"]) == [1, 2, 3, 4]
    assert (out / "step_2" / "config.json").is_file() and (out / "step_4" / "config.json").is_file()
    state = tmp_path / "results" / "state" / "grpo" / "micro-a" / "seed_1" / "b2" / "custom_flexible"
    assert not state.exists() and state.parent.is_dir()  # the run's state is cleaned once finished


def test_a_failed_grpo_run_is_not_resumed_after_a_config_edit(tmp_path):
    """A GRPO job fails after its step-2 checkpoint; grpo.lr is edited; the rerun trains from step 1 (the old run's
    state, in the same state directory, is discarded and the differing key recorded)."""
    python = fake_verl_python(tmp_path)
    calls = tmp_path / "calls.jsonl"
    env = {"FAKE_VERL_CALLS": str(calls), "FAKE_VERL_CRASH_AT": "3", "FAKE_VERL_CRASH_FLAG": str(tmp_path / "flag")}
    env = {**os.environ, **env, "HF_HUB_OFFLINE": "1"}
    target = "results/grpo/micro-a/seed_1/b2/custom_flexible"
    for lr_factor, ok in ((1.0, False), (2.0, True)):
        config = _edited(tmp_path, _verl_micro(python, lr_factor))
        proc = subprocess.run(snakemake_command(tmp_path, config, "--cores", "2", target), capture_output=True,
                              text=True, env=env)  # fmt: skip
        assert (proc.returncode == 0) == ok, proc.stderr[-4000:]
    assert [json.loads(line)["start"] for line in calls.read_text().splitlines()] == [1, 1]
    run = json.loads((tmp_path / target / "run.json").read_text())
    assert run["discarded_state"] == ["verl.actor_rollout_ref.actor.optim.lr"] and run["resumed_from_step"] == 0


def test_a_job_whose_interpreter_lacks_its_backend_names_the_setting(tmp_path):
    from rlscaling.workflow import jobs

    settings = json.dumps({"evaluate": {"backend": "vllm_not_installed_here"}, "plan": []})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlscaling.workflow.jobs",
            "evaluate",
            "--settings",
            settings,
            "model=m",
            "data=d",
            "checkpoint=m/seed_1/b/base/step_0",
            "out=o",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "environments.vllm_not_installed_here.python (or RLSCALING_VLLM_NOT_INSTALLED_HERE_PYTHON)" in proc.stderr
    with pytest.raises(jobs.BackendMissingError, match="environments.verl.python"):
        jobs.require_backend("verl")


def test_seed_published_results_beside_the_study(study, tmp_path):
    """report.published_results set after a finished study: only the comparison, the report tables and the figures
    run; summary.md and the HTML report carry the comparison; editing the published file reruns exactly those; unset
    again, the study's own outputs come back (this test runs last: it leaves them as they were)."""
    from rlscaling.report.seed_comparison import PUBLISHED_COLUMNS

    summary = pd.read_csv(study / "results" / "summary.csv")
    rows = summary[
        (summary["seed"] == "mean")
        & (summary["benchmark"] == "gsm8k")
        & (summary["subset"] == "all")
        & (summary["shots"] == 0)
        & (summary["scorer"] == "custom_flexible")
        & (summary["model"] == "micro-a")
    ]
    final = rows[rows["rl_step"] == rows["rl_step"].max()].iloc[0]
    rows = rows[rows["pretrain_tokens"] == final["pretrain_tokens"]]  # a budget with an RL run
    base = rows[rows["rl_step"] == 0].iloc[0]
    inside = (base["ci_low"] + base["ci_high"]) / 2
    published = tmp_path / "published.csv"
    common = {c: None for c in PUBLISHED_COLUMNS} | {"benchmark": "gsm8k", "subset": "all", "shots": 0}
    common |= {"scorer": "custom_flexible", "n_items": int(base["n_items"]), "metric": "accuracy"}
    pd.DataFrame(
        [
            common | {"model": "micro-a", "stage": "base", "accuracy": inside, "source_file": "a.json"},
            common
            | {
                "model": "micro-a",
                "stage": "rl",
                "rl_reward": final["reward_mode"],
                "rl_step": int(final["rl_step"]),
                "accuracy": final["ci_high"] + 0.05,  # outside this run's CI whatever its width
                "source_file": "b.json",
            },
            common | {"model": "Qwen3-4B-Base", "stage": "base", "accuracy": 0.8, "source_file": "results/4b.json"},
        ],
        columns=list(PUBLISHED_COLUMNS),
    ).to_csv(published, index=False)
    config = tmp_path / "micro_published.yaml"
    config.write_text(MICRO.read_text() + f"\nreport: {{published_results: {json.dumps(str(published))}}}\n")
    downstream = {"seed_comparison": 1, "plots": 1, "report_tables": 1, "all": 1}
    assert dry_run_jobs(study, config=config) == downstream
    snakemake(study, config=config)
    table = pd.read_csv(study / "results" / "seed_comparison.csv")  # every budget of micro-a is compared
    mine = table[table["pretrain_tokens"] == final["pretrain_tokens"]]
    assert list(zip(mine["stage"], mine["verdict"])) == [("base", "inside"), ("rl", "outside")]
    assert set(table["model"]) == {"micro-a"}  # the Qwen3 row matches no model of this study
    text = (study / "results" / "summary.md").read_text()
    n_inside = int((table["verdict"] == "inside").sum())
    assert "## Seed published vs this run" in text and f"**{n_inside} of {len(table)} cells inside**" in text
    html = tmp_path / "report.html"
    snakemake(study, "--report", str(html), config=config)
    assert "seed_comparison.csv" in html.read_text(errors="replace")
    # an edited published file reruns the comparison and what reads it (Snakemake compares checksums: a touch does not)
    published.write_text(published.read_text().replace("Qwen3-4B-Base", "Qwen3-8B-Base"))
    assert dry_run_jobs(study, config=config) == downstream
    snakemake(study)  # the shipped micro config: nothing published, the section goes away
    assert "Seed published" not in (study / "results" / "summary.md").read_text()
    assert dry_run_jobs(study) == {}
