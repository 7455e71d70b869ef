"""Batched generation and strided loss with plain ``transformers`` (CPU or one GPU).

Generation is batched with LEFT padding and the KV cache; prompts are sorted by length so that a
batch wastes little padding, and outputs are returned in the caller's order. A sequence stops at the
tokenizer's EOS token, at ``max_new_tokens``, or at the first of the ``stop`` strings (same contract as
vLLM's ``SamplingParams(stop=...)``, see :mod:`rlscaling.evaluation.stopping`): with ``stop=("Question:",)``
a base model that goes on to invent a new question after its answer is cut before it. Sampling is pure
temperature sampling over the whole vocabulary (no top-k / top-p), as in the RL rollouts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import AutoTokenizer

from rlscaling.evaluation.common import GenerationStats, check_prompt_lengths  # noqa: F401  (re-exported)
from rlscaling.evaluation.perplexity import strided_windows
from rlscaling.evaluation.stopping import (
    StopOnText,
    check_stop,
    completing_tokens,
    cut_at_stop,
    stop_token_count,
)
from rlscaling.models.tiny import load_causal_lm


def _response_length(ids: torch.Tensor, eos_id: int, pad_id: int) -> int:
    """Generated tokens up to and including the first EOS (the padding after it is not counted)."""
    hits = (ids == eos_id).nonzero()
    if len(hits):
        return int(hits[0, 0]) + 1
    if pad_id != eos_id:
        return int((ids != pad_id).sum())
    return len(ids)


def _decode_response(tokenizer, ids: torch.Tensor, stop: tuple[str, ...]) -> tuple[str, int]:
    """(text, response tokens) of one generated row: cut before the first stop string, else at the first EOS."""
    n = _response_length(ids, tokenizer.eos_token_id, tokenizer.pad_token_id)
    ids = ids[:n].tolist()

    def decode(part):
        return tokenizer.decode(part, skip_special_tokens=True)

    n_stop = stop_token_count(decode, ids, stop)
    if n_stop is None:
        return decode(ids), n
    return cut_at_stop(decode(ids[:n_stop]), stop), n_stop


def _load_left_padding_tokenizer(model_dir: str | os.PathLike):
    """The model's tokenizer, padding on the LEFT (batched generation), with EOS as pad token if it has none."""
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _generate_batch(
    model,
    tokenizer,
    prompt_ids: list[list[int]],
    gen_kwargs: dict,
    stop: tuple[str, ...],
    completing: torch.Tensor | None,
) -> list[tuple[str, int]]:
    """``(text, response tokens)`` of every returned sequence of one left-padded batch, in row order."""
    batch = tokenizer.pad({"input_ids": prompt_ids}, return_tensors="pt").to(model.device)
    prompt_len = batch["input_ids"].shape[1]
    criteria = [StopOnText(tokenizer, stop, prompt_len, completing)] if stop else None
    with torch.no_grad():
        out = model.generate(**batch, **gen_kwargs, stopping_criteria=criteria)
    return [_decode_response(tokenizer, ids, stop) for ids in out[:, prompt_len:].cpu()]


def _check_settings(num_samples: int, batch_size: int, max_new_tokens: int, temperature: float) -> None:
    """ValueError unless the counts are >= 1 and the temperature >= 0."""
    if num_samples < 1 or batch_size < 1 or max_new_tokens < 1:
        raise ValueError(
            "num_samples, batch_size and max_new_tokens must be >= 1, "
            f"got {num_samples}, {batch_size}, {max_new_tokens}"
        )
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")


def _generate_kwargs(tokenizer, max_new_tokens: int, n_return: int, temperature: float) -> dict:
    """``model.generate`` keywords: greedy at temperature 0, else plain temperature sampling (no top-k/top-p)."""
    sampling = temperature > 0
    kwargs = {
        "max_new_tokens": max_new_tokens,
        "do_sample": sampling,
        "num_return_sequences": n_return,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if sampling:
        kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
    return kwargs


def generate_with_stats(
    model_dir: str | os.PathLike,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int = 64,
    num_samples: int = 1,
    temperature: float = 0.0,
    seed: int = 0,
    threads: int = 1,
    device: str | None = None,
    stop: Sequence[str] = (),
) -> tuple[list[list[dict]], GenerationStats]:
    """Like :func:`generate`, also returning token counts and wall time (for tokens/s)."""
    stop = check_stop(stop)
    _check_settings(num_samples, batch_size, max_new_tokens, temperature)
    t0 = time.perf_counter()
    torch.set_num_threads(int(threads))
    tokenizer = _load_left_padding_tokenizer(model_dir)
    model = load_causal_lm(model_dir, device=device or ("cuda" if torch.cuda.is_available() else "cpu"))

    encoded = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    lengths = [len(ids) for ids in encoded]
    check_prompt_lengths(
        lengths,
        max_new_tokens,
        getattr(model.config, "max_position_embeddings", None),
        "the model's max_position_embeddings",
        "use fewer shots, a shorter max_new_tokens, or a longer-context model",
    )

    sampling = temperature > 0
    n_return = num_samples if sampling else 1  # greedy samples are identical: decode once, copy
    prompts_per_batch = max(1, batch_size // n_return)  # batch_size bounds the sequences decoded together
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    results: list[list[dict]] = [[] for _ in prompts]
    gen_kwargs = _generate_kwargs(tokenizer, max_new_tokens, n_return, temperature)
    completing = completing_tokens(tokenizer, stop) if stop else None
    torch.manual_seed(seed)
    n_response = 0
    bar = tqdm(total=len(prompts), desc=f"generate {os.path.basename(str(model_dir).rstrip('/'))}", unit="prompt")
    for start in range(0, len(order), prompts_per_batch):
        idx = order[start : start + prompts_per_batch]
        rows = _generate_batch(model, tokenizer, [encoded[i] for i in idx], gen_kwargs, stop, completing)
        for row, (text, n) in enumerate(rows):
            i = idx[row // n_return]
            results[i].append({"text": text, "prompt_tokens": lengths[i], "response_tokens": n})
            n_response += n
        bar.update(len(idx))
        bar.set_postfix(tok_s=f"{n_response / (time.perf_counter() - t0):.0f}", refresh=False)
    bar.close()
    if not sampling:
        results = [[dict(r[0]) for _ in range(num_samples)] for r in results]
        n_response *= num_samples
    stats = GenerationStats(sum(lengths) * num_samples, n_response, time.perf_counter() - t0)
    return results, stats


def generate(model_dir: str | os.PathLike, prompts: Sequence[str], max_new_tokens: int, **options) -> list[list[dict]]:
    """Generate ``num_samples`` continuations per prompt with the model saved in ``model_dir``.

    Returns, in the order of ``prompts``, a list of ``num_samples`` dicts
    ``{"text": str, "prompt_tokens": int, "response_tokens": int}``; ``text`` is the continuation
    only (special tokens dropped) and ``response_tokens`` counts generated tokens including a final
    EOS. ``temperature == 0`` is greedy decoding (all samples identical); otherwise seeded
    temperature sampling. ``batch_size`` is the number of sequences decoded together. A prompt that
    cannot fit ``max_new_tokens`` more tokens in the model's positions raises ``ValueError`` naming it.

    ``stop``: strings that end a sequence as soon as its decoded continuation contains one; ``text`` is then
    cut right before the earliest occurrence (the stop string is not included) and ``response_tokens`` counts
    the generated tokens up to and including the one that completed it (vLLM's ``stop`` semantics).

    ``options`` (keywords of :func:`generate_with_stats`): ``batch_size`` (64), ``num_samples`` (1), ``temperature``
    (0.0), ``seed`` (0), ``threads`` (1), ``device`` (CUDA when available), ``stop`` (none).
    """
    return generate_with_stats(model_dir, prompts, max_new_tokens, **options)[0]


@torch.no_grad()
def sequence_loss(
    model_dir: str | os.PathLike,
    texts: Sequence[str],
    seq_len: int,
    stride: int,
    threads: int = 1,
) -> dict:
    """Strided mean next-token NLL (nats/token) of ``texts`` under the model in ``model_dir``.

    The texts are tokenized and concatenated with EOS between documents (as in pre-training). Windows of
    ``seq_len`` tokens advance by ``stride`` scored tokens (``perplexity.strided_windows``): each token is scored
    once, with ``seq_len - stride`` (at least 1) tokens of context carried over (the "sliding window" perplexity of
    the HF guide). Returns ``{"loss", "n_tokens"}``; perplexity is ``exp(loss)``.
    """
    if not 0 < stride <= seq_len:
        raise ValueError(f"need 0 < stride <= seq_len, got stride={stride}, seq_len={seq_len}")
    torch.set_num_threads(int(threads))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = load_causal_lm(model_dir)
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions is not None and seq_len > max_positions:
        raise ValueError(f"seq_len={seq_len} exceeds the model's max_position_embeddings={max_positions}")
    flat: list[int] = []
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        flat.extend(ids + [tokenizer.eos_token_id])
    flat = flat[:-1]
    if len(flat) < 2:
        raise ValueError("sequence_loss needs at least 2 tokens of text")
    ids = torch.tensor(flat)
    total_nll, n_tokens = 0.0, 0
    windows = strided_windows(len(flat), seq_len, stride)
    for start, end, first_target in tqdm(windows, desc="sequence_loss", unit="window", mininterval=2.0):
        logits = model(input_ids=ids[start:end].unsqueeze(0)).logits[0, :-1].float()
        skip = first_target - start - 1  # logits row j predicts token start + 1 + j
        nll = torch.nn.functional.cross_entropy(logits[skip:], ids[first_target:end], reduction="sum")
        total_nll += nll.item()
        n_tokens += end - first_target
    return {"loss": total_nll / n_tokens, "n_tokens": n_tokens}
