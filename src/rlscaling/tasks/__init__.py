"""Benchmark families and their scorers: one module per family, registered here once (see :mod:`.registry`).

Adding a family or a scorer: its module (or its entry in the family's module: a family declares its scorers, its
prompts and its answer check there), the scoring function in :mod:`rlscaling.rewards` when verl must reach it by name,
one line below, and the schema enums (``workflow/schemas/config.schema.yaml``; tests/test_tasks.py says which when
they disagree).
"""

from __future__ import annotations

from . import gsm8k, math, mmlu, wikitext
from .answers import AnswerError
from .registry import (
    Family,
    Scorer,
    default_scorer,
    default_scorers,
    families,
    family,
    kind_of_hub_dataset,
    kinds,
    register,
    register_corpus,
    reward_modes,
    scorer,
    scorer_color,
    scorer_label,
    scorer_names,
    scorers,
    title,
)

register(gsm8k.FAMILY)
register(math.FAMILY)
register(mmlu.FAMILY)
register_corpus(wikitext.NAME, wikitext.TITLE)

__all__ = [
    "AnswerError",
    "Family",
    "Scorer",
    "default_scorer",
    "default_scorers",
    "families",
    "family",
    "kind_of_hub_dataset",
    "kinds",
    "register",
    "register_corpus",
    "reward_modes",
    "scorer",
    "scorer_color",
    "scorer_label",
    "scorer_names",
    "scorers",
    "title",
]
