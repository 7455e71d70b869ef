"""Strided validation loss (mean token negative log-likelihood, nats/token) with ``transformers``.

Each document is scored in windows of ``seq_len`` tokens advanced by ``stride``; every token is predicted once,
with up to ``seq_len - stride`` tokens of left context from the previous window (the standard strided-perplexity
recipe). Per-document sums are returned so that aggregation can bootstrap over documents.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm


@torch.no_grad()
def document_losses(model_dir: str, texts: list[str], seq_len: int = 256, stride: int = 128,
                    device: str | None = None, dtype: torch.dtype = torch.float32) -> list[dict]:
    """``[{"nll_sum": nats, "n_tokens": int}, ...]`` per text; a text of < 2 tokens contributes 0 tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not 0 < stride <= seq_len:
        raise ValueError(f"val_loss.stride must be in (0, seq_len={seq_len}], got {stride}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    max_pos = getattr(model.config, "max_position_embeddings", seq_len) or seq_len
    seq_len = min(seq_len, max_pos)
    stride = min(stride, seq_len)
    out = []
    for text in tqdm(texts, desc="val loss", mininterval=5):
        ids = tok(text, return_tensors="pt").input_ids[0]
        if tok.bos_token_id is not None and (len(ids) == 0 or ids[0] != tok.bos_token_id):
            ids = torch.cat([torch.tensor([tok.bos_token_id]), ids])
        n = ids.numel()
        nll, counted, prev_end = 0.0, 0, 0
        for begin in range(0, max(n - 1, 1), stride):
            end = min(begin + seq_len, n)
            window = ids[begin:end].unsqueeze(0).to(device)
            target_from = max(prev_end, begin + 1)  # first position whose token is not yet scored
            if end - target_from <= 0 or window.shape[1] < 2:
                prev_end = end
                if end == n:
                    break
                continue
            logits = model(window).logits[0, :-1].float()
            targets = window[0, 1:]
            logp = torch.log_softmax(logits, dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1)
            keep = logp[target_from - begin - 1:]
            nll -= float(keep.sum())
            counted += keep.numel()
            prev_end = end
            if end == n:
                break
        out.append({"nll_sum": nll, "n_tokens": counted})
    return out
