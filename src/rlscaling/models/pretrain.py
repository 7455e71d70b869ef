"""Pre-train a tiny Qwen3-architecture causal LM on the embedded corpus (CPU, deterministic per seed).

The corpus is tokenized document by document (each followed by ``<|endoftext|>``), concatenated and
cut into ``seq_len``-token blocks, GPT-style. A slice of documents (``val_fraction``) is held out
before packing for the validation loss. Training visits blocks in a seeded random order, reshuffling
each epoch when the token budget exceeds the corpus. The saved directory loads exactly like a hub
base model: ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained(out_dir)``; ``pretrain.json``
in the same directory records ``N``, the head's ``H``, ``D`` and ``C = 6·(N + H)·D`` (:mod:`rlscaling.compute`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoTokenizer, Qwen3ForCausalLM, get_cosine_schedule_with_warmup

from rlscaling.compute import pretrain_record
from rlscaling.io import atomic_dir, write_json
from rlscaling.models.tiny import non_embedding_params, output_head_params, tiny_qwen3_config, total_params

VAL_BLOCKS_MAX = 64  # validation loss is averaged over at most this many held-out blocks
FINAL_LOSS_WINDOW = 10  # final_train_loss = mean training loss of the last this-many steps


def _encode(tokenizer, docs: Sequence[str]) -> list[list[int]]:
    return tokenizer(list(docs), add_special_tokens=False)["input_ids"]


def pack_blocks(token_ids: Sequence[Sequence[int]], eos_id: int, seq_len: int) -> torch.Tensor:
    """Concatenate documents (each followed by ``eos_id``) and cut into ``[n_blocks, seq_len]``; the tail is dropped."""
    flat: list[int] = []
    for ids in token_ids:
        flat.extend(ids)
        flat.append(eos_id)
    n_blocks = len(flat) // seq_len
    if n_blocks == 0:
        raise ValueError(f"corpus has {len(flat)} tokens, fewer than one block of seq_len={seq_len}")
    return torch.tensor(flat[: n_blocks * seq_len], dtype=torch.long).view(n_blocks, seq_len)


def split_documents(corpus: Sequence[str], val_fraction: float) -> tuple[list[str], list[str]]:
    """(train, val): the last ``ceil(val_fraction · len)`` documents are held out (at least 1 when val_fraction > 0)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = math.ceil(val_fraction * len(corpus)) if val_fraction > 0 else 0
    return list(corpus[: len(corpus) - n_val]), list(corpus[len(corpus) - n_val :])


def block_order(n_blocks: int, n_sequences: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of the ``n_sequences`` blocks to train on: a fresh permutation per epoch over ``n_blocks``."""
    epochs = math.ceil(n_sequences / n_blocks)
    order = torch.cat([torch.randperm(n_blocks, generator=generator) for _ in range(epochs)])
    return order[:n_sequences]


@torch.no_grad()
def mean_block_loss(model: torch.nn.Module, blocks: torch.Tensor, batch_size: int) -> float:
    """Mean next-token NLL (nats/token) over ``blocks`` (equal-length blocks: a mean of batch means is exact)."""
    model.eval()
    losses = []
    for start in range(0, len(blocks), batch_size):
        batch = blocks[start : start + batch_size]
        losses.append(model(input_ids=batch, labels=batch).loss.item() * len(batch))
    return sum(losses) / len(blocks)


def _check_settings(tokens: float, seq_len: int, warmup_fraction: float) -> None:
    """ValueError for a budget under one ``seq_len`` block or a warm-up fraction outside [0, 1)."""
    if tokens < seq_len:
        raise ValueError(f"pretrain budget of {tokens} tokens is less than one seq_len={seq_len} block")
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"pretrain.warmup_fraction must be in [0, 1), got {warmup_fraction}")


def _blocks(
    tokenizer, corpus: Sequence[str], val_corpus: Sequence[str] | None, val_fraction: float, seq_len: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Training blocks and validation blocks (at most ``VAL_BLOCKS_MAX``; None without validation documents), each
    ``seq_len`` tokens; validation comes from ``val_corpus`` if given, else the last ``val_fraction`` of ``corpus``."""
    if val_corpus is None:
        train_docs, val_docs = split_documents(corpus, val_fraction)
    else:
        train_docs, val_docs = list(corpus), list(val_corpus)
    train_blocks = pack_blocks(_encode(tokenizer, train_docs), tokenizer.eos_token_id, seq_len)
    val_blocks = None
    if val_docs:
        val_blocks = pack_blocks(_encode(tokenizer, val_docs), tokenizer.eos_token_id, seq_len)[:VAL_BLOCKS_MAX]
    return train_blocks, val_blocks


def _adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW (β = 0.9/0.95; weight decay on matrices only, parameters grouped in ``named_parameters`` order)."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.95),
    )


def _optimizer(model: torch.nn.Module, lr: float, weight_decay: float, warmup_fraction: float, n_steps: int):
    """AdamW (``_adamw``) and its linear-warm-up cosine schedule to 0."""
    optimizer = _adamw(model, lr, weight_decay)
    return optimizer, get_cosine_schedule_with_warmup(optimizer, round(warmup_fraction * n_steps), n_steps)


def _step(model: torch.nn.Module, batch: torch.Tensor, optimizer: torch.optim.Optimizer) -> float:
    """One optimizer step on ``batch`` (gradient norm clipped at 1) at the optimizer's current LR; its loss
    (nats/token, before the update)."""
    loss = model(input_ids=batch, labels=batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _train(
    model: torch.nn.Module,
    blocks: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
    n_steps: int,
    optimizer_and_schedule,
) -> list[float]:
    """``n_steps`` steps over ``blocks`` in ``order`` (gradient norm clipped at 1); the loss of every step
    (nats/token)."""
    optimizer, scheduler = optimizer_and_schedule
    model.train()
    step_losses: list[float] = []
    bar = tqdm(range(n_steps), desc=f"pretrain N={non_embedding_params(model):,}", unit="step", mininterval=2.0)
    for step in bar:
        step_losses.append(_step(model, blocks[order[step * batch_size : (step + 1) * batch_size]], optimizer))
        scheduler.step()
        bar.set_postfix(loss=f"{step_losses[-1]:.3f}", refresh=False)
    return step_losses


def _start(
    corpus: Sequence[str],
    tokenizer_dir: str | os.PathLike,
    arch: Mapping,
    seq_len: int,
    seed: int,
    threads: int,
    val_corpus: Sequence[str] | None,
    val_fraction: float,
    max_position_embeddings: int | None,
) -> tuple:
    """The seeded start of a run: ``(tokenizer, train_blocks, val_blocks, model, generator)``, with ``threads`` torch
    threads, the global RNG seeded with ``seed`` before the model is initialised and ``generator`` (seeded with
    ``seed``, nothing drawn yet) for ``block_order``."""
    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    train_blocks, val_blocks = _blocks(tokenizer, corpus, val_corpus, val_fraction, seq_len)
    config = tiny_qwen3_config(arch, tokenizer, max_position_embeddings or seq_len)
    return tokenizer, train_blocks, val_blocks, Qwen3ForCausalLM(config), generator


def pretrain(
    corpus: Sequence[str],
    tokenizer_dir: str | os.PathLike,
    arch: Mapping,
    tokens: float,
    out_dir: str | os.PathLike,
    seq_len: int,
    batch_size: int,
    lr: float,
    warmup_fraction: float,
    seed: int,
    threads: int = 1,
    weight_decay: float = 0.1,
    val_fraction: float = 0.02,
    val_corpus: Sequence[str] | None = None,
    max_position_embeddings: int | None = None,
) -> dict:
    """Pre-train a tiny ``Qwen3ForCausalLM`` on ``corpus`` for ``tokens`` training tokens; save it to ``out_dir``.

    ``tokens`` (the budget ``D``) is rounded to whole ``seq_len`` blocks: the model sees
    ``round(tokens / seq_len) · seq_len`` tokens (recorded as ``tokens_trained``, which ``C`` uses) in
    steps of ``batch_size`` blocks (the last step may be smaller). AdamW (β = 0.9/0.95, gradient norm
    clipped at 1), cosine schedule to 0 after ``warmup_fraction`` of the steps linear warm-up.
    The validation loss is measured on ``val_corpus`` if given, else on the last ``val_fraction`` of
    ``corpus`` (held out from training). ``max_position_embeddings`` defaults to ``seq_len``.
    Weight decay applies to matrices only. Returns the ``pretrain.json`` dict (losses in nats/token,
    FLOPs as floats, wall time in seconds).
    """
    _check_settings(tokens, seq_len, warmup_fraction)
    t0 = time.perf_counter()
    tokenizer, train_blocks, val_blocks, model, generator = _start(
        corpus, tokenizer_dir, arch, seq_len, seed, threads, val_corpus, val_fraction, max_position_embeddings
    )
    n_sequences = max(1, round(tokens / seq_len))
    order = block_order(len(train_blocks), n_sequences, generator)
    n_steps = math.ceil(n_sequences / batch_size)

    step_losses = _train(
        model, train_blocks, order, batch_size, n_steps, _optimizer(model, lr, weight_decay, warmup_fraction, n_steps)
    )

    summary = {
        **_size_record(model, tokens, n_sequences * seq_len, n_steps, n_sequences / len(train_blocks)),
        **_loss_record(model, step_losses, val_blocks, batch_size),
        "seq_len": seq_len,
        "batch_size": batch_size,
        "lr": lr,
        "warmup_fraction": warmup_fraction,
        "arch": dict(arch),
        "seed": seed,
        "threads": int(threads),
    }
    return _save(model, tokenizer, out_dir, summary, t0)


def _size_record(model: torch.nn.Module, tokens: float, tokens_trained: int, n_steps: int, epochs: float) -> dict:
    """Parameters (non-embedding, output head and total), the token budget and the tokens trained, ``C_pretrain`` in
    FLOPs with the head's share of them (:func:`rlscaling.compute.pretrain_record`), optimizer steps and epochs over
    the training blocks."""
    compute = pretrain_record(non_embedding_params(model), tokens_trained, head_params=output_head_params(model))
    return {
        "n_params_total": total_params(model),
        "tokens_budget": float(tokens),
        "tokens_trained": tokens_trained,
        **compute,
        "steps": n_steps,
        "epochs": epochs,
    }


def _loss_record(
    model: torch.nn.Module, step_losses: list[float], val_blocks: torch.Tensor | None, batch_size: int
) -> dict:
    """Training losses (first step; mean of the last ``FINAL_LOSS_WINDOW`` steps) and the validation loss with its
    token count, all in nats/token (``val_loss`` None without validation blocks)."""
    last = step_losses[-FINAL_LOSS_WINDOW:]
    return {
        "final_train_loss": sum(last) / len(last),
        "first_train_loss": step_losses[0],
        "val_loss": mean_block_loss(model, val_blocks, batch_size) if val_blocks is not None else None,
        "val_tokens": int(val_blocks.numel()) if val_blocks is not None else 0,
    }


def _save(
    model, tokenizer, out_dir: str | os.PathLike, summary: dict, t0: float, trunk_wall_s: float | None = None
) -> dict:
    """Write model, tokenizer and ``pretrain.json`` (``summary`` plus ``wall_s`` since ``t0``) into ``out_dir``
    atomically; returns ``summary``. With ``trunk_wall_s`` (a WSD branch: the trunk's seconds up to the branch
    point), ``branch_wall_s`` is the time since ``t0`` and ``wall_s`` = ``trunk_wall_s + branch_wall_s``."""
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        elapsed = time.perf_counter() - t0
        if trunk_wall_s is not None:
            summary.update(trunk_wall_s=float(trunk_wall_s), branch_wall_s=elapsed)
        summary["wall_s"] = elapsed + (trunk_wall_s or 0.0)
        write_json(Path(tmp) / "pretrain.json", summary)
    return summary
