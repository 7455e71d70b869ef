"""MATH answers: boxed answers (last or first box), LaTeX normalisation, and scoring with math-verify (run in the
time-limited worker process of :mod:`.math_worker`). See docs/scorers.md."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import math_worker
from .errors import unknown
from .gsm8k import extract_custom_flexible, extract_flexible, extract_strict

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# After the command name: "{" (spaces allowed before it), or spaces then a bare token ("\\boxed 5").
_BOX_ARG = re.compile(r"[ \t]*+\{|[ \t]++([^\s${}]++)")
_BOX_START = re.compile(r"\\(?:boxed|fbox)(?:" + _BOX_ARG.pattern + ")")


def _closing_brace(text: str, open_at: int, limit: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_at`` within ``text[:limit]``, else -1 (one step per ``}``)."""
    depth, pos = 0, open_at
    while True:
        close = text.find("}", pos, limit)
        if close < 0:
            return -1
        depth += text.count("{", pos, close) - 1
        if depth == 0:
            return close
        pos = close + 1


def _box_argument(text: str, at: int, limit: int) -> re.Match | None:
    """Match of what follows the box command at ``at`` within ``text[:limit]``: ``{`` (group 1 None) or a bare
    token (group 1)."""
    name_end = at + (6 if text.startswith("\\boxed", at) else 5)
    return _BOX_ARG.match(text, name_end, limit)


def _boxed_content(text: str, at: int, limit: int) -> str | None:
    """Argument of the box command at ``at`` (``{...}`` balanced, or ``\\boxed 5``), within ``text[:limit]``."""
    m = _box_argument(text, at, limit)
    if m is None:
        return None
    if m.group(1) is not None:  # bare argument: "\\boxed 5"
        return m.group(1)
    close = _closing_brace(text, m.end() - 1, limit)
    return None if close < 0 else text[m.end() : close]


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (balanced nested braces) or ``\\boxed 5``.

    If the last box never closes, earlier boxes that close before it are tried; linear time.
    """
    if not isinstance(text, str):
        return None
    last = {cmd: text.rfind(cmd) for cmd in _BOX_COMMANDS}  # each command's last start before `limit`
    limit = len(text)
    while True:
        cmd = max(last, key=last.__getitem__)
        at = last[cmd]
        if at < 0:
            return None
        content = _boxed_content(text, at, limit)
        if content is not None:
            return content
        limit = at  # an earlier box can only be balanced if it closes before this one opens
        last[cmd] = text.rfind(cmd, 0, at)


def _matching_braces(text: str, start: int) -> dict[int, int]:
    """``{open index: close index}`` of every balanced brace pair in ``text[start:]`` (one pass, a stack)."""
    pairs, stack = {}, []
    for m in _BRACE.finditer(text, start):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


_BRACE = re.compile(r"[{}]")


def extract_first_boxed(text: str) -> str | None:
    """Content of the FIRST complete ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 5`` (by start position).

    A box that never closes is skipped. Linear time: the first box is matched directly; only if it never closes
    are all later braces paired in one pass.
    """
    if not isinstance(text, str):
        return None
    pairs: dict[int, int] | None = None  # computed once the first box fails to close
    for m in _BOX_START.finditer(text):
        if m.group(1) is not None:  # bare argument: "\\boxed 5"
            return m.group(1)
        open_at = m.end() - 1
        if pairs is None:
            close = _closing_brace(text, open_at, len(text))
            if close >= 0:
                return text[m.end() : close]
            pairs = _matching_braces(text, open_at)
        elif open_at in pairs:
            return text[m.end() : pairs[open_at]]
    return None


_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_DEGREES = re.compile(r"\^\{?\\circ\}?")
_TRAILING_UNIT = re.compile(r"\\(?:text|mbox|mathrm)\{[^{}]*+\}$")
_WHOLE_TEXT = re.compile(r"\\(?:text|mbox|mathrm)\{([^{}]*+)\}")


def normalise_math_answer(answer: str) -> str:
    """Normalised string of a LaTeX answer for exact comparison (the fallback when math-verify can't decide).

    Drops whitespace, ``$``, ``\\left``/``\\right``, ``\\!``/``\\,``/``\\;``, ``^\\circ``, a trailing ``.``
    and a trailing ``\\text{unit}``; ``\\dfrac``/``\\tfrac`` -> ``\\frac``; ``\\text{X}`` alone -> ``X``.
    """
    s = "".join(answer.split())
    for spacing in ("\\!", "\\,", "\\;", "\\:"):
        s = s.replace(spacing, "")
    s = _LEFT_RIGHT.sub("", s).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _DEGREES.sub("", s).strip("$").rstrip(".")
    whole = _WHOLE_TEXT.fullmatch(s)
    if whole is not None:
        return whole.group(1).rstrip(".")
    unit = _TRAILING_UNIT.search(s)
    if unit is not None and unit.start() > 0:
        s = s[: unit.start()]
    return s.rstrip(".")


def _math_answer(response: str) -> str | None:
    """``math_verify``'s answer: the last box, else the last ``#### n``, else the last number."""
    boxed = extract_boxed(response)
    if boxed is not None:
        return boxed
    return extract_strict(response) or extract_flexible(response)


def _math_first_answer(response: str) -> str | None:
    """``math_verify_first``'s answer: the first complete box, else GSM8K ``custom_flexible`` (the number after the
    first ``####``; without a marker, the last number)."""
    boxed = extract_first_boxed(response)
    if boxed is not None:
        return boxed
    return extract_custom_flexible(response)


def extract_math(response: str, scorer: str = "math_verify") -> str | None:
    """The answer that ``scorer`` (``math_verify``: last box; ``math_verify_first``: first box) compares, or None."""
    try:
        extract = _MATH_EXTRACTORS[scorer]
    except (KeyError, TypeError):
        raise unknown("MATH scorer", scorer, tuple(_MATH_EXTRACTORS)) from None
    return extract(response) if isinstance(response, str) else None


_MATH_EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "math_verify": _math_answer,
    "math_verify_first": _math_first_answer,
}

MATH_SCORERS = tuple(_MATH_EXTRACTORS)
"""MATH scorer names: ``math_verify`` (last box) and ``math_verify_first`` (first box)."""


def ground_truth_answer(ground_truth: str) -> str:
    """The answer of a MATH ground truth: the content of its last box if it has one (a solution), else itself."""
    if not isinstance(ground_truth, str) or not ground_truth.strip():
        raise ValueError(f"MATH ground truth must be a non-empty string, got {ground_truth!r}")
    boxed = extract_boxed(ground_truth)
    return boxed if boxed is not None else ground_truth


def score_math(response: str, ground_truth: str, timeout_s: float = 5.0, scorer: str = "math_verify") -> float:
    """1.0 if the response's answer equals ``ground_truth`` (a LaTeX answer or a solution with a box), else 0.0.

    ``scorer="math_verify"``: the answer is the last ``\\boxed{}``/``\\fbox{}``; without one, the last
    ``#### n``, else the last number. ``scorer="math_verify_first"``: the first complete box; without one, the
    GSM8K ``custom_flexible`` answer (:func:`extract_math`). Equal after :func:`normalise_math_answer` -> 1.0 at
    once; otherwise math-verify decides, in a worker process that is killed after ``timeout_s`` seconds (no
    verdict, timeout or error -> 0.0).
    """
    gold = ground_truth_answer(ground_truth)
    pred = extract_math(response, scorer)
    return score_math_answer(pred, gold, timeout_s)


def score_math_answer(pred: str | None, gold: str, timeout_s: float) -> float:
    """1.0 if the extracted ``pred`` equals the ground-truth answer ``gold`` (normalised strings, else math-verify)."""
    if pred is None:
        return 0.0
    if normalise_math_answer(pred) == normalise_math_answer(gold):
        return 1.0
    return 1.0 if math_worker.verdict(gold, pred, timeout_s) is True else 0.0
