"""Throughput of one generation call, the same for every backend (``transformers`` and vLLM)."""

from __future__ import annotations

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
