"""The pieces every family's prompts share (pure string and list functions; no config, no data loading).

Exemplar choice of the ``consistent`` style (:func:`select_exemplars`: a ``random.Random`` seeded by
``(seed, item id)``, so an item gets the same exemplars in every run and across shot counts the ``k``-shot exemplars
are a prefix of the ``k+1``-shot ones; the evaluated item is never its own exemplar: pool entries with the same id OR
the same question text are excluded), exemplar choice of the ``seed`` style (:func:`first_exemplars`), a record's
own dataset strings (:func:`raw_text`) and verl's GSM8K instruction, which the seed's prompts append for every family.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

#: verl's GSM8K instruction (examples/data_preprocess/gsm8k.py), appended to the evaluated question.
GSM8K_INSTRUCTION = 'Let\'s think step by step and output the final answer after "####".'


def _norm(text: str) -> str:
    return " ".join(str(text).split())


def select_exemplars(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]], shots: int, seed: int) -> list:
    """``shots`` pool entries for ``item``, deterministic in ``(seed, item["id"])``, never the item itself.

    Raises ``ValueError`` if ``shots`` is negative or exceeds the pool (or the pool minus the item).
    """
    if shots < 0:
        raise ValueError(f"shots must be >= 0, got {shots}")
    if shots == 0:
        return []
    if shots > len(pool):
        raise ValueError(f"{shots}-shot prompt needs {shots} exemplars but the few-shot pool has only {len(pool)}")
    question = _norm(item["question"])
    eligible = [p for p in pool if p["id"] != item["id"] and _norm(p["question"]) != question]
    if shots > len(eligible):
        raise ValueError(
            f"{shots}-shot prompt for item {item['id']!r}: only {len(eligible)} pool entries differ from the item"
        )
    rng = random.Random(f"{seed}:{item['id']}")
    order = rng.sample(range(len(eligible)), len(eligible))
    return [eligible[i] for i in order[:shots]]


def raw_text(record: Mapping[str, Any], key: str, fallback: str) -> str:
    """The dataset's own string ``record["raw"][key]`` (unstripped, as the source gives it), else ``record[fallback]``
    (records of sources without raw rows, e.g. ``procedural:``)."""
    raw = record.get("raw") or {}
    return str(raw[key]) if key in raw else str(record[fallback])


def first_exemplars(pool: Sequence[Mapping[str, Any]], shots: int, subject: str | None = None) -> list:
    """The seed's exemplars: the first ``shots`` pool rows in pool (dataset) order, the same for every item; with
    ``subject``, the first ``shots`` rows of that subject (MMLU). Too few rows -> ValueError."""
    if shots < 0:
        raise ValueError(f"shots must be >= 0, got {shots}")
    rows = [p for p in pool if subject is None or p.get("subject") == subject]
    if shots > len(rows):
        where = f" of subject {subject!r}" if subject is not None else ""
        raise ValueError(f"{shots}-shot prompt needs {shots} exemplars{where} but the few-shot pool has {len(rows)}")
    return list(rows[:shots])
