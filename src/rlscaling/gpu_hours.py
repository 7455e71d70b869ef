"""GPU-hours a study's GRPO runs need, from the config alone (``rlscaling gpu-hours``).

Per model, one GRPO step processes ``S = prompts_per_step x rollouts_per_prompt`` sequences of ``T = P + G`` tokens
(``P``, ``G``: assumed prompt and response tokens per sequence; by default the configured maxima, so an upper
bound). FLOPs per step follow ``rlscaling.compute`` with ``N`` the non-embedding parameters:

- rollout (vLLM generation):            ``2·N·S·T``
- policy update (forward + backward):   ``6·N·S·T`` per update epoch
- reference forward (KL, ``kl_coef > 0``): ``2·N·S·T``
- old-policy forward (verl recomputes log-probs each step): ``2·N·S·T``

Time = rollout FLOPs / (peak x ``mfu_rollout``) + other FLOPs / (peak x ``mfu_update``), in GPU-seconds; the
assumptions live in the config's ``gpu_hours`` section (defaults in :data:`DEFAULTS`). Evaluation is not included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from .compute import GRPOPasses, grpo_step_flops
from .config import grpo_settings

DEFAULTS = {
    "gpu": "H100 SXM 80GB",
    "peak_flops_per_s": 9.89e14,   # dense bf16, FLOP/s per GPU (no structured sparsity)
    "mfu_update": 0.35,            # fraction of peak, FSDP training passes
    "mfu_rollout": 0.10,           # fraction of peak, autoregressive decoding (memory-bound)
    "prompt_tokens_per_sequence": None,    # None -> grpo.max_prompt_tokens
    "response_tokens_per_sequence": None,  # None -> grpo.max_response_tokens
}

COLUMNS = ("model", "n_params", "gpus", "steps", "sequences_per_step", "tokens_per_step", "flops_rollout",
           "flops_train", "flops_total", "gpu_hours", "wall_hours")


def assumptions(cfg: Mapping) -> dict:
    """The config's ``gpu_hours`` section over :data:`DEFAULTS`; unknown keys and bad numbers name the key."""
    section = cfg.get("gpu_hours") or {}
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"gpu_hours: unknown keys {unknown}; known: {sorted(DEFAULTS)}")
    a = {**DEFAULTS, **section}
    for key in ("peak_flops_per_s", "mfu_update", "mfu_rollout"):
        v = a[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"gpu_hours.{key}: expected a positive number, got {v!r}")
    for key in ("mfu_update", "mfu_rollout"):
        if a[key] > 1:
            raise ValueError(f"gpu_hours.{key}: a fraction of peak in (0, 1], got {a[key]!r}")
    return a


def _tokens(a: Mapping, key: str, fallback: int) -> int:
    v = a[key] if a[key] is not None else fallback
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"gpu_hours.{key}: expected a non-negative integer, got {v!r}")
    return v


def model_row(cfg: Mapping, model: str, a: Mapping) -> dict:
    """One row of :func:`estimate_gpu_hours` (FLOPs are totals over all steps)."""
    spec = cfg["models"][model]
    if "n_params" not in spec:
        raise ValueError(f"models.{model}.n_params: needed for the GPU-hour estimate")
    g = grpo_settings(dict(cfg), model)
    if "steps" not in g:
        raise ValueError(f"grpo.steps (or models.{model}.grpo.steps): needed for the GPU-hour estimate")
    steps, seqs = int(g["steps"]), int(g["prompts_per_step"]) * int(g["rollouts_per_prompt"])
    p = _tokens(a, "prompt_tokens_per_sequence", int(g.get("max_prompt_tokens", 512)))
    r = _tokens(a, "response_tokens_per_sequence", int(g.get("max_response_tokens", 512)))
    passes = GRPOPasses(ref_forward=float(g["kl_coef"]) > 0, old_policy_forward=g.get("backend") == "verl")
    step = grpo_step_flops(float(spec["n_params"]), seqs * p, seqs * r, passes)
    rollout, train = step["rollout"] * steps, (step["total"] - step["rollout"]) * steps
    gpu_s = rollout / (a["peak_flops_per_s"] * a["mfu_rollout"]) + train / (a["peak_flops_per_s"] * a["mfu_update"])
    gpus = int(((spec.get("resources") or {}).get("grpo") or {}).get("gpus", 1))
    return {"model": model, "n_params": float(spec["n_params"]), "gpus": gpus, "steps": steps,
            "sequences_per_step": seqs, "tokens_per_step": seqs * (p + r), "flops_rollout": rollout,
            "flops_train": train, "flops_total": rollout + train, "gpu_hours": gpu_s / 3600.0,
            "wall_hours": gpu_s / 3600.0 / gpus}


def estimate_gpu_hours(cfg: Mapping) -> pd.DataFrame:
    """GRPO GPU-hours per model size (columns :data:`COLUMNS`; ``wall_hours`` assumes perfect scaling over the
    job's GPUs), plus a ``total`` row. Assumptions: the config's ``gpu_hours`` section (see module docstring)."""
    a = assumptions(cfg)
    rows = [model_row(cfg, m, a) for m in cfg["models"]]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    total = {c: frame[c].sum() for c in ("flops_rollout", "flops_train", "flops_total", "gpu_hours")}
    total.update(model="total", n_params=float("nan"), gpus=int(frame["gpus"].max()), steps=int(frame["steps"].sum()),
                 sequences_per_step=0, tokens_per_step=0, wall_hours=float(frame["wall_hours"].sum()))
    return pd.concat([frame, pd.DataFrame([total], columns=list(COLUMNS))], ignore_index=True)
