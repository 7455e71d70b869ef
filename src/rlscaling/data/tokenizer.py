"""Train the embedded study's tokenizer: a small byte-level BPE with one token per digit.

Design:

* **Digits are always single tokens** (``Digits(individual_digits=True)`` runs before the byte-level
  split, and BPE merges never cross pre-token boundaries), so ``57 + 68`` is ``5 7 ␣+ ␣6 8`` and
  column arithmetic is learnable by a tiny model; multi-digit merges would make every number an
  opaque symbol.
* **Byte-level** pre-tokenizer/decoder (as GPT-2/Qwen): decoding is the exact inverse of encoding,
  spaces and newlines included. The base alphabet is the set of byte-symbols seen in the training
  text (not all 256 bytes, so a 128-entry vocabulary is possible); a character never seen in
  training encodes to ``<|unk|>``. The ten digits are always in the alphabet, seen or not.
* Special tokens, Qwen-style: ``<|endoftext|>`` is both BOS and EOS (it separates documents in
  pre-training and ends a generation); ``<|pad|>`` is a distinct padding token; nothing is added
  automatically at encode time (``add_special_tokens`` is a no-op), exactly like Qwen3-Base.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from rlscaling.io import atomic_dir

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
UNK_TOKEN = "<|unk|>"
SPECIAL_TOKENS = (EOS_TOKEN, PAD_TOKEN, UNK_TOKEN)
DIGITS = "0123456789"


def _bpe_skeleton() -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def _alphabet_size(texts: list[str]) -> int:
    """Number of distinct byte-level symbols in ``texts`` plus the digits (= distinct UTF-8 bytes)."""
    seen: set[int] = set(DIGITS.encode("ascii"))
    for text in texts:
        seen.update(text.encode("utf-8"))
    return len(seen)


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | os.PathLike) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts`` and save it in HF format to ``out_dir`` (atomically).

    ``vocab_size`` counts every entry (special tokens + base symbols + merges). It must be at least
    the number of distinct bytes in ``texts`` (digits always counted) plus the 3 special tokens, otherwise some training
    characters would be unknown; a ``ValueError`` says how many are needed. The result loads with
    ``AutoTokenizer.from_pretrained(out_dir)``.
    """
    texts = [t for t in texts if t]
    if not texts:
        raise ValueError("train_tokenizer: no non-empty training texts")
    needed = _alphabet_size(texts) + len(SPECIAL_TOKENS)
    if vocab_size < needed:
        raise ValueError(
            f"tokenizer.vocab_size={vocab_size} is too small: the corpus has {needed - len(SPECIAL_TOKENS)} "
            f"distinct bytes + {len(SPECIAL_TOKENS)} special tokens = {needed}"
        )
    tok = _bpe_skeleton()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=list(DIGITS),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    roles = {"bos_token": EOS_TOKEN, "eos_token": EOS_TOKEN, "pad_token": PAD_TOKEN, "unk_token": UNK_TOKEN}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, padding_side="left", clean_up_tokenization_spaces=False, **roles
    )
    with atomic_dir(out_dir) as tmp:
        fast.save_pretrained(tmp)
    return fast
