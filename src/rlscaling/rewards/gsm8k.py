"""GSM8K answer extraction in three modes (see docs/scorers.md for the table and how they differ from verl and
lm-eval):

- ``strict``: only ``#### <number>`` counts; the LAST marker followed by a number wins.
- ``flexible``: the last number anywhere in the response.
- ``custom_flexible``: cut the response right after the number that follows the FIRST ``####`` and take
  the last number of what remains (= that number). If the first ``####`` has no number after it, cut at
  the marker and take the last number before it. Without any ``####`` it equals ``flexible``.

:func:`continues_past_answer` tells whether a response goes on after the line of its first ``#### <number>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import unknown
from .numbers import NUMBER_SRC, canonical_token, canonical_truth, last_number

MODES = ("strict", "flexible", "custom_flexible")
"""GSM8K extraction modes."""

MARKER = "####"

# After "####": optional horizontal space, optional "$" (and space), then a number.
_AFTER_MARKER = re.compile(r"[ \t]*+(?:\$[ \t]*+)?" + NUMBER_SRC)
# The first "#### <number>" answer: a run of 4+ '#' (only the last four can precede a number; matched from the run's
# start and consumed whole, so long runs of '#' cost linear time), then the number as _number_after_marker reads it.
_ANSWER = re.compile(r"####(?<!#####)#*+" + _AFTER_MARKER.pattern)
_NON_SPACE = re.compile(r"\S")  # what str.isspace() calls whitespace is \s
# On the REVERSED text: the first digit of a number right after a marker ("5 $ ####" is "#### $ 5").
_REVERSED_MARKER_DIGIT = re.compile(r"[0-9]\.?\$?[-+]?(?:[ \t]*+\$)?+[ \t]*+####")


def _number_after_marker(text: str, marker_at: int) -> str | None:
    m = _AFTER_MARKER.match(text, marker_at + 4)
    return None if m is None else canonical_token(m.group().lstrip(" \t$"))


def extract_strict(text: str) -> str | None:
    at = text.rfind(MARKER)
    for _ in range(4):  # usually the last marker has its number
        if at < 0:
            return None
        answer = _number_after_marker(text, at)
        if answer is not None:
            return answer
        at = text.rfind(MARKER, 0, at)
    if at < 0:
        return None
    # Many numberless markers: one backward regex scan finds the last marker followed by a number.
    m = _REVERSED_MARKER_DIGIT.search(text[::-1])
    return None if m is None else _number_after_marker(text, len(text) - m.end())


def extract_flexible(text: str) -> str | None:
    return last_number(text, len(text))


def extract_custom_flexible(text: str) -> str | None:
    at = text.find(MARKER)
    if at < 0:
        return last_number(text, len(text))
    answer = _number_after_marker(text, at)
    return answer if answer is not None else last_number(text, at)


_GSM8K_EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "strict": extract_strict,
    "flexible": extract_flexible,
    "custom_flexible": extract_custom_flexible,
}


def extract_gsm8k(response: str, mode: str, window: int | None = None) -> str | None:
    """Canonical GSM8K answer of ``response`` under ``mode`` (see module doc), or ``None``.

    ``window``: if set, only the last ``window`` characters of the response are read (verl uses 300).
    """
    try:
        extract = _GSM8K_EXTRACTORS[mode]
    except (KeyError, TypeError):
        raise unknown("GSM8K mode", mode, MODES) from None
    if window is not None:
        if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
            raise ValueError(f"window must be a positive number of characters or None, got {window!r}")
        response = response[-window:] if isinstance(response, str) else response
    if not isinstance(response, str):
        return None
    return extract(response)


def score_gsm8k(response: str, ground_truth: str, mode: str, window: int | None = None) -> float:
    """1.0 if the extracted answer equals ``ground_truth`` numerically (``"12.00"`` == ``"12"``), else 0.0."""
    answer = extract_gsm8k(response, mode, window)
    return 1.0 if answer is not None and answer == canonical_truth(ground_truth) else 0.0


def continues_past_answer(response: str) -> bool:
    """Whether ``response`` has text on a line after the line of its first ``#### <number>`` answer.

    The answer is the first ``####`` followed, on its line, by a number as ``strict`` reads it (spaces/tabs and a
    ``$`` may sit between: ``#### 7``, ``####-5``, ``#### $ 7``); markers without a number (``#### x``, ``####``
    then a line break) are skipped. True iff a non-whitespace character (``str.isspace``) follows the first
    ``\\n`` after that number: the base models' habit of writing a new ``Question:`` block after answering. Text on
    the answer's own line (``#### 7 apples``, ``#### 7.``, ``#### 7\\r``) does not count, nor does whitespace
    (``"#### 7\\n\\n  "``); a later line is one after a ``\\n`` (``\\r\\n`` included, a lone ``\\r`` not). No answer at
    all, or a non-``str`` response, gives False (count those apart: their ``strict`` answer is None).
    Total, linear time.
    """
    if not isinstance(response, str):
        return False
    answer = _ANSWER.search(response)
    if answer is None:
        return False
    line_end = response.find("\n", answer.end())
    return line_end >= 0 and _NON_SPACE.search(response, line_end + 1) is not None
