"""The uniform dataset record: field checks, canonical answers, answer-kind checks and the hub-row converters.

Question records (docs/architecture.md): ``id, question, answer`` (canonical), ``solution``, ``subject``,
``level``, ``choices``, ``source``, and for hub rows ``raw``: the dataset's own strings verbatim (GSM8K ``question``,
``answer``; MATH ``problem``, ``answer``; MMLU ``question``), which the seed study's prompts and scorers read.
Text records (``hf:wikitext2``, or a jsonl of ``{"id", "text"}``):
``id, text, source``. Where records come from (``hf:``, ``procedural:``, ``jsonl:`` specs): ``rlscaling.data.sources``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from rlscaling.rewards import canonical_number, extract_boxed
from rlscaling.tasks import families, family, kinds
from rlscaling.tasks.answers import AnswerError, canonical_answer

QUESTION_FIELDS = ("id", "question", "answer")  # required; the rest default to None
OPTIONAL_FIELDS = ("solution", "subject", "level", "choices", "source")
LETTERS = "ABCD"


class DataSourceError(ValueError):
    """A data source that cannot be parsed, loaded or validated; the message names the culprit."""


def validate_record(rec: Any, where: str) -> dict:
    """Check a record's shape; return it with absent optional fields set to ``None``.

    Question records need non-empty string ``id``, ``question``, ``answer``; multiple-choice records
    (``choices`` set) need a letter answer within the choices. Text records (``text`` and no
    ``question``) need ``id`` and ``text``. ``where`` (e.g. ``"file.jsonl:12"``) prefixes every error.
    """
    if not isinstance(rec, dict):
        raise DataSourceError(f"{where}: expected a JSON object record, got {type(rec).__name__}")
    if "text" in rec and "question" not in rec:
        _require_str(rec, "id", where)
        if not isinstance(rec["text"], str):  # may be empty: a blank row of a line-level corpus (no tokens)
            raise DataSourceError(f"{where}: field 'text' must be a string, got {rec['text']!r}")
        return {"id": rec["id"], "text": rec["text"], "source": rec.get("source")}
    for key in QUESTION_FIELDS:
        _require_str(rec, key, where)
    out = {key: rec[key] for key in QUESTION_FIELDS}
    out.update({key: rec.get(key) for key in OPTIONAL_FIELDS})
    for key in ("solution", "subject", "source"):
        if out[key] is not None and not isinstance(out[key], str):
            raise DataSourceError(f"{where}: field {key!r} must be a string or null, got {type(out[key]).__name__}")
    raw = rec.get("raw")
    if raw is not None:  # only records that carry it: other records keep their exact shape
        if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
            raise DataSourceError(f"{where}: field 'raw' must map names to strings (the dataset's own fields)")
        out["raw"] = dict(raw)
    if out["level"] is not None and (isinstance(out["level"], bool) or not isinstance(out["level"], (str, int))):
        raise DataSourceError(f"{where}: field 'level' must be a string, an int or null")
    choices = out["choices"]
    if choices is not None:
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) or not 2 <= len(choices) <= 4:
            raise DataSourceError(f"{where}: field 'choices' must be a list of 2-4 strings")
        if out["answer"] not in LETTERS[: len(choices)]:
            raise DataSourceError(
                f"{where}: answer {out['answer']!r} is not a choice letter in {LETTERS[: len(choices)]!r}"
            )
    return out


def _require_str(rec: Mapping[str, Any], key: str, where: str) -> None:
    if key not in rec:
        raise DataSourceError(f"{where}: missing required field {key!r}")
    if not isinstance(rec[key], str) or not rec[key].strip():
        raise DataSourceError(f"{where}: field {key!r} must be a non-empty string, got {rec[key]!r}")


def check_answer(rec: dict, kind: str, where: str) -> dict:
    """Check that a validated record can be scored as a ``kind`` item; return it with its canonical answer.

    ``kind`` must be a registered benchmark family (:func:`rlscaling.tasks.kinds`); its ``Family.check_answer``
    (in ``rlscaling.tasks.<kind>``) says what a valid answer is, e.g. ``gsm8k``: one number by the scorers' own
    ``rewards.canonical_number`` (``"1,200"`` -> ``"1200"``); ``math``: a non-empty answer, a ``\\boxed{...}`` one
    with a non-empty box; ``mmlu``: ``choices`` (2-4 strings) and a letter answer among them. A text record (no
    ``question``) is refused for every kind. ``where`` prefixes every error (a :class:`DataSourceError`).
    """
    checked = [f.kind for f in families() if f.check_answer is not None]
    if kind not in kinds() or kind not in checked:
        raise ValueError(f"answer kind {kind!r}: expected one of {', '.join(checked)}")
    if "question" not in rec:
        raise DataSourceError(f"{where}: a text record (no 'question'), but {kind} items need question and answer")
    try:
        return family(kind).check_answer(rec)
    except AnswerError as exc:
        raise DataSourceError(f"{where}: {exc}") from None


# --------------------------------------------------------------------------- row converters (pure)

_CALCULATOR = re.compile(r"<<[^<>]*>>")


def gsm8k_row_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """openai/gsm8k row (``question``, ``answer`` = worked text ending ``#### n``) -> record.

    The solution keeps the worked text without GSM8K's ``<<48/2=24>>`` calculator annotations and ends
    ``\\n#### <canonical answer>``.
    """
    raw = str(row["answer"])
    if "####" not in raw:
        raise DataSourceError(f"gsm8k {split} row {idx}: answer has no '####' line: {raw[-60:]!r}")
    body, final = raw.rsplit("####", 1)
    answer = canonical_number(final.strip())
    if answer is None:
        raise DataSourceError(f"gsm8k {split} row {idx}: final answer {final.strip()!r} is not a number")
    steps = _CALCULATOR.sub("", body).rstrip()
    return {
        "id": f"gsm8k-{split}-{idx}",
        "question": str(row["question"]).strip(),
        "answer": answer,
        "solution": f"{steps}\n#### {answer}" if steps else f"#### {answer}",
        "subject": None,
        "level": None,
        "choices": None,
        "source": "hf:gsm8k",
        "raw": {"question": str(row["question"]), "answer": raw},
    }


def math_row_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """MATH row (``problem``, ``solution``, ``type``, ``level``) -> record; answer = last ``\\boxed``.

    ``level`` ``"Level 3"`` becomes ``3`` (other values, e.g. ``"Level ?"``, are kept as strings).
    """
    solution = str(row["solution"])
    boxed = extract_boxed(solution)
    if boxed is None or not boxed.strip():
        raise DataSourceError(f"math {split} row {idx}: no \\boxed answer in the solution")
    level = row.get("level")
    m = re.fullmatch(r"Level (\d+)", str(level))
    # the raw answer: the row's own ``answer`` column where it has one (the seed's MATH files), else the box verbatim
    raw_answer = str(row["answer"]) if row.get("answer") is not None else boxed
    return {
        "id": f"math-{split}-{idx}",
        "question": str(row["problem"]).strip(),
        "answer": canonical_answer(boxed),
        "solution": solution,
        "subject": row.get("type"),
        "level": int(m.group(1)) if m else level,
        "choices": None,
        "source": "hf:math",
        "raw": {"problem": str(row["problem"]), "answer": raw_answer},
    }


def mmlu_row_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """cais/mmlu row (``question``, ``subject``, ``choices`` [4], ``answer`` 0-3) -> record, answer a letter."""
    choices = [str(c) for c in row["choices"]]
    answer = row["answer"]
    letter = LETTERS[int(answer)] if not isinstance(answer, str) or answer.isdigit() else answer.strip().upper()
    return {
        "id": f"mmlu-{split}-{idx}",
        "question": str(row["question"]).strip(),
        "answer": letter,
        "solution": None,
        "subject": row.get("subject"),
        "level": None,
        "choices": choices,
        "source": "hf:mmlu",
        "raw": {"question": str(row["question"])},
    }


def wikitext_page_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """Document-level WikiText row (``page``: one whole Wikipedia article) -> text record ``{id, text, source}``.

    The page text is kept verbatim; ``idx`` is the page's position in the split.
    """
    return {"id": f"wikitext2-{split}-{idx}", "text": str(row["page"]), "source": "hf:wikitext2"}


def wikitext_line_to_record(row: Mapping[str, Any], idx: int, split: str = "test") -> dict:
    """Line-level WikiText row (``text``: one line with its newline, ``""`` for a blank line) -> text record, verbatim;
    ``idx`` is the row's position in the split (the seed's validation loss groups rows by position)."""
    return {"id": f"wikitext2-{split}-line-{idx}", "text": str(row["text"]), "source": "hf:wikitext2_lines"}


_WIKITEXT_TITLE = re.compile(r"= [^=](?:.*[^=])? =")


def is_wikitext_title(line: str) -> bool:
    """Whether a WikiText line is a page's top-level heading ``" = Title = "`` (not ``" = = Section = = "``)."""
    return _WIKITEXT_TITLE.fullmatch(line.strip()) is not None


def wikitext_pages(lines: Iterable[str]) -> list[str]:
    """Rebuild whole pages from line-level WikiText rows (``wikitext``/``wikitext-2-raw-v1``, one row per line).

    A page starts at a top-level heading line (:func:`is_wikitext_title`); section headings (``= = ... = =``,
    ``= = = ... = = =``) and blank lines stay inside it. A page is its lines (each without its trailing newline)
    joined by ``"\\n"``, as the raw file's lines are in EleutherAI/wikitext_document_level, whose builder splits
    the raw file the same way. The line-level dataset stores the raw file's whitespace-only lines as ``""``, so
    the rebuilt pages may differ from the document-level ones in the whitespace of blank lines only. Lines
    before the first heading are dropped.
    """
    pages: list[list[str]] = []
    current: list[str] = []
    for row in lines:
        line = row[:-1] if row.endswith("\n") else row
        if is_wikitext_title(line):
            pages.append(current)
            current = []
        current.append(line)
    pages.append(current)
    return ["\n".join(page) for page in pages if page and is_wikitext_title(page[0])]
