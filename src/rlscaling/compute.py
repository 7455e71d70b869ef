"""Compute accounting in FLOPs (floating-point operations, not FLOP/s).

A forward pass costs ``2·(N + H)`` FLOPs per token and a forward + backward pass ``6·(N + H)`` (Kaplan et al. 2020;
Hoffmann et al. 2022), where ``N`` is the number of **non-embedding** parameters (the size axis of every law) and
``H = d_model · V`` the parameters of the output projection (the LM head: hidden size times vocabulary). The head's
matmul is done on every token whether its matrix is tied to the input embedding or not; the input embedding is a
lookup and costs no FLOPs. ``H`` is far from negligible at a 152k vocabulary: :func:`head_share` is 26% of the work
at Qwen3-0.6B (N = 0.44B, d_model = 1024) and 5.6% at Qwen3-14B (N = 13.2B, d_model = 5120). Attention's
context-dependent term is ignored (at 1k-token contexts it is a few percent of ``6·N`` for the Qwen3 sizes studied).

Pre-training:  ``C_pretrain = 6 · (N + H) · D`` with ``D`` training tokens.

One GRPO step, from the token counts actually logged (never the configured maximum lengths), ``T = P + G``:

- rollout generation:   ``2·(N + H) · T``  (prefill of the prompt tokens ``P`` plus one forward per generated
                        token ``G``)
- policy update:        ``6·(N + H) · T · E``  (every trained sequence is forwarded and back-propagated; ``E`` update
                        passes over the batch, ``E = num_iterations``/``ppo_epochs``)
- reference forward:    ``2·(N + H) · T`` when a KL penalty to the reference model is used (``kl_coef > 0``)
- old-policy forward:   ``2·(N + H) · T`` when log-probs of the behaviour policy are recomputed (off-policy updates,
                        ``num_iterations > 1``, or verl's separate ``compute_log_prob`` pass)

``P`` and ``G`` are sums over every sequence of the step (each of the ``n`` rollouts of a prompt counts its prompt).
Every function takes ``head_params`` (``H``) as a required keyword, so no caller can leave the head out by accident.
For a model size that was never trained (the allocation's hypothetical ``N``), :class:`HeadParams` interpolates ``H``
in log N between the study's models.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

FORWARD_FLOPS_PER_PARAM_TOKEN = 2.0
TRAIN_FLOPS_PER_PARAM_TOKEN = 6.0


def _check_nonneg(**values: float) -> None:
    for name, value in values.items():
        if value is None or not math.isfinite(float(value)) or float(value) < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")


def matmul_params(n_params: float, head_params: float) -> float:
    """Parameters every token is multiplied through, ``N + H`` (forward FLOPs per token / 2)."""
    _check_nonneg(n_params=n_params, head_params=head_params)
    return float(n_params) + float(head_params)


def head_share(n_params: float, head_params: float) -> float:
    """The output head's share of the FLOPs, ``H / (N + H)`` (the same for every pass: each is a multiple of both)."""
    total = matmul_params(n_params, head_params)
    return float(head_params) / total if total > 0 else 0.0


def pretrain_flops(n_params: float, tokens: float, *, head_params: float) -> float:
    """Pre-training compute ``6·(N + H)·D`` in FLOPs (``N`` non-embedding parameters, ``H`` head, ``D`` tokens)."""
    _check_nonneg(tokens=tokens)
    return TRAIN_FLOPS_PER_PARAM_TOKEN * matmul_params(n_params, head_params) * float(tokens)


def pretrain_record(n_params: float, tokens: float, *, head_params: float) -> dict[str, float]:
    """The compute fields of a ``pretrain.json``: ``n_params_non_embedding`` (N), ``head_params`` (H),
    ``head_flops_share`` (H / (N + H)) and ``c_pretrain_flops`` (6·(N + H)·D)."""
    return {
        "n_params_non_embedding": n_params,
        "head_params": head_params,
        "head_flops_share": head_share(n_params, head_params),
        "c_pretrain_flops": pretrain_flops(n_params, tokens, head_params=head_params),
    }


def pretrain_tokens(c_pretrain: float, n_params, *, head_params):
    """Tokens ``D = C / (6·(N + H))`` that ``c_pretrain`` FLOPs buy at size ``N`` (arrays broadcast; the inverse of
    :func:`pretrain_flops`)."""
    return np.asarray(c_pretrain, dtype=float) / (
        TRAIN_FLOPS_PER_PARAM_TOKEN * (np.asarray(n_params, dtype=float) + np.asarray(head_params, dtype=float))
    )


@dataclass(frozen=True)
class HeadParams:
    """``H`` (output-head parameters) at any model size ``N``, from the study's models ``{N: H}``.

    Between two models ``log H`` is interpolated linearly in ``log N``; beyond the smallest or largest model the
    end segment's slope continues (``d_model`` grows with size, so ``H`` does too at a fixed vocabulary); a single
    model gives its ``H`` at every size. Used where a law converts FLOPs to tokens for a size nobody trained.
    """

    sizes: tuple[float, ...]
    heads: tuple[float, ...]

    @classmethod
    def from_models(cls, pairs: Mapping[float, float]) -> HeadParams:
        """From ``{N: H}`` (both positive; at least one model)."""
        items = sorted((float(n), float(h)) for n, h in pairs.items())
        if not items or any(not (n > 0 and h > 0 and math.isfinite(n) and math.isfinite(h)) for n, h in items):
            raise ValueError(f"head parameters need positive finite {{N: H}} pairs, got {dict(pairs)!r}")
        return cls(tuple(n for n, _ in items), tuple(h for _, h in items))

    def at(self, n_params):
        """``H`` at size(s) ``n_params`` (parameters; arrays broadcast)."""
        x = np.log(np.asarray(n_params, dtype=float))
        xs, ys = np.log(self.sizes), np.log(self.heads)
        if len(xs) == 1:
            return np.exp(np.full_like(x, ys[0]))
        y = np.interp(x, xs, ys)
        lo_slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
        hi_slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        y = np.where(x < xs[0], ys[0] + lo_slope * (x - xs[0]), y)
        y = np.where(x > xs[-1], ys[-1] + hi_slope * (x - xs[-1]), y)
        return np.exp(y)


def head_params_from_summary(summary) -> dict[float, float]:
    """``{N: H}`` of a study's models from ``summary.csv`` rows (columns ``n_params``, ``pretrain_tokens``,
    ``c_pretrain``): ``H = c_pretrain / (6·D) - N``, the inverse of :func:`pretrain_flops` (what
    :class:`HeadParams` interpolates; for ``fits.json``'s ``joint_law.head_params``). Models whose ``c_pretrain`` was
    counted without a head (H = 0, to rounding: H <= 1e-9 N) are left out."""
    rows = summary[summary["pretrain_tokens"] > 0].drop_duplicates("n_params")
    heads = rows["c_pretrain"] / (TRAIN_FLOPS_PER_PARAM_TOKEN * rows["pretrain_tokens"]) - rows["n_params"]
    return {float(n): float(h) for n, h in zip(rows["n_params"], heads) if h > 1e-9 * n}


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
    n_params: float,
    prompt_tokens: float,
    completion_tokens: float,
    passes: GRPOPasses = GRPOPasses(),
    *,
    head_params: float,
) -> dict[str, float]:
    """FLOPs of one GRPO step, split by phase; keys ``rollout, update, ref, old_policy, total``.

    ``prompt_tokens`` and ``completion_tokens`` are summed over all sequences of the step; ``head_params`` is ``H``.
    """
    _check_nonneg(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    if passes.update_epochs < 1:
        raise ValueError(f"update_epochs must be >= 1, got {passes.update_epochs}")
    tokens = float(prompt_tokens) + float(completion_tokens)
    n = matmul_params(n_params, head_params)
    out = {
        "rollout": FORWARD_FLOPS_PER_PARAM_TOKEN * n * tokens,
        "update": TRAIN_FLOPS_PER_PARAM_TOKEN * n * tokens * passes.update_epochs,
        "ref": FORWARD_FLOPS_PER_PARAM_TOKEN * n * tokens if passes.ref_forward else 0.0,
        "old_policy": FORWARD_FLOPS_PER_PARAM_TOKEN * n * tokens if passes.old_policy_forward else 0.0,
    }
    out["total"] = out["rollout"] + out["update"] + out["ref"] + out["old_policy"]
    return out


def grpo_flops_per_token(passes: GRPOPasses = GRPOPasses()) -> float:
    """FLOPs per (matmul parameter ``N + H`` x processed token) of a GRPO step: 2 + 6·E (+2 ref) (+2 old policy)."""
    return grpo_step_flops(1.0, 1.0, 0.0, passes, head_params=0.0)["total"]


def cumulative_rl_flops(
    n_params: float, steps: Iterable[Mapping], passes: GRPOPasses = GRPOPasses(), *, head_params: float
) -> list[tuple[int, float]]:
    """Cumulative C_rl after each logged step.

    ``steps`` are rows of a ``tokens.csv`` log (keys ``step``, ``prompt_tokens``, ``completion_tokens``).
    Returns ``[(step, cumulative FLOPs), ...]`` sorted by step, starting from the first logged step.
    """
    rows = sorted(steps, key=lambda r: int(r["step"]))
    total = 0.0
    out: list[tuple[int, float]] = []
    for r in rows:
        step = grpo_step_flops(
            n_params, float(r["prompt_tokens"]), float(r["completion_tokens"]), passes, head_params=head_params
        )
        total += step["total"]
        out.append((int(r["step"]), total))
    return out


def rl_flops_at(
    n_params: float, steps: Iterable[Mapping], step: int, passes: GRPOPasses = GRPOPasses(), *, head_params: float
) -> float:
    """C_rl (FLOPs) spent up to and including optimizer step ``step``; 0 for ``step == 0`` (the base model)."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step == 0:
        return 0.0
    cum = cumulative_rl_flops(n_params, steps, passes, head_params=head_params)
    logged = [s for s, _ in cum]
    if step not in logged:
        raise ValueError(f"step {step} is not in the tokens log (logged steps {logged[:3]}...{logged[-3:]})")
    return dict(cum)[step]
