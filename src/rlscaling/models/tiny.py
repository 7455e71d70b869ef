"""Tiny Qwen3-architecture models for the embedded study, parameter counting, and loading.

``N`` in ``C = 6·N·D`` is the **non-embedding** parameter count (Kaplan et al. 2020): every
parameter except the token-embedding matrix and the LM head. The head is excluded whether it is
tied to the embeddings (as in the small Qwen3 models and our tiny ones, where it is the same
matrix) or untied (where it is a separate ``vocab × hidden`` matrix doing the same lookup in
reverse). Norm weights, attention and MLP projections, q/k norms all count.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedModel, Qwen3Config

from rlscaling.models.checkpoints import check_if_local

ARCH_KEYS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size")
OPTIONAL_ARCH_KEYS = ("head_dim", "rope_theta", "rms_norm_eps")


def tiny_qwen3_config(arch: Mapping, tokenizer, max_position_embeddings: int) -> Qwen3Config:
    """A ``Qwen3Config`` for ``arch`` (keys ``ARCH_KEYS``, optional ``OPTIONAL_ARCH_KEYS``).

    Embeddings are tied, as in Qwen3-0.6B/1.7B/4B. ``head_dim`` defaults to
    ``hidden_size // num_attention_heads`` (Qwen3Config's own default of 128 is far too big here).
    ``max_position_embeddings`` is the longest sequence (prompt + response tokens) the model may see;
    pass at least the pre-training ``seq_len``. Token ids (vocab, bos/eos/pad) come from ``tokenizer``.
    """
    missing = [k for k in ARCH_KEYS if k not in arch]
    unknown = [k for k in arch if k not in ARCH_KEYS + OPTIONAL_ARCH_KEYS]
    if missing or unknown:
        raise ValueError(f"models.<size>.arch: missing keys {missing}, unknown keys {unknown}")
    hidden, heads = int(arch["hidden_size"]), int(arch["num_attention_heads"])
    kv_heads = int(arch["num_key_value_heads"])
    if "head_dim" not in arch and hidden % heads:
        raise ValueError(f"models.<size>.arch: hidden_size={hidden} is not divisible by num_attention_heads={heads}")
    if heads % kv_heads:
        raise ValueError(
            f"models.<size>.arch: num_attention_heads={heads} not divisible by num_key_value_heads={kv_heads}"
        )
    return Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=int(arch["intermediate_size"]),
        num_hidden_layers=int(arch["num_hidden_layers"]),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=int(arch.get("head_dim", hidden // heads)),
        max_position_embeddings=int(max_position_embeddings),
        rope_theta=float(arch.get("rope_theta", 10000.0)),
        rms_norm_eps=float(arch.get("rms_norm_eps", 1e-6)),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=True,
    )


def _as_model(model_or_config: PreTrainedModel | PretrainedConfig) -> PreTrainedModel:
    if isinstance(model_or_config, PreTrainedModel):
        return model_or_config
    if isinstance(model_or_config, PretrainedConfig):
        with torch.device("meta"):  # shapes only, no memory, no init cost
            return AutoModelForCausalLM.from_config(model_or_config)
    raise TypeError(f"expected a PreTrainedModel or PretrainedConfig, got {type(model_or_config).__name__}")


def total_params(model_or_config: PreTrainedModel | PretrainedConfig) -> int:
    """All distinct parameters (a tied LM head is counted once)."""
    return sum(p.numel() for p in _as_model(model_or_config).parameters())


def non_embedding_params(model_or_config: PreTrainedModel | PretrainedConfig) -> int:
    """Parameters excluding the input embedding and the LM head (tied or not): ``N`` in ``C = 6·N·D``."""
    model = _as_model(model_or_config)
    excluded = {id(model.get_input_embeddings().weight)}
    head = model.get_output_embeddings()
    if head is not None:
        excluded.add(id(head.weight))
    return sum(p.numel() for p in model.parameters() if id(p) not in excluded)


def output_head_params(model_or_config: PreTrainedModel | PretrainedConfig) -> int:
    """Parameters of the output projection, ``H = d_model · V`` (``vocab × hidden``), tied to the input embedding
    or not: its matmul runs on every token either way (``H`` in :mod:`rlscaling.compute`)."""
    head = _as_model(model_or_config).get_output_embeddings()
    if head is None:
        raise ValueError(f"{type(model_or_config).__name__}: the model has no output projection (LM head)")
    return int(head.weight.numel())


def load_causal_lm(path: str | os.PathLike, dtype: torch.dtype = torch.float32, device: str = "cpu") -> PreTrainedModel:
    """Load a causal LM saved with ``save_pretrained`` (local directory or hub id), in eval mode on ``device``.

    A local directory (anything that exists or does not read as a hub id) is checked first by
    :func:`rlscaling.models.checkpoints.check_if_local`, so a missing ``config.json``, missing tokenizer or truncated
    weights file raises ``CheckpointError`` naming the directory and the file.
    """
    check_if_local(path)
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
    return model.to(device).eval()


__all__ = [
    "ARCH_KEYS",
    "load_causal_lm",
    "non_embedding_params",
    "output_head_params",
    "tiny_qwen3_config",
    "total_params",
]
