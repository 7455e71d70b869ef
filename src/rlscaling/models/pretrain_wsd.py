"""Warmup-stable-decay (WSD) pre-training: one constant-LR trunk per (size, seed), one annealed branch per budget.

This is how annealed public checkpoint suites are made: a single run warms up linearly and then holds its
learning rate constant; for a budget of ``D`` tokens a branch leaves that run at ``(1 - decay_fraction)·D`` tokens
and decays the LR linearly to 0 over the remaining ``decay_fraction·D`` tokens. Because every branch continues the
trunk's exact state (weights, AdamW moments, step index, block order), a branch of budget ``D`` is bit for bit the
WSD run to ``D`` from scratch (``pretrain_wsd``), at the cost of only its decay steps on top of the shared trunk.

Step arithmetic (one optimizer step = ``batch_size`` blocks of ``seq_len`` tokens; Python's ``round``, half to
even, as ``pretrain.pretrain``): a budget ``D`` trains ``n = max(1, round(D / seq_len))`` blocks
(``tokens_trained = n·seq_len``) in ``ceil(n / batch_size)`` steps, the last possibly smaller; its branch point is
step ``round((1 - decay_fraction)·n / batch_size)``, i.e. ``branch_tokens = branch_step·batch_size·seq_len``.
The warm-up is ``round(warmup_fraction · steps of the largest budget)`` steps, shared by all branches.
A trunk directory holds ``trunk.json`` and, per budget label, ``<label>/state.pt`` (the state at its branch point).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from rlscaling.compute import pretrain_record
from rlscaling.io import atomic_dir, read_json, write_json
from rlscaling.models.pretrain import (
    FINAL_LOSS_WINDOW,
    _adamw,
    _check_settings,
    _loss_record,
    _save,
    _size_record,
    _start,
    _step,
    block_order,
)
from rlscaling.models.tiny import non_embedding_params, output_head_params, total_params

TRUNK_JSON = "trunk.json"
STATE_FILE = "state.pt"


def wsd_lr_factor(step: int, warmup_steps: int, decay_start_step: int, total_steps: int) -> float:
    """LR multiplier after ``step`` optimizer steps: ``step / warmup_steps`` during warm-up, 1 from ``warmup_steps``
    to ``decay_start_step``, then ``(total_steps - step) / (total_steps - decay_start_step)``, exactly 0 at
    ``total_steps``. Update ``s`` (0-based) uses ``lr · wsd_lr_factor(s, …)`` (the ``LambdaLR`` convention of
    ``pretrain``'s cosine schedule): the first update of a warm-up has LR 0 and the LR left after the last update is
    0. Needs ``0 <= warmup_steps <= decay_start_step < total_steps`` and ``0 <= step <= total_steps``."""
    if not 0 <= warmup_steps <= decay_start_step < total_steps:
        raise ValueError(
            f"WSD schedule needs 0 <= warmup_steps <= decay_start_step < total_steps, got "
            f"{warmup_steps}, {decay_start_step}, {total_steps}"
        )
    if not 0 <= step <= total_steps:
        raise ValueError(f"step {step} is outside the schedule's [0, {total_steps}]")
    if step < warmup_steps:
        return step / warmup_steps
    if step < decay_start_step:
        return 1.0
    return (total_steps - step) / (total_steps - decay_start_step)


class Branch(NamedTuple):
    """One budget's WSD run, in optimizer steps (see the module docstring for the rounding)."""

    tokens_budget: float  # D, tokens
    n_sequences: int  # seq_len blocks trained: max(1, round(D / seq_len))
    total_steps: int  # ceil(n_sequences / batch_size)
    branch_step: int  # round((1 - decay_fraction) · n_sequences / batch_size): decay starts after this many steps


def wsd_plan(
    budgets: Mapping[str, float],
    seq_len: int,
    batch_size: int,
    warmup_fraction: float,
    decay_fraction: float,
    warmup_tokens: float | None = None,
) -> tuple[int, dict[str, Branch]]:
    """``(warmup_steps, {label: Branch})`` for budgets ``label -> D`` (tokens). The warm-up is ``warmup_fraction``
    of the steps of the largest budget (or of ``warmup_tokens`` if that is larger). ValueError, naming the budget,
    for a budget under one block, a branch point before the end of warm-up or a decay shorter than one step; and
    for ``decay_fraction`` outside (0, 1)."""
    if not 0.0 < decay_fraction < 1.0:
        raise ValueError(f"pretrain.decay_fraction must be in (0, 1), got {decay_fraction}")
    if not budgets:
        raise ValueError("WSD pre-training needs at least one budget")
    branches = {}
    for label, tokens in budgets.items():
        try:
            _check_settings(float(tokens), seq_len, warmup_fraction)
        except ValueError as err:
            raise ValueError(f"budget {label!r}: {err}") from None
        n = max(1, round(float(tokens) / seq_len))
        branches[label] = Branch(
            float(tokens), n, math.ceil(n / batch_size), round((1 - decay_fraction) * n / batch_size)
        )
    longest = max(b.total_steps for b in branches.values())
    if warmup_tokens is not None:
        longest = max(longest, math.ceil(max(1, round(float(warmup_tokens) / seq_len)) / batch_size))
    warmup_steps = round(warmup_fraction * longest)
    for label, b in branches.items():
        where = f"budget {label!r} ({b.tokens_budget:g} tokens): branch point at step {b.branch_step}"
        if b.branch_step < warmup_steps:
            raise ValueError(f"{where} is before the end of warm-up at step {warmup_steps}; lower warmup_fraction")
        if b.branch_step >= b.total_steps:
            raise ValueError(f"{where} of {b.total_steps} leaves no decay step; raise decay_fraction={decay_fraction}")
    return warmup_steps, branches


def _factor(warmup_steps: int, branch: Branch) -> Callable[[int], float]:
    """``step -> wsd_lr_factor`` of ``branch``'s run."""
    return partial(
        wsd_lr_factor, warmup_steps=warmup_steps, decay_start_step=branch.branch_step, total_steps=branch.total_steps
    )


def _train_wsd(model, optimizer, blocks, order, batch_size: int, steps: range, lr: float, factor, checkpoint=None):
    """Updates ``steps``: update ``s`` trains on ``blocks[order[s·batch_size:(s+1)·batch_size]]`` at LR
    ``lr·factor(s)``; ``checkpoint(s + 1, losses)`` after each. The optimizer is left at LR ``lr·factor(steps.stop)``
    (0 at the end of a decay). Returns the losses of these updates (nats/token)."""
    model.train()
    step_losses: list[float] = []
    bar = tqdm(steps, desc=f"pretrain-wsd N={non_embedding_params(model):,}", unit="step", mininterval=2.0)
    for s in bar:
        for group in optimizer.param_groups:
            group["lr"] = lr * factor(s)
        step_losses.append(_step(model, blocks[order[s * batch_size : (s + 1) * batch_size]], optimizer))
        bar.set_postfix(loss=f"{step_losses[-1]:.3f}", refresh=False)
        if checkpoint is not None:
            checkpoint(s + 1, step_losses)
    for group in optimizer.param_groups:
        group["lr"] = lr * factor(steps.stop)
    return step_losses


def _settings(arch, budgets, seq_len, batch_size, lr, warmup_fraction, decay_fraction, seed, weight_decay, mpe):
    """The settings a branch must share with its trunk, as ``trunk.json`` stores them (JSON-normalised)."""
    settings = {
        "arch": dict(arch),
        "budgets": {str(k): float(v) for k, v in budgets.items()},
        "seq_len": int(seq_len),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "warmup_fraction": float(warmup_fraction),
        "decay_fraction": float(decay_fraction),
        "weight_decay": float(weight_decay),
        "seed": int(seed),
        "max_position_embeddings": int(mpe or seq_len),
    }
    return json.loads(json.dumps(settings))


def _blocks_sha256(blocks: torch.Tensor) -> str:
    """Digest of the training blocks (token ids): the same corpus, tokenizer, split and ``seq_len``."""
    return hashlib.sha256(blocks.contiguous().numpy().tobytes()).hexdigest()


def _mean_last(losses: Sequence[float]) -> float | None:
    """Mean of the last ``FINAL_LOSS_WINDOW`` losses (nats/token); None without any."""
    last = list(losses)[-FINAL_LOSS_WINDOW:]
    return sum(last) / len(last) if last else None


def pretrain_trunk(
    corpus: Sequence[str],
    tokenizer_dir: str | os.PathLike,
    arch: Mapping,
    branch_tokens: Mapping[str, float],
    out_dir: str | os.PathLike,
    seq_len: int,
    batch_size: int,
    lr: float,
    warmup_fraction: float,
    decay_fraction: float,
    seed: int,
    threads: int = 1,
    weight_decay: float = 0.1,
    val_corpus: Sequence[str] | None = None,
    val_fraction: float = 0.02,
    max_position_embeddings: int | None = None,
) -> dict:
    """Train the constant-LR trunk shared by the budgets ``branch_tokens`` (label -> ``D`` tokens); write
    ``out_dir`` atomically: ``<label>/state.pt`` at each label's branch point, and ``trunk.json``.

    Seeded like ``pretrain.pretrain`` (same init; one ``block_order`` for the largest budget): linear warm-up over
    ``round(warmup_fraction · steps of the largest budget)`` steps, then constant ``lr`` to the largest branch
    point. A state holds the model ``state_dict``, AdamW state, step index, losses so far and torch RNG state.
    ValueError (naming the budget) for a branch point before the end of warm-up. Returns ``trunk.json``: settings;
    per label ``branch_step``/``branch_tokens``, ``train_loss`` (nats/token, last steps before the branch) and
    ``wall_s`` (seconds to the branch point); the trunk's steps, tokens, FLOPs (6·(N + H)·tokens, see
    :mod:`rlscaling.compute`), losses and ``wall_s``.
    """
    warmup_steps, branches = wsd_plan(branch_tokens, seq_len, batch_size, warmup_fraction, decay_fraction)
    settings = _settings(
        arch, branch_tokens, seq_len, batch_size, lr, warmup_fraction, decay_fraction, seed, weight_decay,
        max_position_embeddings,
    )  # fmt: skip
    t0 = time.perf_counter()
    tokenizer, train_blocks, _, model, generator = _start(
        corpus, tokenizer_dir, arch, seq_len, seed, threads, val_corpus, val_fraction, max_position_embeddings
    )
    order = block_order(len(train_blocks), max(b.n_sequences for b in branches.values()), generator)
    optimizer = _adamw(model, lr, weight_decay)
    longest = max(branches.values(), key=lambda b: b.branch_step)
    records: dict[str, dict] = {}
    with atomic_dir(out_dir) as tmp:

        def checkpoint(step: int, losses: list[float]) -> None:
            for label in [label for label, b in branches.items() if b.branch_step == step]:
                (Path(tmp) / label).mkdir()
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}
                state.update(step_losses=list(losses), rng=torch.get_rng_state())
                torch.save(state, Path(tmp) / label / STATE_FILE)
                records[label] = {"train_loss": _mean_last(losses), "wall_s": time.perf_counter() - t0}

        checkpoint(0, [])
        steps, factor = range(longest.branch_step), _factor(warmup_steps, longest)
        losses = _train_wsd(model, optimizer, train_blocks, order, batch_size, steps, lr, factor, checkpoint)
        summary = {**settings, **_trunk_record(model, branches, records, losses, warmup_steps, seq_len, batch_size)}
        summary.update(n_train_blocks=len(train_blocks), train_blocks_sha256=_blocks_sha256(train_blocks))
        summary.update(threads=int(threads), wall_s=time.perf_counter() - t0)
        write_json(Path(tmp) / TRUNK_JSON, summary)
    return summary


def _trunk_record(model, branches, records, losses, warmup_steps: int, seq_len: int, batch_size: int) -> dict:
    """``trunk.json``'s schedule, per-branch and loss fields (tokens, steps, FLOPs, nats/token, seconds)."""
    step_tokens = batch_size * seq_len
    tokens = len(losses) * step_tokens
    return {
        "schedule": "wsd",
        "warmup_steps": warmup_steps,
        "steps": len(losses),
        "tokens_trained": tokens,
        **pretrain_record(non_embedding_params(model), tokens, head_params=output_head_params(model)),
        "n_params_total": total_params(model),
        "first_train_loss": losses[0] if losses else None,
        "final_train_loss": _mean_last(losses),
        "branches": {
            label: {
                "tokens_budget": b.tokens_budget,
                "tokens_trained": b.n_sequences * seq_len,
                "steps": b.total_steps,
                "branch_step": b.branch_step,
                "branch_tokens": b.branch_step * step_tokens,
                "decay_steps": b.total_steps - b.branch_step,
                **records[label],
            }
            for label, b in branches.items()
        },
    }


def _wsd_summary(model, branch: Branch, warmup_steps, losses, val_blocks, n_blocks: int, settings, threads) -> dict:
    """``pretrain.json`` of a WSD run: ``pretrain.pretrain``'s keys (``tokens_trained`` counts the whole lineage,
    ``c_pretrain_flops`` = 6·(N + H)·tokens_trained) plus ``schedule``, ``decay_fraction``, ``weight_decay``,
    ``warmup_steps``, ``branch_step`` and ``branch_tokens`` (where the decay starts)."""
    seq_len, batch_size = settings["seq_len"], settings["batch_size"]
    tokens_trained = branch.n_sequences * seq_len
    epochs = branch.n_sequences / n_blocks
    return {
        **_size_record(model, branch.tokens_budget, tokens_trained, branch.total_steps, epochs),
        **_loss_record(model, losses, val_blocks, batch_size),
        **{k: settings[k] for k in ("seq_len", "batch_size", "lr", "warmup_fraction", "arch", "seed")},
        "threads": int(threads),
        "schedule": "wsd",
        **{k: settings[k] for k in ("decay_fraction", "weight_decay")},
        "warmup_steps": warmup_steps,
        "branch_step": branch.branch_step,
        "branch_tokens": branch.branch_step * batch_size * seq_len,
    }


def pretrain_branch(
    trunk_dir: str | os.PathLike,
    label: str,
    corpus: Sequence[str],
    tokenizer_dir: str | os.PathLike,
    arch: Mapping,
    tokens: float,
    out_dir: str | os.PathLike,
    seq_len: int,
    batch_size: int,
    lr: float,
    warmup_fraction: float,
    decay_fraction: float,
    seed: int,
    threads: int = 1,
    weight_decay: float = 0.1,
    val_corpus: Sequence[str] | None = None,
    val_fraction: float = 0.02,
    max_position_embeddings: int | None = None,
    *,
    all_budgets: Mapping[str, float],
) -> dict:
    """Continue the trunk in ``trunk_dir`` from budget ``label``'s branch point to ``tokens`` (= ``D``, rounded to
    whole blocks), the LR decaying linearly to 0 (``wsd_lr_factor``); save the base model like ``pretrain.pretrain``.

    Pass the trunk's settings and all its budgets (``all_budgets``, label -> tokens: they fix the warm-up and block
    order); ValueError naming the setting if one differs from ``trunk.json`` (or the training blocks do). The model
    equals ``pretrain_wsd(..., tokens, warmup_tokens=max(all_budgets))``. ``pretrain.json`` has ``pretrain_wsd``'s
    keys (tokens, FLOPs and losses of the whole lineage) plus ``trunk_wall_s`` (trunk seconds to the branch point),
    ``branch_wall_s`` and ``wall_s`` = their sum.
    """
    if label not in all_budgets or float(all_budgets[label]) != float(tokens):
        raise ValueError(f"tokens={tokens} is not budget {label!r} of all_budgets={dict(all_budgets)}")
    warmup_steps, branches = wsd_plan(all_budgets, seq_len, batch_size, warmup_fraction, decay_fraction)
    settings = _settings(
        arch, all_budgets, seq_len, batch_size, lr, warmup_fraction, decay_fraction, seed, weight_decay,
        max_position_embeddings,
    )  # fmt: skip
    trunk = read_json(Path(trunk_dir) / TRUNK_JSON)
    _check_trunk(trunk, settings, trunk_dir)
    t0 = time.perf_counter()
    tokenizer, train_blocks, val_blocks, model, generator = _start(
        corpus, tokenizer_dir, arch, seq_len, seed, threads, val_corpus, val_fraction, max_position_embeddings
    )
    _check_trunk(trunk, {"train_blocks_sha256": _blocks_sha256(train_blocks)}, trunk_dir)
    branch = branches[label]
    order = block_order(len(train_blocks), max(b.n_sequences for b in branches.values()), generator)
    optimizer = _adamw(model, lr, weight_decay)
    state = torch.load(Path(trunk_dir) / label / STATE_FILE, weights_only=True)
    if state["step"] != branch.branch_step:
        raise ValueError(f"{trunk_dir}/{label}: state at step {state['step']}, expected {branch.branch_step}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    steps = range(branch.branch_step, branch.total_steps)
    order = order[: branch.n_sequences]
    new = _train_wsd(model, optimizer, train_blocks, order, batch_size, steps, lr, _factor(warmup_steps, branch))
    losses = state["step_losses"] + new
    summary = _wsd_summary(model, branch, warmup_steps, losses, val_blocks, len(train_blocks), settings, threads)
    return _save(model, tokenizer, out_dir, summary, t0, trunk_wall_s=trunk["branches"][label]["wall_s"])


def _check_trunk(trunk: Mapping, expected: Mapping, trunk_dir) -> None:
    """ValueError naming the first key of ``expected`` whose value differs from ``trunk``'s."""
    for key, value in expected.items():
        if trunk.get(key) != value:
            raise ValueError(
                f"{Path(trunk_dir) / TRUNK_JSON}: {key}={value!r} differs from the trunk's {key}={trunk.get(key)!r}"
            )


def pretrain_wsd(
    corpus: Sequence[str],
    tokenizer_dir: str | os.PathLike,
    arch: Mapping,
    tokens: float,
    out_dir: str | os.PathLike,
    seq_len: int,
    batch_size: int,
    lr: float,
    warmup_fraction: float,
    decay_fraction: float,
    seed: int,
    threads: int = 1,
    weight_decay: float = 0.1,
    val_corpus: Sequence[str] | None = None,
    val_fraction: float = 0.02,
    max_position_embeddings: int | None = None,
    warmup_tokens: float | None = None,
) -> dict:
    """One continuous WSD run to ``tokens`` (``D``) from scratch, no trunk; saved like ``pretrain.pretrain``.

    Seeded init and block order as ``pretrain.pretrain``; linear warm-up over ``round(warmup_fraction · steps)``
    steps (of a ``warmup_tokens`` budget instead, if larger: pass a trunk's largest budget to reproduce its branch),
    constant ``lr`` to ``round((1 - decay_fraction) · n / batch_size)`` steps, then linear decay to 0 at the last of
    ``ceil(n / batch_size)`` steps, ``n = round(D / seq_len)`` blocks. Returns ``pretrain.json`` (tokens, FLOPs,
    nats/token, seconds; keys as ``pretrain.pretrain`` plus ``schedule: "wsd"``, ``decay_fraction``, ``branch_tokens``).
    """
    warmup_steps, branches = wsd_plan(
        {"tokens": tokens}, seq_len, batch_size, warmup_fraction, decay_fraction, warmup_tokens
    )
    branch = branches["tokens"]
    settings = _settings(
        arch, {}, seq_len, batch_size, lr, warmup_fraction, decay_fraction, seed, weight_decay,
        max_position_embeddings,
    )  # fmt: skip
    t0 = time.perf_counter()
    tokenizer, train_blocks, val_blocks, model, generator = _start(
        corpus, tokenizer_dir, arch, seq_len, seed, threads, val_corpus, val_fraction, max_position_embeddings
    )
    order = block_order(len(train_blocks), branch.n_sequences, generator)
    optimizer = _adamw(model, lr, weight_decay)
    steps = range(branch.total_steps)
    losses = _train_wsd(model, optimizer, train_blocks, order, batch_size, steps, lr, _factor(warmup_steps, branch))
    summary = _wsd_summary(model, branch, warmup_steps, losses, val_blocks, len(train_blocks), settings, threads)
    return _save(model, tokenizer, out_dir, summary, t0)
