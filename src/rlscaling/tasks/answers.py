"""What the families' answer checks share: the refusal they raise and the canonical form of an answer (pure)."""

from __future__ import annotations

from typing import Any

from rlscaling.rewards import canonical_number


class AnswerError(ValueError):
    """A ground-truth answer a family's scorers cannot match; the message names the answer (the records loader
    prefixes where the record came from)."""


def canonical_answer(answer: Any) -> str:
    """Numbers canonicalised (``"1,200.0"`` -> ``"1200"``); other answers (LaTeX, letters) stripped."""
    text = str(answer).strip()
    return canonical_number(text) or text
