"""What both generation backends (``transformers`` and vLLM) share: the throughput record and the prompt check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationStats:
    """Tokens of one generation call, summed over all returned samples, and its wall time in seconds."""

    prompt_tokens: int
    response_tokens: int
    wall_s: float

    @property
    def response_tokens_per_s(self) -> float:
        """Generated tokens per second of wall time (NaN for a zero wall time)."""
        return self.response_tokens / self.wall_s if self.wall_s > 0 else float("nan")


def check_prompt_lengths(
    lengths: Sequence[int], max_new_tokens: int, limit: int | None, limit_name: str, hint: str
) -> None:
    """``ValueError`` naming the first prompt (lengths in tokens) that is empty or cannot fit ``max_new_tokens``
    more tokens within ``limit`` positions (None: no limit); the message names the limit and ends with ``hint``."""
    for i, n in enumerate(lengths):
        if n == 0:
            raise ValueError(f"prompt {i} is empty after tokenization")
        if limit is not None and n + max_new_tokens > limit:
            raise ValueError(
                f"prompt {i}: {n} prompt tokens + {max_new_tokens} new tokens exceed {limit_name}={limit} ({hint})"
            )
