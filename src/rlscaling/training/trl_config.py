"""TRL's ``GRPOConfig`` from :class:`GRPOSettings`: every algorithmic knob set explicitly, the forward passes a step
performs, and the resolved fields ``run.json`` records (see ``rlscaling.training.trl_backend`` for why each fixed
knob has verl's value)."""

from __future__ import annotations

import os
from typing import Any

from rlscaling.training.common import GRPOSettings

TRL_KL_ESTIMATOR = "k3"
TRL_KL_FORMULA = "exp(ref_logp - logp) - (ref_logp - logp) - 1 per completion token (k3, unclamped)"
CLIP_EPSILON = 0.2
SCALE_REWARDS = "group"
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0

# GRPOConfig fields recorded in run.json (after TRL's __post_init__ resolved them).
_RECORDED_FIELDS = (
    "num_generations",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "generation_batch_size",
    "steps_per_generation",
    "num_iterations",
    "max_steps",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "optim",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "max_grad_norm",
    "beta",
    "loss_type",
    "epsilon",
    "epsilon_high",
    "delta",
    "scale_rewards",
    "importance_sampling_level",
    "use_bias_correction_kl",
    "mask_truncated_completions",
    "top_entropy_quantile",
    "entropy_coef",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "max_completion_length",
    "use_vllm",
    "use_transformers_continuous_batching",
    "bf16",
    "fp16",
    "activation_checkpointing",
    "use_cache",
    "use_cpu",
    "seed",
    "data_seed",
    "shuffle_dataset",
    "disable_dropout",
    "report_to",
    "logging_steps",
    "save_strategy",
    "eval_strategy",
)


def build_grpo_config(settings: GRPOSettings, output_dir: str | os.PathLike, use_cpu: bool):
    """The ``GRPOConfig`` for ``settings``: one optimizer step = one generation batch of
    ``prompts_per_step x rollouts_per_prompt`` sequences, one update pass (no old-policy forward), no vLLM,
    no external logging, fp32 unless ``precision: bf16`` on a GPU."""
    from trl import GRPOConfig

    if settings.kl_estimator != TRL_KL_ESTIMATOR:
        raise ValueError(
            f"grpo.kl_estimator={settings.kl_estimator!r}: TRL {_version('trl')} implements only "
            f"{TRL_KL_ESTIMATOR!r} ({TRL_KL_FORMULA}); use the verl backend for other estimators"
        )
    if settings.precision == "bf16" and use_cpu:
        raise ValueError("grpo.precision='bf16': mixed precision is not used on CPU; set grpo.precision to fp32")
    return GRPOConfig(
        output_dir=str(output_dir),
        **_batch_kwargs(settings),
        **_optimizer_kwargs(settings),
        **_objective_kwargs(settings),
        **_sampling_kwargs(settings),
        **_numerics_kwargs(settings, use_cpu),
        **_BOOKKEEPING_KWARGS,
    )


def _batch_kwargs(settings: GRPOSettings) -> dict[str, Any]:
    """Batch geometry: one generation batch per optimizer step, used once."""
    return dict(
        per_device_train_batch_size=settings.sequences_per_step,
        gradient_accumulation_steps=1,
        steps_per_generation=1,
        num_generations=settings.rollouts_per_prompt,
        num_iterations=1,
        max_steps=settings.steps,
        num_train_epochs=settings.epochs,
        shuffle_dataset=True,
    )


def _optimizer_kwargs(settings: GRPOSettings) -> dict[str, Any]:
    """Optimiser (verl defaults for what the config does not set)."""
    return dict(
        learning_rate=settings.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        optim="adamw_torch",
        weight_decay=WEIGHT_DECAY,
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        max_grad_norm=MAX_GRAD_NORM,
    )


def _objective_kwargs(settings: GRPOSettings) -> dict[str, Any]:
    """The GRPO objective: KL (k3, no importance-ratio correction), loss aggregation, clipping, reward scaling."""
    return dict(
        beta=settings.kl_coef,
        use_bias_correction_kl=False,
        loss_type=settings.loss_type,
        epsilon=CLIP_EPSILON,
        epsilon_high=CLIP_EPSILON,
        delta=None,
        scale_rewards=SCALE_REWARDS,
        importance_sampling_level="token",
        mask_truncated_completions=False,
        top_entropy_quantile=1.0,
        entropy_coef=0.0,
        sync_ref_model=False,
        disable_dropout=True,
    )


def _sampling_kwargs(settings: GRPOSettings) -> dict[str, Any]:
    """Sampling: pure temperature sampling up to ``max_response_tokens`` tokens, with transformers' ``generate``."""
    return dict(
        temperature=settings.temperature,
        top_p=1.0,
        top_k=0,
        min_p=None,
        repetition_penalty=1.0,
        max_completion_length=settings.max_response_tokens,
        generation_kwargs={"use_cache": True},
        use_vllm=False,
        use_transformers_continuous_batching=False,
    )


def _numerics_kwargs(settings: GRPOSettings, use_cpu: bool) -> dict[str, Any]:
    """Numerics and reproducibility."""
    return dict(
        bf16=settings.precision == "bf16",
        fp16=False,
        activation_checkpointing=settings.gradient_checkpointing,  # TRL defaults it to on
        use_cache=True,  # the Trainer copies this onto model.config, which the saved checkpoints carry
        use_cpu=use_cpu,
        seed=settings.seed,
        data_seed=settings.seed,
        dataloader_num_workers=0,
    )


# Bookkeeping: log every step (read by our callbacks), save and evaluate nothing through the Trainer.
_BOOKKEEPING_KWARGS: dict[str, Any] = dict(
    logging_strategy="steps",
    logging_steps=1,
    save_strategy="no",
    eval_strategy="no",
    report_to=[],
    disable_tqdm=True,
    log_completions=False,
    remove_unused_columns=False,
)


def old_policy_forward(cfg) -> bool:
    """Whether TRL recomputes behaviour-policy log-probs in an extra forward (``_generate_and_score_completions``):
    when ``gradient_accumulation_steps`` is not a multiple of ``steps_per_generation x num_iterations``, or with
    vLLM importance-sampling correction. Otherwise TRL uses the detached current log-probs."""
    generate_every = cfg.steps_per_generation * cfg.num_iterations
    vllm_is = cfg.use_vllm and cfg.vllm_importance_sampling_correction
    return cfg.gradient_accumulation_steps % generate_every != 0 or bool(vllm_is)


def forward_passes(cfg) -> dict[str, Any]:
    """Passes per step besides rollout and update, in ``rlscaling.compute.GRPOPasses`` form."""
    return {
        "ref_forward": cfg.beta != 0.0,
        "old_policy_forward": old_policy_forward(cfg),
        "update_epochs": cfg.num_iterations,
    }


def recorded_config(cfg) -> dict[str, Any]:
    """The resolved ``GRPOConfig`` fields that determine the algorithm and its cost (JSON-ready)."""
    out = {}
    for name in _RECORDED_FIELDS:
        value = getattr(cfg, name)
        out[name] = value.value if hasattr(value, "value") else value  # enums -> str
    return out


def library_versions() -> dict[str, str]:
    return {name: _version(name) for name in ("trl", "transformers", "torch", "accelerate", "datasets")}


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
