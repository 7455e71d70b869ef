"""Tensor parallelism against the GPUs each job requests, checked when the config is validated (before any job).

A job gets the GPUs its model declares under ``models.<m>.resources.<rule>.gpus`` (the rules turn them into the
SLURM plugin's ``gpu`` resource; undeclared means none for evaluation, one for verl, see
:func:`rlscaling.study.job_gpus` and :func:`rlscaling.training.verl_overrides.n_gpus`). Tensor parallelism must fit
in them:

- vLLM evaluation (``evaluate.backend: vllm``): one engine spans ``evaluate.vllm.tensor_parallel_size`` GPUs of the
  evaluate job, so it may not exceed ``models.<m>.resources.evaluate.gpus`` (a size of 1 also runs without a GPU:
  the CPU build of vLLM).
- verl (``grpo.backend: verl``): the rollout splits each node's GPUs (``trainer.n_gpus_per_node`` =
  ``models.<m>.resources.grpo.gpus``) into groups of ``tensor_model_parallel_size`` (``grpo.verl`` or
  ``models.<m>.grpo.verl``), so that size must divide the GPU count.

Errors name the tensor-parallel key that set the size and the resources key that set the GPUs.
"""

from __future__ import annotations

from collections.abc import Mapping

from rlscaling.study import job_gpus


def vllm_problems(cfg: Mapping) -> list[str]:
    """Models whose evaluate job requests fewer GPUs than one vLLM engine spans (empty unless vLLM evaluates)."""
    if cfg["evaluate"]["backend"] != "vllm":
        return []
    tp = int(cfg["evaluate"]["vllm"]["tensor_parallel_size"])
    problems = []
    for model in cfg["models"]:
        gpus = job_gpus(cfg, model, "evaluate") or 0
        if tp > 1 and tp > gpus:
            problems.append(
                f"evaluate.vllm.tensor_parallel_size={tp} exceeds the {gpus} GPU(s) the evaluate jobs of '{model}' "
                f"request (models.{model}.resources.evaluate.gpus): raise the GPUs or lower the size"
            )
    return problems


def verl_problems(cfg: Mapping) -> list[str]:
    """Models whose verl rollout tensor-parallel size does not divide the GRPO job's GPUs per node."""
    if cfg["grpo"]["backend"] != "verl":
        return []
    from rlscaling.training.verl_overrides import VerlSettings

    problems = []
    for model in cfg["models"]:
        verl = VerlSettings.from_config(cfg, model)
        tp, gpus = int(verl.knobs["tensor_model_parallel_size"]), verl.gpus
        if gpus % tp:
            own = ((cfg["models"][model].get("grpo") or {}).get("verl") or {}).get("tensor_model_parallel_size")
            key = f"models.{model}.grpo.verl" if own is not None else "grpo.verl"
            declared = "" if job_gpus(cfg, model, "grpo") is not None else ", its default when not set"
            problems.append(
                f"{key}.tensor_model_parallel_size={tp} does not divide the {gpus} GPU(s) of the GRPO job of "
                f"'{model}' (models.{model}.resources.grpo.gpus{declared}): verl splits each node's GPUs into "
                f"rollout groups of that size"
            )
    return problems


def tensor_parallel_problems(cfg: Mapping) -> list[str]:
    """Every tensor-parallel size that does not fit the GPUs its job requests (empty when all fit)."""
    return vllm_problems(cfg) + verl_problems(cfg)
