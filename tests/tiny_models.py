"""Test helper: a tiny random Qwen3ForCausalLM and a character-level HF tokenizer, saved in a directory.

The directory loads with ``AutoModelForCausalLM.from_pretrained`` / ``AutoTokenizer.from_pretrained``, like the
study's pre-trained base models: ``<|endoftext|>`` is both BOS and EOS, ``<|pad|>`` pads, nothing is added at encode
time, and decoding is the exact inverse of encoding for the characters in ``CHARSET``.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

EOS = "<|endoftext|>"
PAD = "<|pad|>"
UNK = "<|unk|>"
CHARSET = string.digits + string.ascii_letters + " \n.,:;?!#+-*/=()$%'\""


def make_char_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level WordLevel tokenizer: one token per character of ``CHARSET``, plus EOS/PAD/UNK."""
    vocab = {tok: i for i, tok in enumerate([EOS, PAD, UNK, *CHARSET])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, pad_token=PAD, unk_token=UNK, padding_side="left"
    )


def make_tiny_model_dir(
    out_dir: str | Path,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    seed: int = 0,
) -> Path:
    """Save a randomly initialised tiny Qwen3 causal LM and its tokenizer to ``out_dir``; return the path."""
    out_dir = Path(out_dir)
    tokenizer = make_char_tokenizer()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        head_dim=hidden_size // num_attention_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
