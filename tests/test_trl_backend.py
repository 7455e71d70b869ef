"""GRPO through TRL: settings validation, the GRPOConfig we generate, token accounting, checkpoints, resumability.

The end-to-end tests train a random 2-layer Qwen3 (hidden 32, character tokenizer) for 3 steps on one thread;
rewards come from a local stub (last number == answer), not from ``rlscaling.rewards``.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from rlscaling.training.common import (
    GRPOSettings,
    StepRecord,
    TokensLog,
    check_data_budget,
    read_tokens_log,
)
from rlscaling.training.trl_backend import (
    build_grpo_config,
    forward_passes,
    run_grpo,
    tokenize_rows,
)

from tiny_models import make_char_tokenizer, make_tiny_model_dir

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"

BASE = {
    "backend": "trl",
    "reward_mode": "flexible",
    "rollouts_per_prompt": 4,
    "prompts_per_step": 4,
    "steps": 3,
    "save_steps": [2],
    "lr": 1e-3,
    "kl_coef": 0.01,
    "kl_estimator": "k3",
    "loss_type": "grpo",
    "temperature": 1.0,
    "max_prompt_tokens": 40,
    "max_response_tokens": 12,
    "epochs": 1,
}


def settings(**overrides) -> GRPOSettings:
    return GRPOSettings.from_config({**BASE, **overrides}, seed=7)


# ---------------------------------------------------------------- settings


def test_a_trl_grpo_job_parses_its_settings_once(tmp_path, monkeypatch):
    """run_grpo_job (the job boundary) parses the job's settings into GRPOSettings once and hands them to run_grpo."""
    from rlscaling.io import write_jsonl
    from rlscaling.training import common, trl_backend
    from rlscaling.training.run import run_grpo_job

    expected = GRPOSettings.from_config(BASE, seed=11)  # what the job must hand down, parsed before counting
    parsed, handed = [], []
    from_config = common.GRPOSettings.from_config.__func__

    def counted(cls, section, seed):
        parsed.append(dict(section))
        return from_config(cls, section, seed)

    monkeypatch.setattr(common.GRPOSettings, "from_config", classmethod(counted))
    monkeypatch.setattr(trl_backend, "run_grpo", lambda base, rows, s, out, threads: handed.append(s) or {})
    monkeypatch.setattr("rlscaling.models.checkpoints.check_if_local", lambda path: True)
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    train = tmp_path / "rl_train.jsonl"
    write_jsonl(train, [{"id": str(i), "question": f"Q{i}?", "answer": str(i)} for i in range(8)])
    job = {  # a grpo job's settings (rlscaling.workflow.job_settings): the model's grpo merged, the cell's seed
        "seed": 11,
        "grpo": dict(BASE),
        "models": {"m": {"grpo": {}, "resources": {"grpo": {}}}},
        "data": {"rl_train": {"source": "hf:gsm8k", "instruction": False}},
    }
    run_grpo_job(job, "m", base, train, tmp_path / "out")
    assert len(parsed) == 1 and handed == [expected]


def test_from_config_maps_every_key_of_the_study_config():
    from rlscaling.study import grpo_settings

    study = yaml.safe_load(CONFIG.read_text())["grpo"]
    section = grpo_settings({"grpo": study, "models": {"m": {}}}, "m")  # one run: the primary reward mode
    assert section["reward_mode"] == study["reward_modes"][0] and "reward_modes" not in section
    s = GRPOSettings.from_config(section, seed=1234)
    for key in (
        "reward_mode",
        "rollouts_per_prompt",
        "prompts_per_step",
        "steps",
        "lr",
        "kl_coef",
        "loss_type",
        "temperature",
        "max_prompt_tokens",
        "max_response_tokens",
        "epochs",
        "backend",
    ):
        assert getattr(s, key) == section[key], key
    assert s.save_steps == tuple(sorted(set(section["save_steps"]) | {section["steps"]}))
    assert s.kl_estimator == "k3" and s.seed == 1234
    assert s.sequences_per_step == section["prompts_per_step"] * section["rollouts_per_prompt"]
    assert GRPOSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_final_step_is_always_saved_and_save_every_expands():
    assert settings(save_steps=[1]).save_steps == (1, 3)
    assert settings(save_steps=None, save_every=2, steps=7).save_steps == (2, 4, 6, 7)
    assert settings(save_steps=None).save_steps == (3,)


def test_low_var_kl_is_an_alias_of_k3():
    assert settings(kl_estimator="low_var_kl").kl_estimator == "k3"


@pytest.mark.parametrize(
    ("overrides", "culprit"),
    [
        ({"save_steps": [2, 5]}, "grpo.save_steps"),
        ({"save_steps": [0]}, "grpo.save_steps"),
        ({"save_steps": [2], "save_every": 2}, "save_every"),
        ({"kl_estimator": "k4"}, "grpo.kl_estimator"),
        ({"kl_coeff": 0.1}, "kl_coeff"),
        ({"rollouts_per_prompt": 1}, "grpo.rollouts_per_prompt"),
        ({"prompts_per_step": True}, "grpo.prompts_per_step"),
        ({"lr": 0.0}, "grpo.lr"),
        ({"kl_coef": -1.0}, "grpo.kl_coef"),
        ({"temperature": float("nan")}, "grpo.temperature"),
        ({"loss_type": "ppo"}, "grpo.loss_type"),
        ({"reward_mode": "exact"}, "grpo.reward_mode"),
        ({"precision": "fp8"}, "grpo.precision"),
        ({"steps": 2.5}, "grpo.steps"),
    ],
)
def test_bad_values_name_their_key(overrides, culprit):
    with pytest.raises(ValueError, match=re.escape(culprit)):
        settings(**overrides)


def test_missing_required_key_is_named():
    section = {k: v for k, v in BASE.items() if k != "kl_coef"}
    with pytest.raises(ValueError, match="kl_coef"):
        GRPOSettings.from_config(section, seed=0)


def test_data_budget_counts_full_batches_and_caps_epochs():
    assert check_data_budget(settings(), 13) == 3
    with pytest.raises(ValueError, match="grpo.epochs"):
        check_data_budget(settings(), 11)
    with pytest.raises(ValueError, match="prompts_per_step"):
        check_data_budget(settings(), 3)


# ---------------------------------------------------------------- GRPOConfig


def test_grpo_config_sets_every_algorithmic_knob(tmp_path):
    s = settings()
    cfg = build_grpo_config(s, tmp_path, use_cpu=True)
    assert cfg.beta == s.kl_coef and cfg.loss_type == "grpo" and cfg.num_generations == 4
    assert cfg.generation_batch_size == cfg.per_device_train_batch_size == s.sequences_per_step
    assert cfg.steps_per_generation == cfg.gradient_accumulation_steps == cfg.num_iterations == 1
    assert cfg.max_steps == 3 and cfg.learning_rate == s.lr and cfg.lr_scheduler_type.value == "constant"
    assert cfg.epsilon == cfg.epsilon_high == 0.2 and cfg.scale_rewards == "group"
    assert cfg.temperature == 1.0 and cfg.top_p == 1.0 and cfg.top_k == 0 and cfg.max_completion_length == 12
    assert not (cfg.bf16 or cfg.fp16 or cfg.activation_checkpointing or cfg.use_vllm)
    assert cfg.use_bias_correction_kl is False and cfg.report_to == [] and cfg.seed == 7
    assert forward_passes(cfg) == {"ref_forward": True, "old_policy_forward": False, "update_epochs": 1}
    assert forward_passes(build_grpo_config(settings(kl_coef=0.0), tmp_path, use_cpu=True))["ref_forward"] is False


def test_grpo_config_rejects_estimators_trl_lacks_and_bf16_on_cpu(tmp_path):
    with pytest.raises(ValueError, match="grpo.kl_estimator"):
        build_grpo_config(settings(kl_estimator="k1"), tmp_path, use_cpu=True)
    with pytest.raises(ValueError, match="grpo.precision"):
        build_grpo_config(settings(precision="bf16"), tmp_path, use_cpu=True)


def test_installed_trl_uses_the_k3_kl_estimator():
    """Guard: if TRL changes its KL term, TRL_KL_ESTIMATOR (recorded in run.json) must be revisited."""
    from trl import GRPOTrainer

    source = inspect.getsource(GRPOTrainer._compute_loss)
    k3 = "torch.exp(ref_per_token_logps - per_token_logps) - (ref_per_token_logps - per_token_logps) - 1"
    assert k3 in " ".join(source.split())


# ---------------------------------------------------------------- data and tokens log


def test_tokenize_rows_counts_like_trl_and_drops_overlong_prompts():
    tok = make_char_tokenizer()
    rows = [{"prompt": "Question: 1+1?\nAnswer:", "answer": "2"}, {"prompt": "x" * 50, "answer": "0"}]
    kept, dropped = tokenize_rows(rows, tok, max_prompt_tokens=40)
    assert dropped == 1 and kept[0]["n_prompt_tokens"] == len(rows[0]["prompt"])  # one token per character
    with pytest.raises(ValueError, match=r"train_rows\[1\]"):
        tokenize_rows([rows[0], {"prompt": "q"}], tok, 40)


def test_tokens_log_flushes_partial_then_writes_atomically(tmp_path):
    path = tmp_path / "tokens.csv"
    rec = StepRecord(1, 10, 5, 2, 0.5, 0.5, None, 0.1)
    with TokensLog(path) as log:
        log.append(rec)
        assert not path.exists() and "1,10,5,2" in (tmp_path / "tokens.csv.partial").read_text()
        with pytest.raises(ValueError, match="step 1 after step 1"):
            log.append(rec)
    assert not (tmp_path / "tokens.csv.partial").exists()
    assert read_tokens_log(path) == [{**rec.__dict__}]


# ---------------------------------------------------------------- end to end


class RecordingReward:
    """Stub reward (1.0 when the completion's last number equals the answer) that records what TRL passed."""

    def __init__(self):
        self.calls = []

    def __call__(self, prompts, completions, answer, completion_ids, **kwargs):
        self.calls.append((list(prompts), list(completions), [list(c) for c in completion_ids]))
        return [1.0 if (n := re.findall(r"\d+", c)) and n[-1] == a else 0.0 for c, a in zip(completions, answer)]


def _rows(n: int = 24) -> list[dict]:
    return [{"prompt": f"Question: {i % 7} + {i % 5}?\nAnswer:", "answer": str(i % 7 + i % 5)} for i in range(n)]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("grpo")
    model_dir = make_tiny_model_dir(root / "base")
    out = root / "out"
    (out / "step_99").mkdir(parents=True)  # debris of an interrupted run: replaced, not merged
    (root / ".out.tmp-stale").mkdir()
    reward = RecordingReward()
    s = settings()
    run = run_grpo(model_dir, _rows(), s, out, threads=1, reward_fn=reward)
    return {"root": root, "model_dir": model_dir, "out": out, "run": run, "reward": reward, "settings": s}


def test_run_writes_checkpoints_log_and_run_json(tiny_run):
    out, run = tiny_run["out"], tiny_run["run"]
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "step_2", "step_3", "tokens.csv"]
    assert not (tiny_run["root"] / ".out.tmp-stale").exists()
    assert json.loads((out / "run.json").read_text()) == json.loads(json.dumps(run))
    assert run["passes"] == {"ref_forward": True, "old_policy_forward": False, "update_epochs": 1}
    assert run["kl_estimator"] == "k3" and run["grpo_config"]["beta"] == 0.01 and run["versions"]["trl"]
    rows = read_tokens_log(out / "tokens.csv")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["n_sequences"] == 16 and r["kl"] is not None and r["wall_s"] > 0 for r in rows)


def test_checkpoints_load_and_hold_trained_weights(tiny_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_run["model_dir"])
    step = tiny_run["out"] / "step_3"
    model = AutoModelForCausalLM.from_pretrained(step)
    assert AutoTokenizer.from_pretrained(step).eos_token == "<|endoftext|>"
    assert model.config.use_cache is True
    assert not any(p.name.startswith(("optimizer", "scheduler", "rng")) for p in step.iterdir())
    diffs = [(a - b).abs().max().item() for a, b in zip(model.parameters(), base.parameters())]
    assert max(diffs) > 0


def test_logged_token_counts_are_exact(tiny_run):
    """Recompute each step's tokens from what TRL generated: prompt tokens by re-tokenizing every rollout's
    prompt, completion tokens from the ids (EOS kept, nothing after it, within the length cap)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_run["model_dir"])
    s = tiny_run["settings"]
    rows = read_tokens_log(tiny_run["out"] / "tokens.csv")
    calls = tiny_run["reward"].calls
    assert len(calls) == len(rows)
    for row, (prompts, completions, ids) in zip(rows, calls):
        assert row["n_sequences"] == len(prompts) == s.sequences_per_step
        assert row["prompt_tokens"] == sum(len(tok(p)["input_ids"]) for p in prompts)
        for c, seq in zip(completions, ids):
            assert 1 <= len(seq) <= s.max_response_tokens
            assert tok.eos_token_id not in seq[:-1]
            assert tok.decode(seq, skip_special_tokens=True) == c
        assert row["completion_tokens"] == sum(len(seq) for seq in ids)


def test_same_seed_same_tokens_log(tiny_run, tmp_path):
    torch.set_num_threads(1)
    again = tmp_path / "again"
    run_grpo(tiny_run["model_dir"], _rows(), tiny_run["settings"], again, threads=1, reward_fn=RecordingReward())
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa: E731
    assert strip(read_tokens_log(again / "tokens.csv")) == strip(read_tokens_log(tiny_run["out"] / "tokens.csv"))


def test_completed_run_is_not_redone(tiny_run):
    def must_not_be_called(*args, **kwargs):
        raise AssertionError("a completed run was trained again")

    run = run_grpo(tiny_run["model_dir"], _rows(), tiny_run["settings"], tiny_run["out"], reward_fn=must_not_be_called)
    assert run == tiny_run["run"]


def test_fingerprint_does_not_depend_on_where_the_workdir_sits(tmp_path, monkeypatch):
    """A run in a copy of the workdir (same relative base model path) has the same fingerprint; another base model,
    another fingerprint."""
    from rlscaling.training.trl_backend import run_fingerprint

    rows, grpo = [{"prompt": "What is 1 + 2?", "answer": "3"}], settings()
    prints = []
    for workdir in (tmp_path / "a", tmp_path / "b"):
        (workdir / "results" / "base").mkdir(parents=True)
        monkeypatch.chdir(workdir)
        prints.append(run_fingerprint("results/base", rows, grpo))
        assert run_fingerprint(workdir / "results" / "base", rows, grpo) == prints[-1]  # absolute, inside
    assert prints[0] == prints[1]
    assert run_fingerprint("results/other", rows, grpo) != prints[1]
