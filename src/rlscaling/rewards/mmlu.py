"""MMLU: the chosen letter A-D of a response, and its score against the correct letter."""

from __future__ import annotations

import re

_LETTERS = "ABCD"
# 1. the response opens with the letter: "C", "C.", "(C)", "C)", "C:", "C," or "C" then a line break.
_LEADING_LETTER = re.compile(r"\s*+\(?([A-D])(?:[.):,]|[ \t]*+(?:\n|$))")
# 2. an answer statement: "Answer: C", "the answer is (C)", "answer is: C".
_ANSWER_PHRASE = re.compile(r"(?i:answer)(?:\s++(?i:is))?+\s*+:?+\s*+\(?+([A-D])(?![A-Za-z0-9])")
# 3. a parenthesised letter anywhere: "(C)".
_PAREN_LETTER = re.compile(r"\(([A-D])\)")


def extract_mmlu_letter(response: str) -> str | None:
    """The chosen letter A-D, or ``None``. Precedence: leading letter > first answer phrase > first ``(X)``.

    The first occurrence wins (a base model that goes on to invent new questions is scored on the first
    one); letters are uppercase only, so the article "a" is never an answer.
    """
    if not isinstance(response, str):
        return None
    for pattern in (_LEADING_LETTER, _ANSWER_PHRASE, _PAREN_LETTER):
        m = pattern.match(response) if pattern is _LEADING_LETTER else pattern.search(response)
        if m is not None:
            return m.group(1)
    return None


def truth_letter(correct: str | int) -> str:
    """The correct letter A-D of a ground truth given as a letter (``"C"``, ``"(c)"``) or an index 0-3."""
    if isinstance(correct, int) and not isinstance(correct, bool) and 0 <= correct < len(_LETTERS):
        return _LETTERS[correct]
    letter = correct.strip().strip("()").upper() if isinstance(correct, str) else None
    if letter not in tuple(_LETTERS):
        raise ValueError(f"MMLU ground truth must be a letter A-D (or index 0-3), got {correct!r}")
    return letter


def score_mmlu(response: str, correct_letter: str) -> float:
    """1.0 if the extracted letter equals ``correct_letter`` (``"C"``, ``"(c)"`` or index ``2``), else 0.0."""
    return 1.0 if extract_mmlu_letter(response) == truth_letter(correct_letter) else 0.0
