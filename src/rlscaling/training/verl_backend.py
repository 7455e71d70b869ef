"""GRPO through verl 0.9 (``python -m verl.trainer.main_ppo``): parquet data, Hydra overrides, launch, merge, log.

verl is never imported here: it lives in its own environment (``envs/verl.yaml``; it pins older transformers and
tokenizers than the rest of the stack), and this module only writes its inputs, runs it as a subprocess and reads
what it leaves on disk. Every Hydra key below was checked against verl 0.9.1's
``verl/trainer/config/_generated_ppo_trainer.yaml``; ``.ci/verl_check.sh`` composes the generated overrides with
verl's own Hydra config and runs verl's ``validate_config`` on them for every model size.

Data. Rows follow verl's ``examples/data_preprocess/gsm8k.py`` layout (``data_source``, ``prompt``, ``ability``,
``reward_model``, ``extra_info``). ``prompt`` is a chat list with one user message holding our plain-text prompt,
because verl's dataset (``data.return_raw_chat=True``, its default) always passes the messages through the
tokenizer's chat template before generation. The Qwen3 *Base* tokenizers ship the ChatML template, which would wrap
the prompt in ``<|im_start|>user ... <|im_start|>assistant`` tags the base model never saw in evaluation; we
therefore set ``actor_rollout_ref.model.custom_chat_template`` to :data:`PLAIN_CHAT_TEMPLATE`, which renders the
message contents verbatim, so RL prompts are token-for-token the prompts used in evaluation (no chat template).

Logging. ``trainer.logger=['console','file']``: verl's file logger writes one JSON line per step
(``{"step": k, "data": {metric: value}}``) to ``$VERL_FILE_LOGGER_PATH``, and ``trainer.rollout_data_dir`` dumps
every step's sampled responses with their rewards (``<step>.jsonl``). ``tokens.csv`` is derived from both; see
:func:`step_record`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import reduce
from pathlib import Path
from typing import Any

from ..config import grpo_settings
from ..io import atomic_dir, atomic_path, write_json
from .common import GRPOSettings, StepRecord, TokensLog, check_data_budget

# verl's names for our canonical settings (rlscaling.training.common canonicalises low_var_kl -> k3).
KL_LOSS_TYPE = {"k1": "kl", "k2": "mse", "k3": "low_var_kl"}
LOSS_AGG_MODE = {"grpo": "seq-mean-token-mean", "dapo": "token-mean", "dr_grpo": "seq-mean-token-sum-norm"}
TORCH_DTYPE = {"bf16": "bfloat16", "fp32": "float32"}

PLAIN_CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
"""Jinja chat template that renders messages verbatim: base models see plain text, as in evaluation."""

PARQUET_COLUMNS = ("data_source", "prompt", "ability", "reward_model", "extra_info")

# verl-only knobs (config ``grpo.verl``) and their defaults; per-model ``models.<m>.grpo.verl`` overrides them.
VERL_DEFAULTS: dict[str, Any] = {
    "rollout_name": "vllm",                  # rollout engine (vllm | sglang)
    "tensor_model_parallel_size": 1,         # rollout TP degree
    "gpu_memory_utilization": 0.6,           # fraction of GPU memory the rollout engine may take
    "ppo_mini_batch_size": 128,              # prompts per policy update (x rollouts_per_prompt sequences)
    "ppo_micro_batch_size_per_gpu": 16,      # sequences per forward/backward on one GPU
    "log_prob_micro_batch_size_per_gpu": 32,  # sequences per log-prob forward (old policy, reference)
    "param_offload": False,                  # FSDP parameter offload to CPU (actor and reference)
    "optimizer_offload": False,              # FSDP optimizer-state offload to CPU
    "use_remove_padding": True,              # packed sequences (needs flash-attn)
    "attn_implementation": "flash_attention_2",  # actor/reference attention; sdpa + no remove-padding: no flash-attn
    "nnodes": 1,
    "keep_fsdp_checkpoints": False,          # keep verl's FSDP checkpoints (optimizer state) after merging to HF
    "extra_overrides": [],                   # raw Hydra overrides appended last (escape hatch; logged in run.json)
}


class VerlError(RuntimeError):
    """verl failed or left outputs this module cannot read; the message names the file or command."""


# ----------------------------------------------------------------------------------------------------- data


def data_source_name(source: str) -> str:
    """verl ``data_source`` of a data spec: ``hf:gsm8k`` -> ``gsm8k``, ``procedural:<task>?..`` -> ``procedural``."""
    if not isinstance(source, str) or ":" not in source:
        raise ValueError(f"data source {source!r}: expected 'hf:<name>', 'procedural:<task>' or 'jsonl:<path>'")
    kind, rest = source.split(":", 1)
    if kind == "hf":
        return rest.split("?", 1)[0]
    return kind


def verl_rows(rows: Iterable[Mapping], data_source: str, reward_mode: str, split: str = "train") -> list[dict]:
    """Training rows ``{"prompt", "answer"[, "id"]}`` -> verl records (see the module docstring for the layout).

    ``extra_info.reward_mode`` tells ``rlscaling.rewards.compute_score`` which scorer gives the reward.
    """
    out = []
    for index, row in enumerate(rows):
        missing = [k for k in ("prompt", "answer") if k not in row]
        if missing:
            raise ValueError(f"training row {index}: missing keys {missing} (got {sorted(row)})")
        if not isinstance(row["prompt"], str) or not row["prompt"]:
            raise ValueError(f"training row {index}: 'prompt' must be a non-empty string")
        out.append({
            "data_source": data_source,
            "prompt": [{"role": "user", "content": row["prompt"]}],
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": str(row["answer"])},
            "extra_info": {"split": split, "index": index, "id": str(row.get("id", index)), "reward_mode": reward_mode},
        })
    if not out:
        raise ValueError("no training rows")
    return out


def write_verl_parquet(rows: Iterable[Mapping], path: str | os.PathLike, data_source: str, reward_mode: str,
                       split: str = "train") -> int:
    """Write training rows as a verl parquet file (atomically); returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = verl_rows(rows, data_source, reward_mode, split)
    table = pa.Table.from_pylist(records)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(records)


# ------------------------------------------------------------------------------------------------ overrides


def verl_knobs(cfg: Mapping, model: str) -> dict[str, Any]:
    """``grpo.verl`` with ``models.<model>.grpo.verl`` applied over :data:`VERL_DEFAULTS`; unknown keys raise."""
    merged = dict(VERL_DEFAULTS)
    for where, section in (("grpo.verl", (cfg.get("grpo") or {}).get("verl")),
                           (f"models.{model}.grpo.verl", ((cfg["models"][model].get("grpo") or {}).get("verl")))):
        if section is None:
            continue
        if not isinstance(section, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {section!r}")
        unknown = sorted(set(section) - set(VERL_DEFAULTS))
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; known: {sorted(VERL_DEFAULTS)}")
        for key, value in section.items():
            _check_knob(where, key, value)
        merged.update(section)
    return merged


def _check_knob(where: str, key: str, value: Any) -> None:
    """A verl knob must have its default's type (an int where a float is expected is fine)."""
    want = type(VERL_DEFAULTS[key])
    ok = isinstance(value, want) and (want is bool or not isinstance(value, bool))
    if want is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if want is int and ok and value < 1:
        ok = False
    if not ok:
        raise ValueError(f"{where}.{key}: expected {'a positive ' if want is int else 'a '}{want.__name__}, "
                         f"got {value!r}")


def n_gpus(cfg: Mapping, model: str) -> int:
    """GPUs per node for a model's GRPO job: ``models.<model>.resources.grpo.gpus`` (default 1)."""
    gpus = ((cfg["models"][model].get("resources") or {}).get("grpo") or {}).get("gpus", 1)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise ValueError(f"models.{model}.resources.grpo.gpus: verl needs an integer >= 1, got {gpus!r}")
    return gpus


def save_freq(save_steps: Sequence[int]) -> int:
    """verl saves every ``save_freq`` steps and at the last step: the gcd of the steps we want covers them all."""
    return reduce(math.gcd, (int(s) for s in save_steps))


def hydra_value(value: Any) -> str:
    """A Python value in Hydra's override grammar (strings single-quoted, so paths and templates stay strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot pass non-finite float {value!r} to Hydra")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    raise TypeError(f"no Hydra form for {type(value).__name__} {value!r}")


def override_map(cfg: Mapping, model: str, paths: Mapping[str, str]) -> dict[str, Any]:
    """Every Hydra key we set for one model's GRPO run -> its Python value (see :func:`build_overrides`).

    ``paths`` keys: ``model_dir`` (HF base model), ``train_parquet``, ``val_parquet``, ``ckpt_dir`` (verl's FSDP
    checkpoints), ``rollout_dir`` (per-step generation dumps), ``reward_path`` (the file defining
    ``compute_score``; default: :func:`reward_module_path`).
    """
    missing = [k for k in ("model_dir", "train_parquet", "val_parquet", "ckpt_dir", "rollout_dir") if k not in paths]
    if missing:
        raise ValueError(f"build_overrides: paths is missing {missing}")
    s = GRPOSettings.from_config(grpo_settings(dict(cfg), model), int(cfg.get("seed", 0)))
    v = verl_knobs(cfg, model)
    gpus = n_gpus(cfg, model)
    if s.prompts_per_step % v["ppo_mini_batch_size"]:
        raise ValueError(f"grpo.prompts_per_step={s.prompts_per_step} is not a multiple of "
                         f"grpo.verl.ppo_mini_batch_size={v['ppo_mini_batch_size']} (model {model})")
    dtype = TORCH_DTYPE[s.precision]
    arr, actor, rollout, ref = "actor_rollout_ref", "actor_rollout_ref.actor", "actor_rollout_ref.rollout", \
        "actor_rollout_ref.ref"
    o: dict[str, Any] = {
        "algorithm.adv_estimator": "grpo",
        "algorithm.norm_adv_by_std_in_grpo": True,
        "algorithm.use_kl_in_reward": False,
        "data.train_files": str(paths["train_parquet"]),
        "data.val_files": str(paths["val_parquet"]),
        "data.prompt_key": "prompt",
        "data.train_batch_size": s.prompts_per_step,
        "data.max_prompt_length": s.max_prompt_tokens,
        "data.max_response_length": s.max_response_tokens,
        "data.filter_overlong_prompts": True,
        "data.truncation": "error",
        "data.shuffle": True,
        "data.seed": s.seed,
        f"{arr}.model.path": str(paths["model_dir"]),
        f"{arr}.model.custom_chat_template": PLAIN_CHAT_TEMPLATE,
        f"{arr}.model.enable_gradient_checkpointing": s.gradient_checkpointing,
        f"{arr}.model.use_remove_padding": bool(v["use_remove_padding"]),
        f"{actor}.optim.lr": s.lr,
        f"{actor}.ppo_mini_batch_size": int(v["ppo_mini_batch_size"]),
        f"{actor}.ppo_micro_batch_size_per_gpu": int(v["ppo_micro_batch_size_per_gpu"]),
        f"{actor}.ppo_epochs": 1,
        f"{actor}.use_kl_loss": s.kl_coef > 0,
        f"{actor}.kl_loss_coef": s.kl_coef,
        f"{actor}.kl_loss_type": KL_LOSS_TYPE[s.kl_estimator],
        f"{actor}.loss_agg_mode": LOSS_AGG_MODE[s.loss_type],
        f"{actor}.entropy_coeff": 0,  # an int: verl declares the default as 0
        f"{actor}.data_loader_seed": s.seed,
        f"{actor}.fsdp_config.dtype": dtype,
        f"{actor}.fsdp_config.param_offload": bool(v["param_offload"]),
        f"{actor}.fsdp_config.optimizer_offload": bool(v["optimizer_offload"]),
        f"{rollout}.name": str(v["rollout_name"]),
        f"{rollout}.n": s.rollouts_per_prompt,
        f"{rollout}.temperature": s.temperature,
        f"{rollout}.dtype": dtype,
        f"{rollout}.seed": s.seed,
        f"{rollout}.tensor_model_parallel_size": int(v["tensor_model_parallel_size"]),
        f"{rollout}.gpu_memory_utilization": float(v["gpu_memory_utilization"]),
        f"{rollout}.log_prob_micro_batch_size_per_gpu": int(v["log_prob_micro_batch_size_per_gpu"]),
        f"{ref}.log_prob_micro_batch_size_per_gpu": int(v["log_prob_micro_batch_size_per_gpu"]),
        f"{ref}.fsdp_config.dtype": dtype,
        f"{ref}.fsdp_config.param_offload": bool(v["param_offload"]),
        "reward.custom_reward_function.path": str(paths.get("reward_path") or reward_module_path()),
        "reward.custom_reward_function.name": "compute_score",
        "trainer.logger": ["console", "file"],
        "trainer.project_name": "rlscaling",
        "trainer.experiment_name": model,
        "trainer.nnodes": int(v["nnodes"]),
        "trainer.n_gpus_per_node": gpus,
        "trainer.total_epochs": s.epochs,
        "trainer.total_training_steps": s.steps,
        "trainer.save_freq": save_freq(s.save_steps),
        "trainer.test_freq": -1,
        "trainer.val_before_train": False,
        "trainer.critic_warmup": 0,
        "trainer.resume_mode": "auto",
        "trainer.default_local_dir": str(paths["ckpt_dir"]),
        "trainer.rollout_data_dir": str(paths["rollout_dir"]),
        # Ray inside the job uses the CPUs SLURM gave the job (models.<m>.resources.grpo.cpus), not the node's
        "ray_kwargs.ray_init.num_cpus": job_cpus(cfg, model),
    }
    return o


def job_cpus(cfg: Mapping, model: str) -> int | None:
    """CPUs of a model's GRPO job (``models.<model>.resources.grpo.cpus``), None when not set."""
    cpus = ((cfg["models"][model].get("resources") or {}).get("grpo") or {}).get("cpus")
    return None if cpus is None else int(cpus)


def needs_flash_attn(knobs: Mapping[str, Any]) -> bool:
    """verl imports flash-attn for packed sequences (``use_remove_padding``) and flash_attention_2 attention."""
    return bool(knobs["use_remove_padding"]) or knobs["attn_implementation"] == "flash_attention_2"


def build_overrides(cfg: Mapping, model: str, paths: Mapping[str, str]) -> list[str]:
    """Hydra overrides (``key=value`` strings) for ``python -m verl.trainer.main_ppo``, from the workflow config.

    Settings come from ``grpo`` (with ``models.<model>.grpo`` applied) and ``grpo.verl``; GPUs from
    ``models.<model>.resources.grpo.gpus``. ``grpo.verl.extra_overrides`` are appended verbatim, last.
    """
    overrides = [f"{k}={hydra_value(v)}" for k, v in override_map(cfg, model, paths).items()]
    knobs = verl_knobs(cfg, model)
    # a key verl's config does not declare (override_config is an empty dict there): Hydra's '+' adds it
    overrides.append("+actor_rollout_ref.model.override_config.attn_implementation="
                     + hydra_value(knobs["attn_implementation"]))
    extra = knobs["extra_overrides"]
    if not isinstance(extra, list) or not all(isinstance(e, str) and "=" in e for e in extra):
        raise ValueError(f"grpo.verl.extra_overrides: expected a list of 'key=value' strings, got {extra!r}")
    return overrides + list(extra)


def reward_module_path() -> str:
    """File verl loads ``compute_score`` from (``reward.custom_reward_function.path``): ``rlscaling/rewards/verl_entry.py``,
    a standalone module that imports the package's entry point (verl loads it by file path, not as a package)."""
    from ..rewards import verl_entry_path

    return str(verl_entry_path())


# ------------------------------------------------------------------------------------------- verl outputs


def checkpoint_steps_on_disk(ckpt_dir: str | os.PathLike) -> list[int]:
    """Steps with a saved actor checkpoint (``global_step_<N>/actor/``) under verl's ``default_local_dir``."""
    root = Path(ckpt_dir)
    if not root.is_dir():
        return []
    steps = []
    for child in root.iterdir():
        m = re.fullmatch(r"global_step_(\d+)", child.name)
        if m and (child / "actor").is_dir():
            steps.append(int(m.group(1)))
    return sorted(steps)


def read_metrics(path: str | os.PathLike) -> dict[int, dict[str, float]]:
    """verl's file-logger JSONL -> ``{step: metrics}``; a resumed run's later line for a step wins.

    Malformed lines raise ``VerlError`` naming file and line (a truncated last line, from a killed run, is skipped).
    """
    out: dict[int, dict[str, float]] = {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            step, data = int(obj["step"]), dict(obj["data"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if lineno == len(lines):
                continue
            raise VerlError(f"{path}:{lineno}: not a verl metrics line ({exc})") from None
        out.setdefault(step, {}).update(data)
    return out


_CONSOLE_STEP = re.compile(r"step:(\d+) - (.*)$")


def parse_console_metrics(lines: Iterable[str]) -> dict[int, dict[str, float]]:
    """verl's console logger lines (``step:3 - key:value - key:value``) -> ``{step: metrics}`` (fallback reader)."""
    out: dict[int, dict[str, float]] = {}
    for line in lines:
        m = _CONSOLE_STEP.search(line.rstrip("\n"))
        if not m:
            continue
        metrics = {}
        for item in m.group(2).split(" - "):
            key, sep, value = item.rpartition(":")
            if not sep:
                continue
            try:
                metrics[key.strip()] = float(value)
            except ValueError:
                continue
        out.setdefault(int(m.group(1)), {}).update(metrics)
    return out


def rollout_scores(path: str | os.PathLike) -> list[float]:
    """Rewards of one step's sampled responses from verl's rollout dump ``<rollout_data_dir>/<step>.jsonl``."""
    scores = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                scores.append(float(json.loads(line)["score"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise VerlError(f"{path}:{lineno}: no numeric 'score' ({exc})") from None
    return scores


def _first(metrics: Mapping[str, float], keys: Sequence[str], step: int) -> float:
    for key in keys:
        if key in metrics:
            return float(metrics[key])
    raise VerlError(f"verl metrics of step {step} lack all of {list(keys)}; got {sorted(metrics)[:12]}...")


def step_record(step: int, metrics: Mapping[str, float], n_sequences: int,
                scores: Sequence[float] | None) -> StepRecord:
    """One ``tokens.csv`` row from verl's metrics for a step.

    - ``prompt_tokens`` = ``prompt_length/mean`` x ``n_sequences`` and ``completion_tokens`` =
      ``response_length/mean`` x ``n_sequences`` (verl averages non-pad lengths over every sampled sequence; each
      rollout counts its prompt), rounded to whole tokens;
    - ``reward_mean`` / ``reward_std`` from the step's rollout dump (population std); without a dump, the mean is
      ``critic/score/mean`` and the std is NaN;
    - ``kl``: ``actor/kl_loss`` (the low-variance KL estimate, mean per token), None when absent;
    - ``wall_s``: ``timing_s/step`` (seconds).
    """
    prompt_mean = _first(metrics, ("prompt_length/mean",), step)
    response_mean = _first(metrics, ("response_length/mean",), step)
    if scores:
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((x - mean) ** 2 for x in scores) / len(scores))
    else:
        mean, std = _first(metrics, ("critic/score/mean", "critic/rewards/mean"), step), float("nan")
    kl = next((float(metrics[k]) for k in ("actor/kl_loss", "kl_loss") if k in metrics), None)
    return StepRecord(
        step=step,
        prompt_tokens=int(round(prompt_mean * n_sequences)),
        completion_tokens=int(round(response_mean * n_sequences)),
        n_sequences=n_sequences,
        reward_mean=mean,
        reward_std=std,
        kl=kl,
        wall_s=_first(metrics, ("timing_s/step", "perf/time_per_step"), step),
    )


def write_tokens_log(metrics: Mapping[int, Mapping[str, float]], steps: int, n_sequences: int,
                     rollout_dir: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Write ``tokens.csv`` for steps 1..``steps``; a step missing from verl's metrics raises ``VerlError``."""
    missing = [k for k in range(1, steps + 1) if k not in metrics]
    if missing:
        raise VerlError(f"verl metrics lack steps {missing[:10]} (of 1..{steps}); cannot account C_rl")
    with TokensLog(out_path) as log:
        for k in range(1, steps + 1):
            dump = Path(rollout_dir) / f"{k}.jsonl"
            scores = rollout_scores(dump) if dump.is_file() else None
            log.append(step_record(k, metrics[k], n_sequences, scores))
    return Path(out_path)


def merge_command(actor_dir: str | os.PathLike, target_dir: str | os.PathLike, python: str | None = None) -> list[str]:
    """verl's FSDP -> Hugging Face merger for one ``global_step_<N>/actor`` directory."""
    return [python or sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp",
            "--local_dir", str(actor_dir), "--target_dir", str(target_dir)]


def merge_checkpoint(ckpt_dir: str | os.PathLike, step: int, out_dir: str | os.PathLike, log_path: str | os.PathLike,
                     python: str | None = None) -> Path:
    """Merge ``global_step_<step>/actor`` into ``<out_dir>/step_<step>/`` (HF format, written atomically)."""
    actor = Path(ckpt_dir) / f"global_step_{step}" / "actor"
    if not actor.is_dir():
        raise VerlError(f"no verl checkpoint at {actor}")
    target = Path(out_dir) / f"step_{step}"
    with atomic_dir(target) as tmp, open(log_path, "a", encoding="utf-8") as log:
        cmd = merge_command(actor, tmp, python)
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        if rc != 0:
            raise VerlError(f"verl.model_merger failed (exit {rc}) for {actor}; see {log_path}")
        if not (Path(tmp) / "config.json").is_file():
            raise VerlError(f"verl.model_merger wrote no config.json for {actor}; see {log_path}")
    return target


# ------------------------------------------------------------------------------------------------- launch


def verl_passes(settings: GRPOSettings) -> dict[str, Any]:
    """The passes verl 0.9 performs per step besides rollout and update (``rlscaling.compute.GRPOPasses``).

    verl always recomputes the behaviour policy's log-probs in a separate forward pass (``compute_log_prob``,
    needed for its PPO ratio even with one update epoch) and runs the reference model when the KL loss is on.
    """
    return {"ref_forward": settings.kl_coef > 0, "old_policy_forward": True, "update_epochs": 1}


def launch_grpo(cfg: Mapping, model: str, model_dir: str, train_rows: Sequence[Mapping], out_dir: str,
                state_dir: str, python: str | None = None, env: Mapping[str, str] | None = None) -> dict:
    """Train one model with GRPO through verl; writes ``step_<k>/`` (HF), ``tokens.csv`` and ``run.json``.

    verl's state (FSDP checkpoints, metrics, rollout dumps, logs) lives in ``state_dir``, outside the rule's output
    ``out_dir``: Snakemake deletes a failed job's outputs before it retries (``retries``) or reruns it
    (``--rerun-incomplete``), and the state survives that, so a preempted run resumes from its last FSDP checkpoint
    (``trainer.resume_mode=auto``). Once every step is merged to ``out_dir/step_<k>/`` and ``run.json`` is written,
    verl's logs are copied to ``out_dir/verl/`` and the state is deleted (FSDP checkpoints, about 16 bytes per
    parameter each, are kept only with ``grpo.verl.keep_fsdp_checkpoints``). ``python`` runs verl (default: this
    interpreter, i.e. the verl environment the job was started in).
    """
    out, work = Path(out_dir), Path(state_dir)
    work.mkdir(parents=True, exist_ok=True)
    python = python or sys.executable
    settings = GRPOSettings.from_config(grpo_settings(dict(cfg), model), int(cfg.get("seed", 0)))
    if _finished(out, settings):
        return json.loads((out / "run.json").read_text(encoding="utf-8"))
    check_data_budget(settings, len(train_rows))
    source = data_source_name(cfg["data"]["rl_train"]["source"])
    paths = {
        "model_dir": str(model_dir),
        "train_parquet": str(work / "train.parquet"),
        "val_parquet": str(work / "val.parquet"),
        "ckpt_dir": str(work / "checkpoints"),
        "rollout_dir": str(work / "rollouts"),
    }
    write_verl_parquet(train_rows, paths["train_parquet"], source, settings.reward_mode)
    # Never evaluated (trainer.test_freq=-1, val_before_train=False) but verl builds a validation loader anyway.
    write_verl_parquet(list(train_rows)[:8], paths["val_parquet"], source, settings.reward_mode, split="val")
    overrides = build_overrides(cfg, model, paths)
    metrics_path = work / "metrics.jsonl"
    log_path = work / "train.log"
    run_env = {**os.environ, **(env or {}), "VERL_FILE_LOGGER_PATH": str(metrics_path)}
    last_needed = settings.save_steps[-1]
    resumed_from = max(checkpoint_steps_on_disk(paths["ckpt_dir"]), default=0)
    t0 = time.time()
    if last_needed not in checkpoint_steps_on_disk(paths["ckpt_dir"]):
        cmd = [python, "-m", "verl.trainer.main_ppo", *overrides]
        if metrics_path.exists():  # verl's file logger truncates it: keep the earlier attempt's steps
            shutil.copyfile(metrics_path, work / f"metrics.{time.time_ns()}.jsonl")
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"# resuming after step {resumed_from}\n" if resumed_from else "# starting at step 1\n")
            log.write("$ " + " ".join(cmd) + "\n")
            log.flush()
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=run_env, check=False).returncode
        if rc != 0:
            raise VerlError(f"verl.trainer.main_ppo failed (exit {rc}); see {log_path} (state kept in {work}: "
                            "a rerun resumes from its last checkpoint)")
    metrics = _all_metrics(work)
    on_disk = set(checkpoint_steps_on_disk(paths["ckpt_dir"]))
    absent = [k for k in settings.save_steps if k not in on_disk]
    if absent:
        raise VerlError(f"verl saved no checkpoint for steps {absent} under {paths['ckpt_dir']}")
    out.mkdir(parents=True, exist_ok=True)
    for k in settings.save_steps:
        if not (out / f"step_{k}" / "config.json").is_file():
            merge_checkpoint(paths["ckpt_dir"], k, out, work / "merge.log", python)
    write_tokens_log(metrics, settings.steps, settings.sequences_per_step, paths["rollout_dir"], out / "tokens.csv")
    run = {"backend": "verl", "model": model, "settings": settings.to_dict(), "verl": verl_knobs(cfg, model),
           "passes": verl_passes(settings), "overrides": overrides, "resumed_from_step": resumed_from,
           "wall_s": time.time() - t0}
    keep = run["verl"]["keep_fsdp_checkpoints"]
    logs = out / "verl"
    logs.mkdir(exist_ok=True)
    for f in [log_path, work / "merge.log", *sorted(work.glob("metrics*.jsonl"))]:
        if f.is_file():
            shutil.copyfile(f, logs / f.name)
    if keep:
        run["fsdp_checkpoints"] = str(paths["ckpt_dir"])
    write_json(out / "run.json", run)  # from here on the run counts as finished
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return run


def _finished(out: Path, settings: GRPOSettings) -> bool:
    """A previous call completed: ``run.json``, ``tokens.csv`` and every merged ``step_<k>/`` exist."""
    return (out / "run.json").is_file() and (out / "tokens.csv").is_file() and all(
        (out / f"step_{k}" / "config.json").is_file() for k in settings.save_steps)


def _all_metrics(work: Path) -> dict[int, dict[str, float]]:
    """Metrics of every step across restarts (older copies first, so the latest run wins)."""
    merged: dict[int, dict[str, float]] = {}
    copies = sorted(work.glob("metrics.*.jsonl")) + [work / "metrics.jsonl"]
    for path in copies:
        if path.is_file():
            for step, m in read_metrics(path).items():
                merged.setdefault(step, {}).update(m)
    if not merged and (work / "train.log").is_file():
        with open(work / "train.log", encoding="utf-8", errors="replace") as fh:
            merged = parse_console_metrics(fh)
    return merged
