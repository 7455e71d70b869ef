"""verl backend without verl: generated command line vs the seed's settings, parquet layout, reward signature, log
parsing, and launch/resume/merge plumbing against a fake ``python -m verl...`` interpreter."""

from __future__ import annotations

import csv
import inspect
import json
import shutil
import stat
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rlscaling import rewards
from rlscaling.training import verl_backend as vb
from rlscaling.workflow import config as rc

ROOT = Path(__file__).resolve().parents[1]
PATHS = {
    "model_dir": "/m",
    "train_parquet": "/d/train.parquet",
    "val_parquet": "/d/val.parquet",
    "ckpt_dir": "/c",
    "rollout_dir": "/r",
}
# The seed study's settings (shared/seed): batch 512 prompts, 3 rollouts, lr 1e-6, KL 0.001 low-variance,
# bf16 + gradient checkpointing, 512 + 512 tokens, 4 epochs for every size (seed_recipe.md (d)).
SEED = {
    "algorithm.adv_estimator": "grpo",
    "data.train_batch_size": 512,
    "actor_rollout_ref.rollout.n": 3,
    "actor_rollout_ref.actor.optim.lr": 1e-6,
    "actor_rollout_ref.actor.use_kl_loss": True,
    "actor_rollout_ref.actor.kl_loss_coef": 0.001,
    "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
    "algorithm.use_kl_in_reward": False,
    "data.max_prompt_length": 512,
    "data.max_response_length": 512,
    "actor_rollout_ref.actor.fsdp_config.dtype": "bfloat16",
    "actor_rollout_ref.rollout.dtype": "bfloat16",
    "actor_rollout_ref.model.enable_gradient_checkpointing": True,
    "trainer.resume_mode": "auto",
    "reward.custom_reward_function.name": "compute_score",
    "actor_rollout_ref.rollout.name": "vllm",
}
EPOCHS = {"qwen3-0.6b": 4, "qwen3-1.7b": 4, "qwen3-4b": 4, "qwen3-8b": 4, "qwen3-14b": 4}  # 4 for every size


@pytest.fixture(scope="module")
def qwen3():
    return rc.load_config(ROOT / "configs" / "qwen3.yaml", validate=False)


def parse(overrides):
    """``key=value`` strings back into Python values (the subset of Hydra's grammar hydra_value writes)."""
    import ast

    out = {}
    for item in overrides:
        key, value = item.split("=", 1)
        lit = {"true": "True", "false": "False", "null": "None"}.get(value, value)
        out[key] = (
            ast.literal_eval(lit)
            if not lit.startswith("[")
            else ast.literal_eval(lit.replace("true", "True").replace("false", "False"))
        )
    return out


@pytest.mark.parametrize("model", list(EPOCHS))
def test_command_line_matches_seed_settings(qwen3, model):
    got = parse(vb.overrides_for(qwen3, model, PATHS))
    for key, want in SEED.items():
        assert got[key] == want, key
    assert got["trainer.total_epochs"] == EPOCHS[model] == 4
    assert got["trainer.total_training_steps"] == 14 * EPOCHS[model]  # 7,473 GSM8K prompts // 512 per epoch
    assert got["trainer.n_gpus_per_node"] == qwen3["models"][model]["resources"]["grpo"]["gpus"]
    assert got["trainer.default_local_dir"] == "/c" and got["actor_rollout_ref.model.path"] == "/m"
    assert got["trainer.save_freq"] == 7
    assert Path(got["reward.custom_reward_function.path"]) == Path(rewards.verl_entry_path()).resolve()
    assert got["trainer.logger"] == ["console", "file"]
    # one override per key, no duplicates; plus the attention kernel, a key verl adds with '+'
    assert len(got) == len(vb.override_map(*vb.parse_verl_job(qwen3, model), PATHS)) + 1
    # the study configs run verl without flash-attn (nothing compiled): sdpa, no packed sequences
    assert got["+actor_rollout_ref.model.override_config.attn_implementation"] == "sdpa"
    assert got["actor_rollout_ref.model.use_remove_padding"] is False
    assert not vb.needs_flash_attn(vb.verl_knobs(qwen3, model))
    assert got["ray_kwargs.ray_init.num_cpus"] == qwen3["models"][model]["resources"]["grpo"]["cpus"]


def test_per_model_verl_knobs_override_global(qwen3):
    got = parse(vb.overrides_for(qwen3, "qwen3-14b", PATHS))
    assert got["actor_rollout_ref.rollout.tensor_model_parallel_size"] == 2
    assert got["actor_rollout_ref.actor.fsdp_config.param_offload"] is True
    small = parse(vb.overrides_for(qwen3, "qwen3-0.6b", PATHS))
    assert small["actor_rollout_ref.rollout.tensor_model_parallel_size"] == 1


def test_kl_estimator_names_map_to_verl(qwen3):
    cfg = json.loads(json.dumps(qwen3))
    for ours, verls in [("k3", "low_var_kl"), ("low_var_kl", "low_var_kl"), ("k1", "kl"), ("k2", "mse")]:
        cfg["grpo"]["kl_estimator"] = ours
        assert (
            vb.override_map(*vb.parse_verl_job(cfg, "qwen3-0.6b"), PATHS)["actor_rollout_ref.actor.kl_loss_type"]
            == verls
        )


def test_bad_config_names_the_key(qwen3):
    cfg = json.loads(json.dumps(qwen3))
    cfg["grpo"]["verl"]["tensor_parallel"] = 2
    with pytest.raises(ValueError, match=r"grpo.verl: unknown keys \['tensor_parallel'\]"):
        vb.overrides_for(cfg, "qwen3-0.6b", PATHS)
    cfg = json.loads(json.dumps(qwen3))
    cfg["grpo"]["verl"]["ppo_mini_batch_size"] = 100
    with pytest.raises(ValueError, match="prompts_per_step=512 is not a multiple"):
        vb.overrides_for(cfg, "qwen3-0.6b", PATHS)
    with pytest.raises(ValueError, match="paths is missing"):
        vb.overrides_for(qwen3, "qwen3-0.6b", {"model_dir": "/m"})


def test_hydra_values_are_quoted_and_typed():
    assert vb.hydra_value(True) == "true" and vb.hydra_value(None) == "null"
    assert vb.hydra_value(1e-6) == "1e-06" and vb.hydra_value(512) == "512"
    assert vb.hydra_value("it's") == "'it\\'s'"
    assert vb.hydra_value(["console", "file"]) == "['console','file']"
    with pytest.raises(ValueError):
        vb.hydra_value(float("nan"))


def test_save_freq_covers_every_requested_step():
    assert vb.save_freq([7, 14, 56]) == 7 and vb.save_freq([10, 25]) == 5 and vb.save_freq([56]) == 56


def test_parquet_has_verl_columns(tmp_path):
    rows = [
        {"prompt": "Question: 1+1?\nAnswer:", "answer": "2", "id": "a"},
        {"prompt": "Question: 2+3?\nAnswer:", "answer": "5", "id": "b"},
    ]
    path = tmp_path / "train.parquet"
    assert vb.write_verl_parquet(rows, path, "gsm8k", "custom_flexible") == 2
    table = pq.read_table(path)
    assert tuple(table.column_names) == vb.PARQUET_COLUMNS
    first = table.to_pylist()[0]
    assert first["prompt"] == [{"role": "user", "content": "Question: 1+1?\nAnswer:"}]
    assert first["reward_model"] == {"style": "rule", "ground_truth": "2"}
    assert first["ability"] == "math" and first["data_source"] == "gsm8k"
    assert first["extra_info"] == {"split": "train", "index": 0, "id": "a", "reward_mode": "custom_flexible"}


def test_bad_rows_are_named():
    with pytest.raises(ValueError, match="training row 1: missing keys \\['answer'\\]"):
        vb.verl_rows([{"prompt": "a", "answer": "1"}, {"prompt": "b"}], "gsm8k", "strict")


def test_data_source_names():
    assert vb.data_source_name("hf:gsm8k") == "gsm8k"
    assert vb.data_source_name("procedural:chain_sum?terms=3") == "procedural"
    with pytest.raises(ValueError):
        vb.data_source_name("gsm8k")


def test_reward_entry_point_has_verls_signature():
    params = inspect.signature(rewards.compute_score).parameters
    assert list(params)[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]
    assert params["extra_info"].default is None
    # verl's NaiveRewardManager calls it with keywords only
    assert (
        rewards.compute_score(
            data_source="gsm8k",
            solution_str="2+2=4\n#### 4\nQuestion:",
            ground_truth="4",
            extra_info={"reward_mode": "custom_flexible"},
        )
        == 1.0
    )
    assert (
        rewards.compute_score(
            data_source="gsm8k", solution_str="The answer is 4", ground_truth="4", extra_info={"reward_mode": "strict"}
        )
        == 0.0
    )


def test_plain_chat_template_renders_content_verbatim():
    jinja2 = pytest.importorskip("jinja2", reason="jinja2 renders the chat template (installed with torch)")
    text = "Question: 3 apples?\nAnswer:"
    rendered = jinja2.Template(vb.PLAIN_CHAT_TEMPLATE).render(
        messages=[{"role": "user", "content": text}], add_generation_prompt=True
    )
    assert rendered == text


def test_step_record_from_metrics():
    m = {
        "prompt_length/mean": 100.5,
        "response_length/mean": 200.25,
        "actor/kl_loss": 0.01,
        "timing_s/step": 12.0,
        "critic/score/mean": 0.5,
    }
    r = vb.step_record(3, m, n_sequences=4, scores=[1.0, 0.0, 1.0, 0.0])
    assert (r.prompt_tokens, r.completion_tokens, r.n_sequences) == (402, 801, 4)
    assert (r.reward_mean, r.reward_std, r.kl, r.wall_s) == (0.5, 0.5, 0.01, 12.0)
    r = vb.step_record(3, m, n_sequences=4, scores=None)
    assert r.reward_mean == 0.5 and r.reward_std != r.reward_std  # NaN without a rollout dump
    with pytest.raises(vb.VerlError, match="step 3 lack all of \\['prompt_length/mean'\\]"):
        vb.step_record(3, {}, 4, None)


def test_console_and_file_metrics_parse(tmp_path):
    lines = ["noise", "step:2 - prompt_length/mean:10.0 - response_length/mean:3 - training/name:abc"]
    assert vb.parse_console_metrics(lines) == {2: {"prompt_length/mean": 10.0, "response_length/mean": 3.0}}
    p = tmp_path / "m.jsonl"
    p.write_text('{"step": 1, "data": {"a": 1}}\nnot json\n{"step": 2, "data": {"a": 2}}\n')
    with pytest.raises(vb.VerlError, match="m.jsonl:2"):
        vb.read_metrics(p)
    p.write_text('{"step": 1, "data": {"a": 1}}\n{"step": 1, "data": {"a": 5}}\n{"step": 2, "da')
    assert vb.read_metrics(p) == {1: {"a": 5}}  # later line wins; a truncated last line is skipped


FAKE_VERL = r'''#!{python}
"""Stands in for the verl environment's python: main_ppo writes checkpoints/metrics/dumps, model_merger a config."""
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
log = Path(os.environ["FAKE_VERL_CALLS"]); log.open("a").write(json.dumps(args) + "\n")
if args[:2] == ["-m", "verl.model_merger"]:
    target = Path(args[args.index("--target_dir") + 1]); target.mkdir(parents=True, exist_ok=True)
    (target / "config.json").write_text("{}"); sys.exit(0)
o = dict(a.split("=", 1) for a in args[2:])
ck = Path(o["trainer.default_local_dir"].strip("'"))
steps, freq = int(o["trainer.total_training_steps"]), int(o["trainer.save_freq"])
rollouts = Path(o["trainer.rollout_data_dir"].strip("'")); rollouts.mkdir(parents=True, exist_ok=True)
n = int(o["data.train_batch_size"]) * int(o["actor_rollout_ref.rollout.n"])
# verl 0.9.1 resumes from the step in latest_checkpointed_iteration.txt (find_latest_ckpt_path; none: from scratch)
tracker = ck / "latest_checkpointed_iteration.txt"
last = int(tracker.read_text()) if tracker.is_file() else 0
start = last + 1 if (ck / f"global_step_{last}").is_dir() else 1
log.open("a").write(json.dumps({"start": start, "lr": o["actor_rollout_ref.actor.optim.lr"]}) + "\n")
crash_at = int(os.environ.get("FAKE_VERL_CRASH_AT", "0"))
die_saving = int(os.environ.get("FAKE_VERL_DIE_SAVING", "0"))
with open(os.environ["VERL_FILE_LOGGER_PATH"], "w") as fh:
    for k in range(start, steps + 1):
        fh.write(json.dumps({"step": k, "data": {"prompt_length/mean": 10.0, "response_length/mean": 5.0 + k,
             "actor/kl_loss": 0.001 * k, "timing_s/step": 1.5, "critic/score/mean": 0.5}}) + "\n")
        (rollouts / f"{k}.jsonl").write_text("".join(json.dumps({"score": float(i % 2)}) + "\n" for i in range(n)))
        if k % freq == 0 or k == steps:
            (ck / f"global_step_{k}" / "actor").mkdir(parents=True, exist_ok=True)
            if k == die_saving:
                sys.exit(4)  # killed while saving: the shards are there, the tracker is not yet written
            tracker.write_text(str(k))  # after the save completes, as verl's _save_checkpoint does
        if k == crash_at:
            sys.exit(3)
'''


@pytest.fixture
def fake_python(tmp_path, monkeypatch):
    path = tmp_path / "fake-python"
    path.write_text(FAKE_VERL.replace("{python}", sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_VERL_CALLS", str(calls))
    return path, calls


def micro_cfg():
    cfg = rc.load_config(ROOT / "configs" / "qwen3.yaml", validate=False)
    cfg["models"] = {"m": {"hf_id": "x", "n_params": 1e6, "grpo": {"steps": 4, "save_every": 2, "epochs": 1}}}
    cfg["grpo"].update(prompts_per_step=2, rollouts_per_prompt=3)
    cfg["grpo"]["verl"]["ppo_mini_batch_size"] = 2
    return cfg


def launch(cfg, model_dir, rows, out, state, python):
    """:func:`vb.launch_grpo` as the job boundary calls it: model ``m``'s settings parsed once, then handed down."""
    source = cfg["data"]["rl_train"]["source"]
    return vb.launch_grpo(*vb.parse_verl_job(cfg, "m"), source, model_dir, rows, out, state, python=python)


def test_launch_resume_merge_and_tokens(tmp_path, fake_python, monkeypatch):
    python, calls = fake_python
    rows = [{"prompt": f"Q{i}?", "answer": str(i), "id": str(i)} for i in range(8)]
    out, state = tmp_path / "grpo", tmp_path / "state"
    monkeypatch.setenv("FAKE_VERL_CRASH_AT", "3")  # first attempt dies after step 3 (checkpoint at 2)
    with pytest.raises(vb.VerlError, match="main_ppo failed \\(exit 3\\)"):
        launch(micro_cfg(), "/base", rows, str(out), str(state), python=str(python))
    monkeypatch.setenv("FAKE_VERL_CRASH_AT", "0")
    run = launch(micro_cfg(), "/base", rows, str(out), str(state), python=str(python))
    assert run["backend"] == "verl" and run["settings"]["save_steps"] == [2, 4]
    assert sorted(p.name for p in out.glob("step_*")) == ["step_2", "step_4"]
    with open(out / "tokens.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in table] == [1, 2, 3, 4]
    assert [int(r["completion_tokens"]) for r in table] == [6 * (5 + k) for k in range(1, 5)]
    assert {int(r["prompt_tokens"]) for r in table} == {60} and {r["reward_std"] for r in table} == {"0.5"}
    trains = [json.loads(line) for line in calls.read_text().splitlines() if "verl.trainer.main_ppo" in line]
    assert len(trains) == 2  # resumed once; steps 1-2 come from the first attempt's saved metrics
    assert json.loads((out / "run.json").read_text())["overrides"] == trains[-1][2:]
    assert not state.exists()  # verl's state (FSDP checkpoints included) deleted once merged
    assert (out / "verl" / "train.log").is_file() and run["resumed_from_step"] == 2
    assert run["passes"] == {"ref_forward": True, "old_policy_forward": True, "update_epochs": 1}
    # A finished run is neither retrained nor re-merged.
    n_calls = len(calls.read_text().splitlines())
    assert launch(micro_cfg(), "/base", rows, str(out), str(state), python=str(python)) == run
    assert len(calls.read_text().splitlines()) == n_calls


def test_interrupted_merge_is_redone_without_retraining(tmp_path, fake_python, monkeypatch):
    python, calls = fake_python
    rows = [{"prompt": f"Q{i}?", "answer": str(i), "id": str(i)} for i in range(8)]
    cfg = micro_cfg()
    cfg["grpo"]["verl"]["keep_fsdp_checkpoints"] = True
    out, state = tmp_path / "grpo", tmp_path / "state"
    launch(cfg, "/base", rows, str(out), str(state), python=str(python))
    assert list((state / "checkpoints").glob("global_step_*"))  # kept: grpo.verl.keep_fsdp_checkpoints
    (out / "step_2" / "config.json").unlink()
    (out / "run.json").unlink()  # as after an interrupted merge: the run is not finished
    launch(cfg, "/base", rows, str(out), str(state), python=str(python))
    log = [json.loads(line) for line in calls.read_text().splitlines()]
    assert sum("verl.trainer.main_ppo" in c for c in log) == 1 and log[-1][1] == "verl.model_merger"
    assert (out / "step_2" / "config.json").is_file()


def _starts(calls: Path) -> list[int]:
    """The step each fake training attempt started at (logged by the fake main_ppo)."""
    return [c["start"] for c in map(json.loads, calls.read_text().splitlines()) if isinstance(c, dict)]


ROWS = [{"prompt": f"Q{i}?", "answer": str(i), "id": str(i)} for i in range(8)]


def _attempt_dies(monkeypatch, python: Path, out: Path, state: Path, variable: str, step: int, code: int) -> None:
    """One launch whose fake verl exits with ``code`` at ``step`` (``variable``: FAKE_VERL_CRASH_AT after the step,
    FAKE_VERL_DIE_SAVING while saving it); later launches run to the end."""
    monkeypatch.setenv(variable, str(step))
    with pytest.raises(vb.VerlError, match=f"exit {code}"):
        launch(micro_cfg(), "/base", ROWS, str(out), str(state), python=str(python))
    monkeypatch.setenv(variable, "0")


def test_edit_then_retry_never_resumes_the_old_state(tmp_path, fake_python, monkeypatch):
    """A run fails after its step-2 checkpoint; the config is edited; the retry starts fresh, naming what changed."""
    python, calls = fake_python
    out, state = tmp_path / "grpo", tmp_path / "state"
    _attempt_dies(monkeypatch, python, out, state, "FAKE_VERL_CRASH_AT", 3, code=3)
    assert vb.checkpoint_steps_on_disk(state / "checkpoints") == [2]
    edited = micro_cfg()
    edited["grpo"]["lr"] = 3e-6
    run = launch(edited, "/base", ROWS, str(out), str(state), python=str(python))
    assert _starts(calls) == [1, 1]  # the retry did not resume the lr=1e-6 run's checkpoint
    assert run["discarded_state"] == ["verl.actor_rollout_ref.actor.optim.lr"] and run["resumed_from_step"] == 0
    assert [int(r["step"]) for r in csv.DictReader(open(out / "tokens.csv"))] == [1, 2, 3, 4]
    assert not list((out / "verl").glob("metrics.*.jsonl"))  # no metrics of the discarded run were kept


def test_a_finished_kept_run_is_not_merged_into_an_edited_one(tmp_path, fake_python, monkeypatch):
    """keep_fsdp_checkpoints: the same settings reuse the kept state (no training); edited ones train anew."""
    python, calls = fake_python
    cfg = micro_cfg()
    cfg["grpo"]["verl"]["keep_fsdp_checkpoints"] = True
    out, state = tmp_path / "grpo", tmp_path / "state"
    first = launch(cfg, "/base", ROWS, str(out), str(state), python=str(python))
    shutil.rmtree(out)  # what Snakemake does before it reruns the job
    assert launch(cfg, "/base", ROWS, str(out), str(state), python=str(python))["resumed_from_step"] == 4
    assert _starts(calls) == [1]  # same settings: merged from the kept checkpoints, not retrained
    shutil.rmtree(out)
    cfg["grpo"]["kl_coef"] = 0.01
    run = launch(cfg, "/base", ROWS, str(out), str(state), python=str(python))
    assert _starts(calls) == [1, 1] and run["state_key"] != first["state_key"]
    assert run["discarded_state"] == ["verl.actor_rollout_ref.actor.kl_loss_coef"]
    # a finished output of another run is not taken for this one's either
    cfg["grpo"]["kl_coef"] = 0.02
    launch(cfg, "/base", ROWS, str(out), str(state), python=str(python))
    assert _starts(calls) == [1, 1, 1]


def test_other_training_data_or_base_model_is_another_run(tmp_path, fake_python):
    python, calls = fake_python
    base = tmp_path / "base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(b"weights")
    out, state = tmp_path / "grpo", tmp_path / "state"
    cfg = micro_cfg()
    launch(cfg, str(base), ROWS, str(out), str(state), python=str(python))
    other_rows = [{**r, "prompt": r["prompt"] + " "} for r in ROWS]
    run = launch(cfg, str(base), other_rows, str(out), str(state), python=str(python))
    assert run["discarded_state"] == [] and _starts(calls) == [1, 1]  # no state was left, but the output was another's
    (base / "model.safetensors").write_bytes(b"retrained")  # the base model rebuilt in place
    launch(cfg, str(base), other_rows, str(out), str(state), python=str(python))
    assert _starts(calls) == [1, 1, 1]
    launch(cfg, str(base), other_rows, str(out), str(state), python=str(python))
    assert _starts(calls) == [1, 1, 1] and not state.exists()  # unchanged: finished, nothing left behind


def test_a_checkpoint_killed_mid_save_is_redone(tmp_path, fake_python, monkeypatch):
    """Killed after writing step 4's shards but before verl's tracker: the retry resumes from step 2, not 4."""
    python, calls = fake_python
    out, state = tmp_path / "grpo", tmp_path / "state"
    _attempt_dies(monkeypatch, python, out, state, "FAKE_VERL_DIE_SAVING", 4, code=4)
    assert (state / "checkpoints" / "global_step_4" / "actor").is_dir()
    assert vb.checkpoint_steps_on_disk(state / "checkpoints") == [2]
    run = launch(micro_cfg(), "/base", ROWS, str(out), str(state), python=str(python))
    assert _starts(calls) == [1, 3] and run["resumed_from_step"] == 2
    assert (out / "step_4" / "config.json").is_file()


def test_completion_is_read_from_verls_tracker(tmp_path):
    ck = tmp_path / "ck"
    for k in (2, 4, 6):
        (ck / f"global_step_{k}" / "actor").mkdir(parents=True)
    assert vb.checkpoint_steps_on_disk(ck) == [] and vb.last_complete_step(ck) == 0  # no tracker: nothing saved
    (ck / vb.TRACKER_FILE).write_text("4")
    assert vb.checkpoint_steps_on_disk(ck) == [2, 4] and vb.last_complete_step(ck) == 4
    assert vb.prune_incomplete_checkpoints(ck) == [6] and not (ck / "global_step_6").exists()
    (ck / vb.TRACKER_FILE).write_text("")  # killed while writing the tracker itself
    assert vb.prune_incomplete_checkpoints(ck) == [2, 4] and not (ck / vb.TRACKER_FILE).exists()


def test_state_identity_names_what_differs(tmp_path):
    from rlscaling.training import verl_state

    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    (base / ".snakemake_timestamp").write_text("")
    rows = tmp_path / "train.parquet"
    vb.write_verl_parquet(ROWS, rows, "gsm8k", "strict")
    ident = verl_state.run_identity(["a.b=1", "ray_kwargs.ray_init.num_cpus=8"], rows, base)
    assert ident["verl"] == {"a.b": "1"} and list(ident["base_model"]["files"]) == ["config.json"]
    state = tmp_path / "state"
    assert verl_state.claim(state, ident) == []  # an empty state is claimed silently
    (state / "checkpoints").mkdir()
    assert verl_state.claim(state, ident) == [] and (state / "checkpoints").is_dir()  # this run's: kept
    (base / "config.json").write_text('{"retrained": true}')
    vb.write_verl_parquet(ROWS, rows, "gsm8k", "custom_flexible")
    other = verl_state.run_identity(["a.b=2"], rows, base)
    assert verl_state.differing_keys(ident, other) == ["base_model.files.config.json", "train_data_sha256", "verl.a.b"]
    assert verl_state.claim(state, other) == verl_state.differing_keys(ident, other)
    assert not (state / "checkpoints").exists() and verl_state.recorded_identity(state) == other
    (state / verl_state.SETTINGS_FILE).unlink()
    (state / "checkpoints").mkdir()
    assert verl_state.claim(state, other) == ["<no settings record>"]  # state without a record is never resumed


def test_a_grpo_job_parses_its_settings_once(tmp_path, fake_python, monkeypatch):
    """run_grpo_job (the job boundary) parses the job's settings into GRPOSettings once; the launch, the overrides,
    the state identity and the data files below it read the typed settings."""
    from rlscaling.io import write_jsonl
    from rlscaling.training import common
    from rlscaling.training.run import run_grpo_job

    python, calls = fake_python
    parsed = []
    from_config = common.GRPOSettings.from_config.__func__

    def counted(cls, section, seed):
        parsed.append(dict(section))
        return from_config(cls, section, seed)

    monkeypatch.setattr(common.GRPOSettings, "from_config", classmethod(counted))
    real_launch = vb.launch_grpo
    monkeypatch.setattr(vb, "launch_grpo", lambda *a, **k: real_launch(*a, **k, python=str(python)))
    train = tmp_path / "rl_train.jsonl"
    write_jsonl(train, [{"id": r["id"], "question": r["prompt"], "answer": r["answer"]} for r in ROWS])
    base = tmp_path / "base"  # a model directory (config.json); its weights are the fake verl's business
    base.mkdir()
    (base / "config.json").write_text("{}")
    monkeypatch.setattr("rlscaling.models.checkpoints.check_if_local", lambda path: True)
    out = tmp_path / "grpo"
    run = run_grpo_job(micro_cfg(), "m", base, train, out, tmp_path / "state")
    assert (out / "run.json").is_file() and run["settings"]["save_steps"] == [2, 4]  # the whole launch ran
    assert len(parsed) == 1 and parsed[0]["steps"] == 4  # once, with the model's overrides applied
    assert sum("verl.trainer.main_ppo" in line for line in calls.read_text().splitlines()) == 1


def test_async_checkpoint_saving_is_refused(tmp_path, fake_python):
    python, _ = fake_python
    cfg = micro_cfg()
    cfg["grpo"]["verl"]["extra_overrides"] = ["actor_rollout_ref.actor.checkpoint.async_save=true"]
    with pytest.raises(vb.VerlError, match="latest_checkpointed_iteration.txt"):
        launch(cfg, "/base", ROWS, str(tmp_path / "o"), str(tmp_path / "s"), python=str(python))


# ------------------------------------------------------------------ GRPO GPU-hour estimate
# (rlscaling.workflow.gpu_hours)


def test_gpu_hours_follow_the_flop_formulas(qwen3):
    from rlscaling.workflow.gpu_hours import estimate_gpu_hours

    table = estimate_gpu_hours(qwen3).set_index("model")
    row = table.loc["qwen3-0.6b"]
    # N + H: 0.44B non-embedding + the output head, 1,024 x 151,936 (Qwen3-0.6B's config.json)
    n, steps, seqs, tokens = 4.4e8 + 1024 * 151_936, 56, 512 * 3, 512 + 512
    assert row["flops_rollout"] == pytest.approx(2 * n * seqs * tokens * steps)
    # update 6(N+H) + reference forward 2(N+H) (kl_coef > 0) + verl's old-policy forward 2(N+H)
    assert row["flops_train"] == pytest.approx((6 + 2 + 2) * n * seqs * tokens * steps)
    g = qwen3["gpu_hours"]
    want = (
        row["flops_rollout"] / (g["peak_flops_per_s"] * g["mfu_rollout"])
        + row["flops_train"] / (g["peak_flops_per_s"] * g["mfu_update"])
    ) / 3600
    assert row["gpu_hours"] == pytest.approx(want)
    assert table.loc["qwen3-14b", "wall_hours"] == pytest.approx(table.loc["qwen3-14b", "gpu_hours"] / 8)
    assert table.loc["total", "gpu_hours"] == pytest.approx(table.drop("total")["gpu_hours"].sum())
    assert list(table.drop("total").sort_values("n_params").index) == list(EPOCHS)


def test_gpu_hours_reject_bad_assumptions(qwen3):
    from rlscaling.workflow.gpu_hours import estimate_gpu_hours

    cfg = json.loads(json.dumps(qwen3))
    cfg["gpu_hours"]["mfu"] = 0.3
    with pytest.raises(ValueError, match=r"gpu_hours: unknown keys \['mfu'\]"):
        estimate_gpu_hours(cfg)
    cfg = json.loads(json.dumps(qwen3))
    cfg["gpu_hours"]["mfu_update"] = 35
    with pytest.raises(ValueError, match="gpu_hours.mfu_update: a fraction"):
        estimate_gpu_hours(cfg)


@pytest.mark.parametrize(
    "key,value",
    [
        ("ppo_micro_batch_size_per_gpu", 1.5),
        ("param_offload", "yes"),
        ("tensor_model_parallel_size", 0),
        ("gpu_memory_utilization", True),
    ],
)
def test_verl_knob_types_are_checked(qwen3, key, value):
    cfg = json.loads(json.dumps(qwen3))
    cfg["models"]["qwen3-4b"]["grpo"]["verl"] = {key: value}
    with pytest.raises(ValueError, match=rf"models.qwen3-4b.grpo.verl.{key}: expected"):
        vb.overrides_for(cfg, "qwen3-4b", PATHS)
