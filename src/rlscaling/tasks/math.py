"""MATH: LaTeX answers (``\\boxed{...}``) checked by math-verify (last or first box) and the seed's string match.

Prompts: ``consistent`` (:func:`math_prompt`, ``Problem:``/``Solution:``) and the seed's 0-shot one
(:func:`seed_math_prompt`). Answers: non-empty LaTeX (:func:`check_answer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rlscaling.rewards import extract_boxed

from .answers import AnswerError, canonical_answer
from .prompt_parts import GSM8K_INSTRUCTION, raw_text, select_exemplars
from .registry import Family, Scorer, scored_by_rewards

KIND = "math"
MATH_INSTRUCTION = "Put your final answer within \\boxed{}."


def math_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]], shots: int, seed: int) -> str:
    """MATH prompt: exemplars ``Problem:``/``Solution:`` (solutions with ``\\boxed``), then the problem,
    ``MATH_INSTRUCTION`` asking for ``\\boxed{}`` and ``Solution:``."""
    blocks = []
    for ex in select_exemplars(item, pool, shots, seed):
        solution = (ex.get("solution") or "").strip() or f"The answer is $\\boxed{{{ex['answer']}}}$."
        blocks.append(f"Problem: {ex['question']}\nSolution: {solution}")
    blocks.append(f"Problem: {item['question']}\n{MATH_INSTRUCTION}\nSolution:")
    return "\n\n".join(blocks)


def seed_math_prompt(item: Mapping[str, Any], pool: Sequence[Mapping[str, Any]] | None = None, shots: int = 0) -> str:
    r"""The seed's MATH prompt: ``{problem}\n\n{I}`` (0-shot only; the seed has no few-shot MATH prompt;
    ``pool`` is not read)."""
    if shots:
        raise ValueError(f"the seed's MATH prompt is 0-shot only, got {shots} shots")
    return f"{raw_text(item, 'problem', 'question')}\n\n{GSM8K_INSTRUCTION}"


def check_answer(rec: dict) -> dict:
    """The record with its answer stripped (a number canonicalised); an empty answer, or one given as
    ``\\boxed{...}`` with an empty box -> :class:`AnswerError`."""
    answer = rec["answer"]
    boxed = extract_boxed(answer)
    if not answer.strip() or (boxed is not None and not boxed.strip()):
        raise AnswerError(f"MATH answer {answer!r} is empty")
    return {**rec, "answer": canonical_answer(answer)}


FAMILY = Family(
    kind=KIND,
    title="MATH",
    scorers=(
        Scorer("math_verify", scored_by_rewards(KIND, "math_verify"), label="math-verify"),
        Scorer("math_verify_first", scored_by_rewards(KIND, "math_verify_first")),
        Scorer(
            "seed_math",
            scored_by_rewards(KIND, "seed_math"),
            label="seed's MATH (custom flexible, string match)",
            seed=True,
        ),
    ),
    default_scorer="math_verify",
    seed_few_shot=False,  # the seed's MATH prompt is 0-shot only
    hub_names=("math",),
    prompt=math_prompt,
    seed_prompt=seed_math_prompt,
    check_answer=check_answer,
)
