"""Answer extraction and scoring: GSM8K (three modes), MATH (math-verify, last or first box), MMLU letters.

Every scorer is a *total* function of the model response: any ``str`` (empty, 1 MB, control characters,
unbalanced braces, non-ASCII digits) yields an answer or ``None`` and a score of 0.0 or 1.0, never an
exception, in time linear in the response length. Only programming/data errors raise ``ValueError``: an
unknown mode, scorer or data source, or a ground truth that is not an answer.

One module per benchmark, as verl's ``reward_score/``: :mod:`.numbers` (the number grammar), :mod:`.gsm8k`,
:mod:`.math` (boxes, normalisation; math-verify runs in :mod:`.math_worker`), :mod:`.mmlu`. This module holds the
scorer names (:data:`SCORERS`), the one dispatch (:func:`score_response`, :func:`score`) and the entry points:
verl's :func:`compute_score` (loaded from the file ``verl_entry.py``) and TRL's :func:`make_reward_fn`.
See docs/scorers.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import unknown
from .gsm8k import MARKER, MODES, continues_past_answer, extract_gsm8k, score_gsm8k
from .math import (
    MATH_SCORERS,
    extract_boxed,
    extract_first_boxed,
    extract_math,
    ground_truth_answer,
    normalise_math_answer,
    score_math,
    score_math_answer,
)
from .mmlu import extract_mmlu_letter, score_mmlu, truth_letter
from .numbers import canonical_number, canonical_truth
from .seed import SEED_GSM8K, SEED_MATH, SEED_MMLU, SEED_SCORERS, score_seed

SCORERS: dict[str, tuple[str, ...]] = {
    "gsm8k": MODES + SEED_GSM8K,
    "math": MATH_SCORERS + SEED_MATH,
    "mmlu": ("mmlu_letter",) + SEED_MMLU,
}
"""The scorer names each benchmark family (``kind``) dispatches to in :func:`score_response`: the names verl's
:func:`compute_score` and TRL's :func:`make_reward_fn` reach by ``extra_info["reward_mode"]`` / ``mode``. The
workflow (config check, schema, labels, report, GRPO reward modes) reads the benchmark-family registry,
:mod:`rlscaling.tasks`, whose scorers must be exactly these (tests/test_tasks.py); this package stays free of it so
that verl's environment imports it alone. The ``seed_*`` names are the seed study's own scorers (:mod:`.seed`):
exact string matches against the dataset's raw ground truth, beside the project's."""

ALL_SCORERS: tuple[str, ...] = tuple(name for names in SCORERS.values() for name in names)
"""Every scorer name, in family order."""


__all__ = [
    "ALL_SCORERS",
    "MARKER",
    "MODES",
    "SCORERS",
    "SEED_SCORERS",
    "canonical_number",
    "compute_score",
    "continues_past_answer",
    "default_scorer",
    "extract_boxed",
    "extract_first_boxed",
    "extract_gsm8k",
    "extract_math",
    "extract_mmlu_letter",
    "make_reward_fn",
    "normalise_math_answer",
    "score",
    "score_gsm8k",
    "score_math",
    "score_mmlu",
    "score_response",
    "verl_entry_path",
]


def verl_entry_path() -> str:
    """Absolute path of ``verl_entry.py``, the file for verl's ``reward.custom_reward_function.path``."""
    return str(Path(__file__).resolve().with_name("verl_entry.py"))


def score(scorer: str, response: str, ground_truth: str, window: int | None = None) -> float:
    """Score ``response`` with any scorer in :data:`ALL_SCORERS` (``window`` applies to the project's GSM8K modes
    only: the seed's read their fixed 300 characters)."""
    kind = _KIND_OF_SCORER.get(scorer) if isinstance(scorer, str) else None
    if kind is None:
        raise unknown("scorer", scorer, ALL_SCORERS)
    if kind == "gsm8k" and window is not None and scorer in MODES:
        return score_gsm8k(response, ground_truth, scorer, window)
    return score_response(kind, scorer, response, ground_truth)[1]


_KIND_OF_SCORER = {name: kind for kind, names in SCORERS.items() for name in names}


def score_response(kind: str, scorer: str, response: str, answer: str | int) -> tuple[str | None, float]:
    """(extracted answer, score) of one response to a ``kind`` benchmark item (``gsm8k``, ``math``, ``mmlu``) with
    ground truth ``answer``, under ``scorer`` (one of ``SCORERS[kind]``). The extracted answer is the one the scorer
    compared: a canonical number (GSM8K), a LaTeX answer (MATH: box or fallback), a letter (MMLU), or None.

    A seed scorer (:data:`SEED_SCORERS`) compares strings exactly: ``answer`` must then be the seed's ground-truth
    string (:func:`rlscaling.rewards.seed.gsm8k_eval_truth` of the raw GSM8K answer, MATH's raw ``answer``; a
    letter or index for MMLU)."""
    if kind not in SCORERS:
        raise unknown("benchmark kind", kind, tuple(SCORERS))
    if scorer not in SCORERS[kind]:
        raise unknown(f"scorer for {kind}", scorer, SCORERS[kind])
    if scorer in SEED_SCORERS:
        return score_seed(scorer, response, truth_letter(answer) if kind == "mmlu" else str(answer))
    if kind == "gsm8k":
        extracted = extract_gsm8k(response, scorer)
        return extracted, 1.0 if extracted is not None and extracted == canonical_truth(answer) else 0.0
    if kind == "math":
        extracted = extract_math(response, scorer)
        return extracted, score_math_answer(extracted, ground_truth_answer(answer), timeout_s=5.0)
    extracted = extract_mmlu_letter(response)
    return extracted, 1.0 if extracted == truth_letter(answer) else 0.0


_GSM8K_SOURCES = ("openai/gsm8k", "gsm8k", "custom/gsm8k")  # custom/gsm8k: the seed's rows (seed_recipe.md (d))
_MATH_SOURCES = ("math", "hendrycks_math", "digitallearninggmbh/math-lighteval", "math500", "huggingfaceh4/math-500")
_MMLU_SOURCES = ("mmlu", "cais/mmlu")


def default_scorer(data_source: str) -> str:
    """The scorer a data source is scored with unless told otherwise; unknown sources -> ValueError."""
    source = data_source.lower() if isinstance(data_source, str) else ""
    if source in _GSM8K_SOURCES or source.startswith(("procedural", "gsm8k")):
        return "custom_flexible"
    if source in _MATH_SOURCES:
        return "math_verify"
    if source in _MMLU_SOURCES:
        return "mmlu_letter"
    raise ValueError(
        f"unknown data_source {data_source!r}; known: {', '.join(_GSM8K_SOURCES + _MATH_SOURCES + _MMLU_SOURCES)}, "
        "or any name starting with 'procedural' or 'gsm8k'"
    )


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None, **kwargs: Any
) -> float:
    """verl ``custom_reward_function`` entry point (``custom_reward_function.name=compute_score``).

    The scorer is ``extra_info["reward_mode"]`` if given (any of :data:`ALL_SCORERS`), else
    ``custom_flexible`` for GSM8K-like sources, ``math_verify`` for MATH, ``mmlu_letter`` for MMLU;
    ``extra_info["reward_window"]`` sets the GSM8K character window. Extra verl kwargs are ignored.
    """
    scorer = default_scorer(data_source)
    info = extra_info if isinstance(extra_info, dict) else {}
    return score(info.get("reward_mode") or scorer, solution_str, ground_truth, info.get("reward_window"))


def _completion_text(completion: Any) -> str:
    """Text of a TRL completion: a string, or a chat list of ``{"role", "content"}`` messages (joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts = []
    for message in completion or ():
        content = message.get("content") if isinstance(message, dict) else message
        if isinstance(content, list):  # multimodal-style [{"type": "text", "text": ...}]
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(content if isinstance(content, str) else "")
    return "".join(parts)


def make_reward_fn(mode: str, answer_key: str = "answer", mode_key: str = "reward_mode") -> Callable[..., list[float]]:
    """TRL reward function ``fn(prompts, completions, **kwargs) -> list[float]`` scoring with ``mode``.

    Ground truths arrive as the dataset column ``kwargs[answer_key]`` (one per completion); a dataset column
    ``kwargs[mode_key]``, when present, gives each row its own scorer (a row of another family than ``mode``'s, as
    verl's ``extra_info.reward_mode``; an empty entry: ``mode``). ``fn.__name__ == f"{mode}_reward"`` is what TRL
    logs.
    """
    if mode not in ALL_SCORERS:
        raise unknown("reward mode", mode, ALL_SCORERS)

    def reward_fn(prompts=None, completions=(), **kwargs: Any) -> list[float]:
        if answer_key not in kwargs:
            raise ValueError(f"reward {mode!r}: dataset column {answer_key!r} missing; got {sorted(kwargs)}")
        truths = kwargs[answer_key]
        if len(truths) != len(completions):
            raise ValueError(f"reward {mode!r}: {len(completions)} completions but {len(truths)} {answer_key!r}")
        modes = kwargs.get(mode_key) or [None] * len(truths)
        if len(modes) != len(completions):
            raise ValueError(f"reward {mode!r}: {len(completions)} completions but {len(modes)} {mode_key!r}")
        return [score(m or mode, _completion_text(c), t) for c, t, m in zip(completions, truths, modes)]

    reward_fn.__name__ = reward_fn.__qualname__ = f"{mode}_reward"
    return reward_fn
