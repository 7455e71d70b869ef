"""Validation loss (mean token negative log-likelihood, nats/token) with ``transformers``: strided windows per
document (``val_loss.method: strided``, :func:`document_losses`) or the seed study's non-overlapping blocks
(``blocks``, :func:`block_losses`).

Strided: each document is scored in windows of ``seq_len`` tokens that advance by ``stride`` scored tokens; every token
after the first is predicted exactly once, with ``seq_len - stride`` (at least 1) tokens of left context carried
over from the previous window (the standard strided-perplexity recipe, :func:`strided_windows`). Per-document sums
are returned so that aggregation can bootstrap over documents.

Blocks (seed_recipe.md (c), the seed's ``eval/val_loss.py``): every text is tokenized without special tokens (no BOS,
no separators), the token lists of each chunk of ``chunk_rows`` consecutive texts are concatenated and cut into
``block`` tokens, the chunk's remainder dropped (the seed's batched ``datasets.map`` of 1,000 rows); each block is one
forward pass scored on its ``block - 1`` next-token targets (:func:`chunked_blocks`). Per-block sums are returned.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm


def strided_windows(n_tokens: int, seq_len: int, stride: int) -> list[tuple[int, int, int]]:
    """Windows ``(begin, end, first_target)`` over a sequence of ``n_tokens`` tokens: the model reads tokens
    ``begin..end-1`` and is scored on the targets ``first_target..end-1``. Every token after the first is a target
    exactly once; after the first window each one sees ``seq_len - stride`` (at least 1) tokens of earlier context."""
    if not 0 < stride <= seq_len:
        raise ValueError(f"stride must be in (0, seq_len={seq_len}], got {stride}")
    context = max(seq_len - stride, 1)  # each window re-reads this many already-scored tokens
    windows, scored_to = [], 1  # token 0 has no context and is never a target
    while scored_to < n_tokens:
        begin = max(0, scored_to - context)
        end = min(begin + seq_len, n_tokens)
        windows.append((begin, end, scored_to))
        scored_to = end
    return windows


def chunked_blocks(token_lists: list[list[int]], block: int, chunk_rows: int | None) -> list[list[int]]:
    """Non-overlapping ``block``-token blocks: the lists of each run of ``chunk_rows`` consecutive texts (None: all)
    concatenated, cut from its start, the remainder (< ``block`` tokens) of every chunk dropped."""
    if block < 2:
        raise ValueError(f"block must be >= 2 tokens, got {block}")
    step = chunk_rows or max(len(token_lists), 1)
    blocks = []
    for start in range(0, len(token_lists), step):
        ids = [t for tokens in token_lists[start : start + step] for t in tokens]
        blocks += [ids[i : i + block] for i in range(0, len(ids) - block + 1, block)]
    return blocks


def block_losses(
    model_dir: str,
    texts: list[str],
    block: int = 1024,
    chunk_rows: int | None = 1000,
    device: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> list[dict]:
    """``[{"nll_sum": nats, "n_tokens": block - 1}, ...]`` per block of :func:`chunked_blocks` (see the module
    docstring); no block (too little text) -> ValueError. Runs under ``torch.no_grad()``."""
    from transformers import AutoTokenizer

    from rlscaling.models.tiny import load_causal_lm

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = load_causal_lm(model_dir, dtype=dtype, device=device)
    max_pos = getattr(model.config, "max_position_embeddings", block) or block
    if block > max_pos:
        raise ValueError(f"val_loss.seq_len={block}: blocks longer than the model's {max_pos} positions")
    token_lists = tok(list(texts), add_special_tokens=False)["input_ids"] if texts else []
    blocks = chunked_blocks([list(t) for t in token_lists], block, chunk_rows)
    if not blocks:
        raise ValueError(f"the validation texts hold no full block of {block} tokens")
    out = []
    for ids in tqdm(blocks, desc="val loss blocks", mininterval=5):
        window = torch.tensor([ids], device=device)
        with torch.no_grad():
            logits = model(window).logits[0, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits, window[0, 1:], reduction="sum")
        out.append({"nll_sum": float(nll), "n_tokens": block - 1})
    return out


def document_losses(
    model_dir: str,
    texts: list[str],
    seq_len: int = 256,
    stride: int = 128,
    device: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> list[dict]:
    """``[{"nll_sum": nats, "n_tokens": int}, ...]`` per text; a text of < 2 tokens contributes 0 tokens.

    The forwards run under ``torch.no_grad()``: no autograd graph is kept (memory stays one window's activations).
    """
    from transformers import AutoTokenizer

    from rlscaling.models.tiny import load_causal_lm

    if not 0 < stride <= seq_len:
        raise ValueError(f"val_loss.stride must be in (0, seq_len={seq_len}], got {stride}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = load_causal_lm(model_dir, dtype=dtype, device=device)
    max_pos = getattr(model.config, "max_position_embeddings", seq_len) or seq_len
    seq_len = min(seq_len, max_pos)
    stride = min(stride, seq_len)
    out = []
    for text in tqdm(texts, desc="val loss", mininterval=5):
        ids = tok(text, return_tensors="pt").input_ids[0]
        if tok.bos_token_id is not None and (len(ids) == 0 or ids[0] != tok.bos_token_id):
            ids = torch.cat([torch.tensor([tok.bos_token_id]), ids])
        n = ids.numel()
        nll, counted = 0.0, 0
        for begin, end, first_target in strided_windows(n, seq_len, stride):
            window = ids[begin:end].unsqueeze(0).to(device)
            with torch.no_grad():
                logits = model(window).logits[0, :-1].float()
                logp = torch.log_softmax(logits, dim=-1).gather(1, window[0, 1:].unsqueeze(1)).squeeze(1)
            keep = logp[first_target - begin - 1 :]  # targets at positions first_target .. end-1
            nll -= float(keep.sum())
            counted += keep.numel()
        out.append({"nll_sum": nll, "n_tokens": counted})
    return out
