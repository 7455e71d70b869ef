"""The seed study's own scorers, as scorers of their own: ``seed_strict``, ``seed_flexible``, ``seed_custom_flexible``
(GSM8K), ``seed_math`` (MATH) and ``seed_mmlu_letter`` (MMLU). Facts from ../shared/reference/seed_recipe.md (a), (b).

They reproduce the seed's measurement, not the project's (see :mod:`.gsm8k` for those): an answer is a *string*
and scores 1.0 only when it equals the ground-truth string exactly, so ``18.00``, ``18.`` and ``1,000`` do not match
``18`` / ``1000``. GSM8K semantics are verl 0.5.0's ``reward_score/gsm8k.py`` (and the seed's copy in
``utils/custom_gsm8k_reward.py``):

- ``seed_strict``: read only the last 300 characters; the last ``#### `` followed by ``-?[0-9.,]+`` (one space, no
  ``$``) is the answer, with ``,`` and ``$`` deleted.
- ``seed_flexible``: read only the last 300 characters; the answer is the last ``-?[0-9.,]+`` token that is neither
  ``""`` nor ``"."`` (commas kept: ``1,000`` != ``1000``; a sentence-final period kept: ``18.`` != ``18``).
- ``seed_custom_flexible``: if ``#### `` occurs, keep the text up to its first occurrence + 10 characters (the
  5-character marker and the next 5 characters, so an answer longer than 5 characters is cut), then
  ``seed_flexible`` (with its 300-character window).

``seed_math`` is ``seed_custom_flexible`` compared with the dataset's raw MATH ``answer`` string (LaTeX answers can
never match). ``seed_mmlu_letter`` is the seed's ``eval/mmlu.py`` letter extraction: four patterns on the stripped
response, the first that matches wins; otherwise the last standalone ``A``-``D`` of the response.

The seed's ground truths (:func:`gsm8k_eval_truth`, :func:`gsm8k_rl_truth`) are strings too: evaluation keeps the
commas of ``#### 2,125`` (so ``seed_strict`` can never match those 14 GSM8K test items), training removes them.
Every function is total (any ``str`` -> an answer or ``None``) and linear in the response length.
"""

from __future__ import annotations

import re

SEED_GSM8K = ("seed_strict", "seed_flexible", "seed_custom_flexible")
SEED_MATH = ("seed_math",)
SEED_MMLU = ("seed_mmlu_letter",)
SEED_SCORERS = SEED_GSM8K + SEED_MATH + SEED_MMLU
"""Every seed scorer name (the ``scorer`` column of summary.csv)."""
SEED_REWARD_MODES = ("seed_strict", "seed_custom_flexible")
"""The seed's GRPO rewards (its ``custom_gsm8k_reward.compute_score``, seed_recipe.md (d)): ``custom_flexible`` (its
default) and the ``strict`` of the 1.7B/4B "-strict" runs, scored against :func:`gsm8k_rl_truth`."""

WINDOW = 300
"""Characters at the end of a response that verl 0.5's GSM8K extraction reads (``_SOLUTION_CLIP_CHARS``)."""
SEED_MARKER = "#### "
"""The answer marker of the seed's prompts and scorers (with its space)."""
CUT_AFTER = 10
"""``seed_custom_flexible`` keeps the text up to the first marker's position + this many characters."""

_STRICT = re.compile(r"#### (-?[0-9.,]+)")
_TOKEN = re.compile(r"-?[0-9.,]+")
_NOT_ANSWERS = ("", ".")
_MMLU_PATTERNS = (
    re.compile(r"[Tt]he correct answer is ([ABCD])"),
    re.compile(r"([ABCD])\s*\.\s*$"),
    re.compile(r"Answer:\s*([ABCD])"),
    re.compile(r"^([ABCD])\s*$"),
)
_STANDALONE_LETTER = re.compile(r"\b([ABCD])\b")


def _window(text: str) -> str:
    return text[-WINDOW:] if len(text) > WINDOW else text


def extract_seed_strict(text: str) -> str | None:
    """verl 0.5 ``strict``: the last ``#### <-?[0-9.,]+>`` of the last 300 characters, ``,``/``$`` removed."""
    found = _STRICT.findall(_window(text))
    return found[-1].replace(",", "").replace("$", "") if found else None


def extract_seed_flexible(text: str) -> str | None:
    """verl 0.5 ``flexible``: the last ``-?[0-9.,]+`` token of the last 300 characters other than ``""``/``"."``.

    (When every token is ``"."`` verl returns ``"."``, which equals no ground truth; this returns None.)
    """
    for token in reversed(_TOKEN.findall(_window(text))):
        if token not in _NOT_ANSWERS:
            return token
    return None


def extract_seed_custom_flexible(text: str) -> str | None:
    """The seed's ``custom_flexible``: cut at the first ``#### `` + 10 characters, then
    :func:`extract_seed_flexible`."""
    at = text.find(SEED_MARKER)
    return extract_seed_flexible(text[: at + CUT_AFTER] if at >= 0 else text)


def extract_seed_mmlu_letter(text: str) -> str | None:
    """The seed's MMLU letter: the first of four patterns matching the stripped response (``The correct answer is
    X``; ``X.`` ending the text; ``Answer: X``; the text is ``X``), else the last standalone A-D word, else None."""
    stripped = text.strip()
    for pattern in _MMLU_PATTERNS:
        m = pattern.search(stripped)
        if m is not None:
            return m.group(1).upper()
    letters = _STANDALONE_LETTER.findall(text)
    return letters[-1] if letters else None


SEED_EXTRACTORS = {
    "seed_strict": extract_seed_strict,
    "seed_flexible": extract_seed_flexible,
    "seed_custom_flexible": extract_seed_custom_flexible,
    "seed_math": extract_seed_custom_flexible,
    "seed_mmlu_letter": extract_seed_mmlu_letter,
}


def extract_seed(scorer: str, response: str) -> str | None:
    """The answer ``scorer`` (one of :data:`SEED_SCORERS`) reads from ``response``; None for a non-``str``."""
    extract = SEED_EXTRACTORS[scorer]
    return extract(response) if isinstance(response, str) else None


def score_seed(scorer: str, response: str, ground_truth: str) -> tuple[str | None, float]:
    """(extracted answer, 1.0 if it equals the ground-truth string exactly else 0.0)."""
    extracted = extract_seed(scorer, response)
    return extracted, 1.0 if extracted is not None and extracted == ground_truth else 0.0


def gsm8k_eval_truth(raw_answer: str) -> str:
    """The seed's GSM8K evaluation ground truth: the text after the last ``#### `` of the dataset's ``answer``
    (the worked solution), stripped; commas kept (``"... #### 2,125"`` -> ``"2,125"``)."""
    return str(raw_answer).split(SEED_MARKER)[-1].strip()


def gsm8k_rl_truth(raw_answer: str) -> str:
    """The seed's (verl's ``gsm8k.py`` preprocessing) training ground truth: the first ``#### <-?[0-9.,]+>`` of the
    dataset's ``answer`` with commas removed (``"#### 2,125"`` -> ``"2125"``). No such marker -> ValueError."""
    m = _STRICT.search(str(raw_answer))
    if m is None:
        raise ValueError(f"GSM8K answer has no '#### <number>' line: {str(raw_answer)[-60:]!r}")
    return m.group(1).replace(",", "")


def seed_truth(kind: str, record: dict) -> str:
    """The ground-truth string the seed's scorers compare with, from a dataset record: GSM8K
    :func:`gsm8k_eval_truth` of the raw answer, MATH the raw ``answer``, MMLU the letter; a record without the
    dataset's raw strings (``procedural:`` items) gives its own ``answer``."""
    raw = record.get("raw") or {}
    if kind == "gsm8k" and "answer" in raw:
        return gsm8k_eval_truth(raw["answer"])
    if kind == "math" and "answer" in raw:
        return str(raw["answer"])
    return str(record["answer"])


def seed_rl_answer(item: dict) -> str:
    """The seed's RL ground truth of a GSM8K record: the first ``#### <number>`` of the raw answer, commas removed
    (:func:`gsm8k_rl_truth`); a record without raw strings keeps its own answer."""
    raw = item.get("raw") or {}
    return gsm8k_rl_truth(raw["answer"]) if "answer" in raw else str(item["answer"])
