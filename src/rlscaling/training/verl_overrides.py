"""The Hydra overrides that configure ``python -m verl.trainer.main_ppo`` for one model, from the workflow config.

Every Hydra key below was checked against verl 0.9.1's ``verl/trainer/config/_generated_ppo_trainer.yaml``;
``.ci/verl_check.sh`` composes the generated overrides with verl's own Hydra config and runs verl's
``validate_config`` on them for every model size.

Prompts: verl passes every prompt through the tokenizer's chat template (see :mod:`rlscaling.training.verl_data`);
with ``prompts.style: consistent`` ``actor_rollout_ref.model.custom_chat_template`` is set to
:data:`PLAIN_CHAT_TEMPLATE`, which renders the message contents verbatim, so RL prompts are token-for-token the prompts
used in evaluation (no chat template); with ``prompts.style: seed`` it is null: the tokenizer's own template renders
them, as in the seed study.

The seed's last ``train.sh`` (c764728; ../shared/reference/seed_recipe.md (d)) set, besides the GRPO settings of
``grpo``: ``model.use_fused_kernels=True`` (knob ``use_fused_kernels``; verl's default False),
``rollout.enforce_eager=False`` (knob ``enforce_eager``; verl 0.9.1's default too), ``rollout.dtype=bfloat16``
(``grpo.precision: bf16``), ``actor.ppo_mini_batch_size=512``, ``actor.ppo_micro_batch_size_per_gpu=64``,
``rollout/ref.log_prob_micro_batch_size_per_gpu=64``, ``rollout.gpu_memory_utilization=0.3`` (knobs of the same
names), ``model.trust_remote_code=True`` (not set here: Qwen3 is a transformers architecture, no remote code runs),
``trainer.save_freq=50`` / ``test_freq=4`` and ``resume_mode=disable`` (here the workflow's: ``save_freq`` from the
checkpoints the study evaluates, no in-training validation, ``resume_mode=auto`` so a preempted job resumes).

Logging: ``trainer.logger=['console','file']`` and ``trainer.rollout_data_dir``; what they write is read by
:mod:`rlscaling.training.verl_outputs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

from rlscaling.study import job_gpus, prompt_style, resources

from .common import GRPOSettings, job_grpo_settings

# verl's names for our canonical settings (rlscaling.training.common canonicalises low_var_kl -> k3).
KL_LOSS_TYPE = {"k1": "kl", "k2": "mse", "k3": "low_var_kl"}
LOSS_AGG_MODE = {"grpo": "seq-mean-token-mean", "dapo": "token-mean", "dr_grpo": "seq-mean-token-sum-norm"}
TORCH_DTYPE = {"bf16": "bfloat16", "fp32": "float32"}

PLAIN_CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
"""Jinja chat template that renders messages verbatim: base models see plain text, as in evaluation."""

# verl-only knobs (config ``grpo.verl``) and their defaults; per-model ``models.<m>.grpo.verl`` overrides them.
VERL_DEFAULTS: dict[str, Any] = {
    "rollout_name": "vllm",  # rollout engine (vllm | sglang)
    "tensor_model_parallel_size": 1,  # rollout TP degree
    "gpu_memory_utilization": 0.6,  # fraction of GPU memory the rollout engine may take
    "ppo_mini_batch_size": 128,  # prompts per policy update (x rollouts_per_prompt sequences)
    "ppo_micro_batch_size_per_gpu": 16,  # sequences per forward/backward on one GPU
    "log_prob_micro_batch_size_per_gpu": 32,  # sequences per log-prob forward (old policy, reference)
    "param_offload": False,  # FSDP parameter offload to CPU (actor and reference)
    "optimizer_offload": False,  # FSDP optimizer-state offload to CPU
    "use_remove_padding": False,  # packed sequences: needs flash-attn (opt-in, envs/verl-flash-attn.sh)
    "attn_implementation": "sdpa",  # actor/reference attention; flash_attention_2 needs flash-attn (opt-in)
    "nnodes": 1,
    "keep_fsdp_checkpoints": False,  # keep verl's FSDP checkpoints (optimizer state) after merging to HF
    "use_fused_kernels": False,  # verl's fused log-prob kernels (model.use_fused_kernels; the seed set True)
    "enforce_eager": False,  # rollout engine without CUDA graphs (rollout.enforce_eager; the seed set False)
    "extra_overrides": [],  # raw Hydra overrides appended last (escape hatch; logged in run.json)
}


def verl_knobs(cfg: Mapping, model: str) -> dict[str, Any]:
    """``grpo.verl`` with ``models.<model>.grpo.verl`` applied over :data:`VERL_DEFAULTS`; unknown keys raise."""
    merged = dict(VERL_DEFAULTS)
    for where, section in (
        ("grpo.verl", (cfg.get("grpo") or {}).get("verl")),
        (f"models.{model}.grpo.verl", ((cfg["models"][model].get("grpo") or {}).get("verl"))),
    ):
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
        raise ValueError(
            f"{where}.{key}: expected {'a positive ' if want is int else 'a '}{want.__name__}, got {value!r}"
        )


def n_gpus(cfg: Mapping, model: str) -> int:
    """GPUs per node for a model's GRPO job: ``models.<model>.resources.grpo.gpus`` (default 1)."""
    gpus = job_gpus(cfg, model, "grpo", 1)
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


@dataclass(frozen=True)
class VerlSettings:
    """What a verl GRPO job reads besides its :class:`GRPOSettings`, parsed once (:meth:`from_config`).

    ``model``: the study's model name (verl's experiment name); ``knobs``: :func:`verl_knobs` (checked);
    ``gpus``: GPUs per node (:func:`n_gpus`); ``cpus``: the job's CPUs for Ray (:func:`job_cpus`, None: not set);
    ``prompt_style``: ``prompts.style`` (``seed``: the tokenizer's own chat template renders the prompts).
    """

    model: str
    knobs: Mapping[str, Any]
    gpus: int
    cpus: int | None
    prompt_style: str

    @classmethod
    def from_config(cls, cfg: Mapping, model: str) -> VerlSettings:
        """From a config or a job's settings (``grpo.verl`` with ``models.<model>.grpo.verl`` applied); bad values
        name their key."""
        return cls(model, verl_knobs(cfg, model), n_gpus(cfg, model), job_cpus(cfg, model), prompt_style(cfg))


def parse_verl_job(cfg: Mapping, model: str) -> tuple[GRPOSettings, VerlSettings]:
    """One model's verl GRPO settings from a config or a job's settings: what the job boundary
    (:func:`rlscaling.training.run.run_grpo_job`) parses once and hands down, and what callers outside a job (the
    config check, the tests, ``.ci/verl_check.sh``) parse before :func:`override_map` / :func:`build_overrides`."""
    return job_grpo_settings(cfg, model), VerlSettings.from_config(cfg, model)


def overrides_for(cfg: Mapping, model: str, paths: Mapping[str, str]) -> list[str]:
    """:func:`build_overrides` of a config's (or a job's settings') model: parses, then builds."""
    return build_overrides(*parse_verl_job(cfg, model), paths)


def override_map(s: GRPOSettings, verl: VerlSettings, paths: Mapping[str, str]) -> dict[str, Any]:
    """Every Hydra key we set for one model's GRPO run -> its Python value (see :func:`build_overrides`).

    ``s`` and ``verl``: the run's parsed settings (:func:`parse_verl_job`). ``paths`` keys: ``model_dir`` (HF base
    model), ``train_parquet``, ``val_parquet``, ``ckpt_dir`` (verl's FSDP checkpoints), ``rollout_dir`` (per-step
    generation dumps), ``reward_path`` (the file defining ``compute_score``; default: :func:`reward_module_path`).
    """
    missing = [k for k in ("model_dir", "train_parquet", "val_parquet", "ckpt_dir", "rollout_dir") if k not in paths]
    if missing:
        raise ValueError(f"build_overrides: paths is missing {missing}")
    v = verl.knobs
    if s.prompts_per_step % v["ppo_mini_batch_size"]:
        raise ValueError(
            f"grpo.prompts_per_step={s.prompts_per_step} is not a multiple of "
            f"grpo.verl.ppo_mini_batch_size={v['ppo_mini_batch_size']} (model {verl.model})"
        )
    dtype = TORCH_DTYPE[s.precision]
    seed_prompts = verl.prompt_style == "seed"  # the tokenizer's own chat template (None)
    return {
        "algorithm.adv_estimator": "grpo",
        "algorithm.norm_adv_by_std_in_grpo": True,
        "algorithm.use_kl_in_reward": False,
        **_data_overrides(s, paths),
        **_actor_rollout_ref_overrides(s, v, dtype, paths, None if seed_prompts else PLAIN_CHAT_TEMPLATE),
        **_reward_trainer_overrides(s, verl, paths),
    }


def _data_overrides(s: GRPOSettings, paths: Mapping[str, str]) -> dict[str, Any]:
    """The ``data.*`` keys: parquet files, batch size in prompts, prompt/response lengths in tokens, shuffling."""
    return {
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
    }


def _actor_rollout_ref_overrides(
    s: GRPOSettings, v: Mapping[str, Any], dtype: str, paths: Mapping[str, str], chat_template: str | None
) -> dict[str, Any]:
    """The ``actor_rollout_ref.*`` keys: model, actor (optimiser, GRPO loss, FSDP), rollout engine, reference.
    ``chat_template``: the Jinja template rendering the prompt messages (None: the tokenizer's own)."""
    arr, actor, rollout, ref = (
        "actor_rollout_ref",
        "actor_rollout_ref.actor",
        "actor_rollout_ref.rollout",
        "actor_rollout_ref.ref",
    )
    return {
        f"{arr}.model.path": str(paths["model_dir"]),
        f"{arr}.model.custom_chat_template": chat_template,
        f"{arr}.model.enable_gradient_checkpointing": s.gradient_checkpointing,
        f"{arr}.model.use_remove_padding": bool(v["use_remove_padding"]),
        f"{arr}.model.use_fused_kernels": bool(v["use_fused_kernels"]),
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
        f"{rollout}.enforce_eager": bool(v["enforce_eager"]),
        f"{rollout}.log_prob_micro_batch_size_per_gpu": int(v["log_prob_micro_batch_size_per_gpu"]),
        f"{ref}.log_prob_micro_batch_size_per_gpu": int(v["log_prob_micro_batch_size_per_gpu"]),
        f"{ref}.fsdp_config.dtype": dtype,
        f"{ref}.fsdp_config.param_offload": bool(v["param_offload"]),
    }


def _reward_trainer_overrides(s: GRPOSettings, verl: VerlSettings, paths: Mapping[str, str]) -> dict[str, Any]:
    """The ``reward.*``, ``trainer.*`` and ``ray_kwargs.*`` keys: reward function, logging, steps, saving, GPUs."""
    return {
        "reward.custom_reward_function.path": str(paths.get("reward_path") or reward_module_path()),
        "reward.custom_reward_function.name": "compute_score",
        "trainer.logger": ["console", "file"],
        "trainer.project_name": "rlscaling",
        "trainer.experiment_name": verl.model,
        "trainer.nnodes": int(verl.knobs["nnodes"]),
        "trainer.n_gpus_per_node": verl.gpus,
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
        "ray_kwargs.ray_init.num_cpus": verl.cpus,
    }


def job_cpus(cfg: Mapping, model: str) -> int | None:
    """CPUs of a model's GRPO job (``models.<model>.resources.grpo.cpus``), None when not set."""
    cpus = resources(cfg, model, "grpo").get("cpus")
    return None if cpus is None else int(cpus)


def needs_flash_attn(knobs: Mapping[str, Any]) -> bool:
    """verl imports flash-attn for packed sequences (``use_remove_padding``) and flash_attention_2 attention."""
    return bool(knobs["use_remove_padding"]) or knobs["attn_implementation"] == "flash_attention_2"


def build_overrides(s: GRPOSettings, verl: VerlSettings, paths: Mapping[str, str]) -> list[str]:
    """Hydra overrides (``key=value`` strings) for ``python -m verl.trainer.main_ppo``, from a run's parsed settings
    (:func:`parse_verl_job`; :func:`overrides_for` parses a config first).

    Settings come from ``grpo`` (with ``models.<model>.grpo`` applied) and ``grpo.verl``; GPUs from
    ``models.<model>.resources.grpo.gpus``. ``grpo.verl.extra_overrides`` are appended verbatim, last.
    """
    overrides = [f"{k}={hydra_value(v)}" for k, v in override_map(s, verl, paths).items()]
    knobs = verl.knobs
    # a key verl's config does not declare (override_config is an empty dict there): Hydra's '+' adds it
    overrides.append(
        "+actor_rollout_ref.model.override_config.attn_implementation=" + hydra_value(knobs["attn_implementation"])
    )
    extra = knobs["extra_overrides"]
    if not isinstance(extra, list) or not all(isinstance(e, str) and "=" in e for e in extra):
        raise ValueError(f"grpo.verl.extra_overrides: expected a list of 'key=value' strings, got {extra!r}")
    return overrides + list(extra)


def reward_module_path() -> str:
    """File verl loads ``compute_score`` from (``reward.custom_reward_function.path``):
    ``rlscaling/rewards/verl_entry.py``, a standalone module that imports the package's entry point (verl loads it by
    file path, not as a package)."""
    from rlscaling.rewards import verl_entry_path

    return str(verl_entry_path())
