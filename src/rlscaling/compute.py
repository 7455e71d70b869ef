"""Compute accounting in FLOPs (floating-point operations, not FLOP/s).

All formulas use the standard dense-transformer approximation (Kaplan et al. 2020; Hoffmann et al. 2022):
a forward pass costs ``2·N`` FLOPs per token and a forward + backward pass ``6·N`` FLOPs per token, where ``N`` is
the number of **non-embedding** parameters. Attention's context-dependent term is ignored (at 1k-token contexts it
is a few percent of ``6·N`` for the Qwen3 sizes studied).

Pre-training:  ``C_pretrain = 6 · N · D`` with ``D`` training tokens.

One GRPO step, from the token counts actually logged (never the configured maximum lengths):

- rollout generation:   ``2·N · (P + G)``  (prefill of the prompt tokens ``P`` plus one forward per generated
                        token ``G``)
- policy update:        ``6·N · (P + G) · E``  (every trained sequence is forwarded and back-propagated; ``E`` update
                        passes over the batch, ``E = num_iterations``/``ppo_epochs``)
- reference forward:    ``2·N · (P + G)`` when a KL penalty to the reference model is used (``kl_coef > 0``)
- old-policy forward:   ``2·N · (P + G)`` when log-probs of the behaviour policy are recomputed (off-policy updates,
                        ``num_iterations > 1``, or verl's separate ``compute_log_prob`` pass)

``P`` and ``G`` are sums over every sequence of the step (each of the ``n`` rollouts of a prompt counts its prompt).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FORWARD_FLOPS_PER_PARAM_TOKEN = 2.0
TRAIN_FLOPS_PER_PARAM_TOKEN = 6.0


def _check_nonneg(**values: float) -> None:
    for name, value in values.items():
        if value is None or not math.isfinite(float(value)) or float(value) < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")


def pretrain_flops(n_params: float, tokens: float) -> float:
    """Pre-training compute ``6·N·D`` in FLOPs (``N`` non-embedding parameters, ``D`` tokens)."""
    _check_nonneg(n_params=n_params, tokens=tokens)
    return TRAIN_FLOPS_PER_PARAM_TOKEN * float(n_params) * float(tokens)


@dataclass(frozen=True)
class GRPOPasses:
    """Which passes one GRPO step performs besides rollout generation and the policy update."""

    ref_forward: bool = True
    old_policy_forward: bool = False
    update_epochs: int = 1

    @classmethod
    def from_mapping(cls, m: Mapping) -> GRPOPasses:
        """From a run record's ``passes`` (every key required: a missing pass would silently change C_rl)."""
        missing = [k for k in ("ref_forward", "old_policy_forward", "update_epochs") if k not in m]
        if missing:
            raise ValueError(f"GRPO passes record lacks {missing} (got {dict(m)})")
        return cls(
            ref_forward=bool(m["ref_forward"]),
            old_policy_forward=bool(m["old_policy_forward"]),
            update_epochs=int(m["update_epochs"]),
        )


def grpo_step_flops(
    n_params: float, prompt_tokens: float, completion_tokens: float, passes: GRPOPasses = GRPOPasses()
) -> dict[str, float]:
    """FLOPs of one GRPO step, split by phase; keys ``rollout, update, ref, old_policy, total``.

    ``prompt_tokens`` and ``completion_tokens`` are summed over all sequences of the step.
    """
    _check_nonneg(n_params=n_params, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    if passes.update_epochs < 1:
        raise ValueError(f"update_epochs must be >= 1, got {passes.update_epochs}")
    tokens = float(prompt_tokens) + float(completion_tokens)
    n = float(n_params)
    out = {
        "rollout": FORWARD_FLOPS_PER_PARAM_TOKEN * n * tokens,
        "update": TRAIN_FLOPS_PER_PARAM_TOKEN * n * tokens * passes.update_epochs,
        "ref": FORWARD_FLOPS_PER_PARAM_TOKEN * n * tokens if passes.ref_forward else 0.0,
        "old_policy": FORWARD_FLOPS_PER_PARAM_TOKEN * n * tokens if passes.old_policy_forward else 0.0,
    }
    out["total"] = out["rollout"] + out["update"] + out["ref"] + out["old_policy"]
    return out


def grpo_flops_per_token(passes: GRPOPasses = GRPOPasses()) -> float:
    """FLOPs per (parameter x processed token) of a GRPO step: 2 + 6·E (+2 ref) (+2 old policy)."""
    return grpo_step_flops(1.0, 1.0, 0.0, passes)["total"]


def cumulative_rl_flops(
    n_params: float, steps: Iterable[Mapping], passes: GRPOPasses = GRPOPasses()
) -> list[tuple[int, float]]:
    """Cumulative C_rl after each logged step.

    ``steps`` are rows of a ``tokens.csv`` log (keys ``step``, ``prompt_tokens``, ``completion_tokens``).
    Returns ``[(step, cumulative FLOPs), ...]`` sorted by step, starting from the first logged step.
    """
    rows = sorted(steps, key=lambda r: int(r["step"]))
    total = 0.0
    out: list[tuple[int, float]] = []
    for r in rows:
        total += grpo_step_flops(n_params, float(r["prompt_tokens"]), float(r["completion_tokens"]), passes)["total"]
        out.append((int(r["step"]), total))
    return out


def rl_flops_at(n_params: float, steps: Iterable[Mapping], step: int, passes: GRPOPasses = GRPOPasses()) -> float:
    """C_rl (FLOPs) spent up to and including optimizer step ``step``; 0 for ``step == 0`` (the base model)."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step == 0:
        return 0.0
    cum = cumulative_rl_flops(n_params, steps, passes)
    logged = [s for s, _ in cum]
    if step not in logged:
        raise ValueError(f"step {step} is not in the tokens log (logged steps {logged[:3]}...{logged[-3:]})")
    return dict(cum)[step]
