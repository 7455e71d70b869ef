"""configs/qwen3-ablations.yaml, the seed's future-work ablations as sweeps of the Qwen3 study (issue 22): it is
configs/qwen3.yaml plus its sweeps, its dry run under the SLURM profile plans every variant's GRPO runs and
evaluations, `rlscaling gpu-hours` prices each variant, and the costs its comments state are the measured ones.
Also the reward-mode sweep spelling in a dry run: the same jobs as ``grpo.reward_modes``."""

from __future__ import annotations

import copy
import re
import subprocess

import pytest
import yaml

from rlscaling import study as rs
from rlscaling.workflow import config as rc
from rlscaling.workflow import job_settings as rj
from rlscaling.workflow import plan as rp
from rlscaling.workflow.gpu_hours import estimate_gpu_hours, variant_totals

from test_workflow import MICRO, ROOT, snakemake_command

ABLATIONS = ROOT / "configs" / "qwen3-ablations.yaml"
QWEN3 = ROOT / "configs" / "qwen3.yaml"
PROFILE = ROOT / "profiles" / "slurm"
LONGER = ("qwen3-0.6b", "qwen3-1.7b")
"""The models of the longer-RL sweep: its variants' ``grpo.epochs`` is 12 (the sweep's ``with``; qwen3.yaml: 4),
room for 3 x 56 steps."""
GSM8K_TRAIN_ROWS = 7473
"""The seed's RL training set, GSM8K train (../shared/reference/seed_recipe.md): 14 steps of 512 prompts per epoch."""


def _raw(path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def cfg():
    return rc.load_config(ABLATIONS)


@pytest.fixture(scope="module")
def qwen3():
    return rc.load_config(QWEN3)


def test_it_is_the_qwen3_study_plus_its_sweeps(cfg, qwen3):
    """Every key equals configs/qwen3.yaml's but grpo.sweeps, data.rl_train_sets and the reward's spelling
    (reward_mode, normalised to qwen3's reward_modes); so its reference runs are the Qwen3 study's own."""
    raw = _raw(ABLATIONS)
    assert "reward_modes" not in raw["grpo"] and raw["grpo"]["reward_mode"] == "seed_custom_flexible"
    assert cfg["grpo"]["reward_modes"] == qwen3["grpo"]["reward_modes"] == ["seed_custom_flexible"]
    same = copy.deepcopy(cfg)
    same["grpo"]["sweeps"] = []
    assert set(same["data"].pop("rl_train_sets")) == {"math"} and not qwen3["data"].get("rl_train_sets")
    qwen3 = {**qwen3, "data": {k: v for k, v in qwen3["data"].items() if k != "rl_train_sets"}}
    assert same == qwen3
    for run in rs.rl_runs(qwen3):  # same runs, same paths, same settings (epochs included): nothing reruns
        assert run in rs.rl_runs(cfg)
        got, want = (rj.job_config(c, "grpo", **run._asdict()) for c in (cfg, qwen3))
        assert got == want
    for run in rs.rl_runs(cfg):  # the longer-RL variants take the sweep's epochs bound, every other run keeps 4
        epochs = rj.job_config(cfg, "grpo", **run._asdict())["grpo"]["epochs"]
        assert epochs == (12 if run.variant.startswith("steps=") else 4), run


def test_the_sweeps_are_the_seeds_future_work(cfg):
    swept = {(s["key"], tuple(s["values"])): s["models"] for s in cfg["grpo"]["sweeps"]}
    assert swept == {
        ("kl_coef", (1.0e-4, 1.0e-2)): ["qwen3-0.6b", "qwen3-1.7b"],  # around the seed's 0.001
        ("lr", (1.0e-5,)): ["qwen3-0.6b", "qwen3-1.7b", "qwen3-4b"],  # vs the seed's 1e-6
        ("steps", (112, 168)): list(LONGER),  # 2x and 3x the seed's 56
        ("train", ("math", "gsm8k+math")): ["qwen3-0.6b", "qwen3-1.7b"],  # RL on MATH, mixed RL
    }
    assert cfg["grpo"]["kl_coef"] == 0.001 and cfg["grpo"]["lr"] == 1.0e-6
    assert all(cfg["models"][m]["grpo"]["steps"] == 56 for m in cfg["models"])
    variants = {m: [v.segment for v in rs.variants(cfg, m, "36T")[1:]] for m in cfg["models"]}
    assert variants["qwen3-0.6b"] == [
        "kl_coef=0.0001/",
        "kl_coef=0.01/",
        "lr=1e-05/",
        "steps=112/",
        "steps=168/",
        "train=math/",
        "train=gsm8k+math/",
    ]
    assert variants["qwen3-4b"] == ["lr=1e-05/"] and variants["qwen3-14b"] == []
    assert rp.checkpoint_steps(cfg, "qwen3-0.6b", "steps=168/") == list(range(7, 169, 7))  # save_every 7


def test_longer_rl_fits_the_seeds_training_rows(cfg):
    """data.rl_train.n is null (all of GSM8K train), so the validation cannot count the rows: with the seed's 7,473
    rows the 168-step variant fits 12 epochs of 14 steps (the sweep's `with`); with qwen3.yaml's 4 it is refused."""
    raw = _raw(ABLATIONS)
    raw["data"]["rl_train"]["n"] = GSM8K_TRAIN_ROWS
    rc.validate_config(copy.deepcopy(raw))
    raw["grpo"]["sweeps"][2].pop("with")
    with pytest.raises(rs.ConfigError, match=r"grpo.sweeps\[2\].values: steps=112 \(model 'qwen3-0.6b'\)"):
        rc.validate_config(raw)


def _dry_run(workdir, config, *args) -> tuple[dict[str, int], str]:
    """``snakemake -n``: job counts per rule (its 'Job stats' table) and the whole text."""
    env = {**__import__("os").environ, "RLSCALING_SLURM_ACCOUNT": ""}
    cmd = snakemake_command(workdir, config, "-n", *args)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", text, flags=re.M) if m[1] != "total"}
    return counts, text


def test_slurm_dry_run_plans_every_variant(cfg, tmp_path):
    """`snakemake -n --configfile configs/qwen3-ablations.yaml --profile profiles/slurm`: the jobs the plan counts,
    each variant's GRPO run and the evaluation of each of its checkpoints among them."""
    counts, text = _dry_run(tmp_path, ABLATIONS, "--profile", str(PROFILE))
    assert counts == rp.expected_job_counts(cfg)
    assert counts["grpo"] == 5 + 15 and counts["evaluate_endpoint"] == 5 + 5 + 15
    assert counts["prepare_data"] == rp.expected_job_counts(rs_without_train_sweep(cfg))["prepare_data"] + 1
    runs = [r for r in rs.rl_runs(cfg) if r.variant != rs.REFERENCE]
    assert len(runs) == 15
    assert "output: results/data/rl_train_math.jsonl" in text  # the MATH set, prepared once for both train variants
    for run in runs:
        grpo = rs.path(cfg, "grpo", **run._asdict())
        assert f"output: {grpo}\n" in text, grpo
        for step in rp.checkpoint_steps(cfg, run.model, run.variant):
            checkpoint = rs.CHECKPOINT.format(**run._asdict(), step=step)
            assert f"results/eval/{checkpoint}/gsm8k_0shot.summary.json" in text, checkpoint
    assert counts["evaluate_intermediate"] == sum(
        len(rp.checkpoint_steps(cfg, r.model, r.variant)) - 1 for r in rs.rl_runs(cfg)
    )


def test_gpu_hours_prints_a_row_per_variant(cfg, capsys):
    from rlscaling.cli import main

    assert main(["gpu-hours", "--config", str(ABLATIONS)]) == 0
    out = capsys.readouterr().out
    assert "per sweep variant" in out
    for model in cfg["models"]:
        for variant in rs.variants(cfg, model, "36T"):
            label = rs.variant_label(variant.segment)
            assert re.search(rf"^\s*{re.escape(model)}\s+{re.escape(label)}\s", out, flags=re.M), (model, label)
    labels = ("reference", "kl_coef=0.0001", "kl_coef=0.01", "lr=1e-05", "steps=112", "steps=168", "train=math")
    for label in (*labels, "train=gsm8k+math", "total"):
        assert re.search(rf"^\s*{re.escape(label)}\s", out, flags=re.M), label


def _sweep_costs(cfg) -> dict[str, tuple[int, float]]:
    """Runs and GPU-hours of each sweep key (its variants summed over models), from `rlscaling gpu-hours`'s table."""
    totals = variant_totals(estimate_gpu_hours(cfg)).set_index("variant").drop("total")
    out: dict[str, tuple[int, float]] = {}
    for label, row in totals.iterrows():
        key = label.split("=")[0]
        runs, hours = out.get(key, (0, 0.0))
        out[key] = (runs + int(row["runs"]), hours + float(row["gpu_hours"]))
    return out


def test_the_costs_in_the_comments_are_the_measured_ones(cfg):
    """Each sweep's comment states its runs and GPU-hours as `rlscaling gpu-hours` prints them (2 decimals); so does
    the commented-out reward-mode sweep's, which, uncommented, validates to a second reward mode of every model."""
    text = ABLATIONS.read_text()
    stated = [(int(n), float(h)) for n, h in re.findall(r"(\d+) runs, ([\d.]+) GPU-h", text)]
    costs = _sweep_costs(cfg)
    swept = [costs[k] for k in ("kl_coef", "lr", "steps", "train")]
    all_sweeps = (sum(r for r, _ in swept), sum(h for _, h in swept))
    reference = costs["reference"]
    with_reward = _raw(ABLATIONS)
    with_reward["grpo"]["sweeps"].append({"key": "reward_mode", "values": ["custom_flexible"]})
    with_reward = rc.validate_config(with_reward)
    assert with_reward["grpo"]["reward_modes"] == ["seed_custom_flexible", "custom_flexible"]
    with_runs, with_hours = _sweep_costs(with_reward)["reference"]  # reward-mode runs are reference-variant runs
    reward = (with_runs - reference[0], with_hours - reference[1])
    assert reward[0] == sum(1 for r in rs.rl_runs(with_reward) if r.reward == "custom_flexible") == len(cfg["models"])
    want = [all_sweeps, *swept[:3], reward, swept[3]]  # the order of the comments
    assert [(n, round(h, 2)) for n, h in stated] == [(n, round(h, 2)) for n, h in want]
    assert f"top of the reference runs' {reference[1]:.2f}" in text


def rs_without_train_sweep(cfg: dict) -> dict:
    """The config without its ``train`` sweep (and so without the MATH set's preparation)."""
    out = copy.deepcopy(cfg)
    out["grpo"]["sweeps"] = [s for s in out["grpo"]["sweeps"] if s["key"] != rs.TRAIN]
    return out


def test_the_train_sweep_trains_on_math_and_the_mix():
    """RL on MATH and on GSM8K + MATH: the variants read the MATH set (prepared as rl_train_math) and GSM8K train."""
    cfg = rc.load_config(ABLATIONS)
    assert rs.train_datasets(cfg) == ["rl_train", "rl_train_math"]
    assert rs.run_train(cfg, "train=math/") == ["math"] and rs.run_train(cfg, "train=gsm8k+math/") == ["gsm8k", "math"]
    assert rs.train_sets(cfg)["math"]["source"] == "hf:math"


def _job_blocks(text: str) -> list[str]:
    """A dry run's job blocks (from each ``rule <name>:`` line to the next blank or timestamp line), sorted, without
    what differs from run to run (job ids, the reasons' set order)."""
    blocks = re.findall(r"^(?:local)?rule \w+:\n(?:[ \t]+.*\n)*", text + "\n", flags=re.M)
    return sorted("\n".join(ln for ln in b.splitlines() if not re.search(r"reason:|jobid:", ln)) for b in blocks)


def test_reward_mode_sweep_plans_the_reward_modes_dag(tmp_path):
    """The micro study written with grpo.reward_mode + a reward_mode sweep dry-runs to the very jobs (rules, inputs,
    outputs, wildcards, resources) its grpo.reward_modes spelling does."""
    raw = _raw(MICRO)
    first, *others = raw["grpo"].pop("reward_modes")
    raw["grpo"]["reward_mode"] = first
    raw["grpo"]["sweeps"] = [{"key": "reward_mode", "values": others}]
    swept = tmp_path / "micro-sweep.yaml"
    swept.write_text(yaml.safe_dump(raw))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    counts_a, text_a = _dry_run(tmp_path / "a", MICRO)
    counts_b, text_b = _dry_run(tmp_path / "b", swept)
    assert counts_a == counts_b
    blocks = _job_blocks(text_a)
    assert len(blocks) == sum(counts_a.values()) and blocks == _job_blocks(
        text_b.replace(str(tmp_path / "b"), str(tmp_path / "a"))
    )


def test_the_readme_states_the_measured_cost(cfg):
    """README's study table: the ablations' runs and GPU-hours (rounded) as `rlscaling gpu-hours` prints them."""
    totals = variant_totals(estimate_gpu_hours(cfg)).set_index("variant").drop(["total", "reference"])
    row = next(ln for ln in (ROOT / "README.md").read_text().splitlines() if "configs/qwen3-ablations.yaml` |" in ln)
    assert f"{int(totals['runs'].sum())} more GRPO runs, {totals['gpu_hours'].sum():.0f} GPU-h" in row
